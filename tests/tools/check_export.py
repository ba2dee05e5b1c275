#!/usr/bin/env python3
"""Loads `ijepa export` folders with timm and Hugging Face transformers, runs them on the PNGs that `ijepa embed`
saw, and prints the largest relative differences from embed's features as JSON (the export test's independent side).

usage: check_export.py --timm DIR --hf DIR --tokens F.safetensors --pooled F.safetensors --images DIR
                       [--eval-images DIR --eval-pooled F.safetensors]
With --eval-images (images of another size than the model's, embedded with `--transform eval --pooled`), the
preprocessing each export declares (timm's pretrained_cfg through timm.data.create_transform, transformers'
preprocessor_config.json through AutoImageProcessor) is applied to the original files and the pooled features are
compared with the workbench's (they differ only by PIL's 8-bit resize against the workbench's float one).
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
p.add_argument("--eval-images")
p.add_argument("--eval-pooled")
args = p.parse_args()


def folder_files(root):
    """The images in the image-folder order (classes, then files, sorted)."""
    out = []
    for c in sorted(os.listdir(root)):
        out += [os.path.join(root, c, f) for f in sorted(os.listdir(os.path.join(root, c)))]
    return out


# Normalised as the workbench does.
files = folder_files(args.images)
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
    if args.eval_images:
        efiles = folder_files(args.eval_images)
        epool = load_file(args.eval_pooled)
        eidx = epool["indices"].tolist()
        data_cfg = timm.data.resolve_data_config({}, model=m)
        tf = timm.data.create_transform(**data_cfg)
        xt = torch.stack([tf(Image.open(efiles[i]).convert("RGB")) for i in eidx])
        out["timm_eval_pooled_rel"] = rel(m(xt), epool["features"])
        out["timm_data_config"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in data_cfg.items()}
        proc = transformers.AutoImageProcessor.from_pretrained(args.hf)
        xh = proc(images=[Image.open(efiles[i]).convert("RGB") for i in eidx], return_tensors="pt")["pixel_values"]
        out["hf_processor"] = type(proc).__name__
        out["hf_eval_pooled_rel"] = rel(hf(pixel_values=xh).last_hidden_state.mean(1), epool["features"])
out["warnings"] = [str(w.message) for w in caught if "missing" in str(w.message).lower() or "unexpected" in str(w.message).lower()]
print(json.dumps(out))
