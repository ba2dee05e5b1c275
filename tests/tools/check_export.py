#!/usr/bin/env python3
"""Loads `ijepa export` folders with timm and Hugging Face transformers, runs them on the PNGs that `ijepa embed`
saw, and prints the largest relative differences from embed's features as JSON (the export test's independent side).

usage: check_export.py --timm DIR --hf DIR --tokens F.safetensors --pooled F.safetensors --images DIR
exit 3 when timm or transformers is missing (the test skips).
"""
import argparse
import json
import os
import sys
import warnings

try:
    import numpy as np
    import timm
    import torch
    import transformers
    from PIL import Image
    from safetensors.torch import load_file
except ImportError as e:
    print(f"missing package: {e}", file=sys.stderr)
    sys.exit(3)

p = argparse.ArgumentParser()
for a in ("--timm", "--hf", "--tokens", "--pooled", "--images"):
    p.add_argument(a, required=True)
args = p.parse_args()

# The images in the image-folder order (classes, then files, sorted), normalised as the workbench does.
files = []
for c in sorted(os.listdir(args.images)):
    files += [os.path.join(args.images, c, f) for f in sorted(os.listdir(os.path.join(args.images, c)))]
tok = load_file(args.tokens)
pool = load_file(args.pooled)
idx = tok["indices"].tolist()
mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
x = np.stack([(np.asarray(Image.open(files[i]).convert("RGB"), dtype=np.float32) / 255.0 - mean) / std for i in idx])
x = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


out = {"images": len(idx)}
torch.set_grad_enabled(False)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    m = timm.create_model("local-dir:" + args.timm, pretrained=True, num_classes=0).eval()
    cfg = json.load(open(os.path.join(args.timm, "config.json")))
    strict = timm.create_model(cfg["architecture"], pretrained=False, num_classes=0, **cfg["model_args"])
    missing, unexpected = strict.load_state_dict(load_file(os.path.join(args.timm, "model.safetensors")), strict=True)
    out["timm_strict_missing"], out["timm_strict_unexpected"] = list(missing), list(unexpected)
    out["timm_tokens_rel"] = rel(m.forward_features(x), tok["features"])
    out["timm_pooled_rel"] = rel(m(x), pool["features"])
    out["timm_num_features"] = m.num_features

    transformers.logging.set_verbosity_warning()
    hf, info = transformers.IJepaModel.from_pretrained(args.hf, output_loading_info=True)
    hf.eval()
    out["hf_missing"] = list(info["missing_keys"])
    out["hf_unexpected"] = list(info["unexpected_keys"])
    out["hf_mismatched"] = [str(k) for k in info.get("mismatched_keys", [])]
    h = hf(pixel_values=x).last_hidden_state
    out["hf_tokens_rel"] = rel(h, tok["features"])
    out["hf_pooled_rel"] = rel(h.mean(1), pool["features"])
out["warnings"] = [str(w.message) for w in caught if "missing" in str(w.message).lower() or "unexpected" in str(w.message).lower()]
print(json.dumps(out))
