#!/usr/bin/env python3
"""torchvision baseline of `ijepa bench data --baseline torchvision`.

ImageFolder + DataLoader with the transform of the official I-JEPA pretraining minus its optional extras:
RandomResizedCrop(N, scale=(0.3, 1.0)), ToTensor, Normalize(ImageNet mean/std); num_workers=W, batch B,
shuffle=True, drop_last=True (PIL decoding, the default loader). Warm-up batches are excluded; the timed window is a
fixed number of seconds or batches. Writes a JSON result (images_per_s, images, batches, seconds, ...) to --out.

Run by hand: python bench/data_baseline.py --root ~/.cache/ijepa-workbench/datasets/imagenette224/train \
    --image-size 224 --workers 2 --batch 64 --seconds 20 --out result.json
"""
import argparse
import json
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="image folder (ROOT/<class>/<image>)")
    ap.add_argument("--image-size", type=int, required=True)
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=2, help="batches skipped before timing")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--batches", type=int, default=0, help="time this many batches instead of --seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    import torch
    import torchvision
    from torchvision import datasets, transforms

    torch.manual_seed(a.seed)
    tf = transforms.Compose([
        transforms.RandomResizedCrop(a.image_size, scale=(0.3, 1.0)),
        transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])
    ds = datasets.ImageFolder(a.root, transform=tf)
    if len(ds) < a.batch:
        print(f"data_baseline: {len(ds)} images in {a.root} are fewer than one batch of {a.batch}", file=sys.stderr)
        return 1
    loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, drop_last=True,
                                         num_workers=a.workers, persistent_workers=a.workers > 0)

    def batches():
        while True:  # epochs back to back, like the C++ loader
            for b in loader:
                yield b

    it = batches()
    for _ in range(a.warmup):
        next(it)
    images = n = 0
    t0 = time.perf_counter()
    elapsed = 0.0
    while (n < a.batches) if a.batches > 0 else (elapsed < a.seconds):
        x, _ = next(it)
        images += x.shape[0]
        n += 1
        elapsed = time.perf_counter() - t0
    res = {"images_per_s": images / elapsed if elapsed > 0 else 0.0, "images": images, "batches": n,
           "seconds": elapsed, "images_in_folder": len(ds), "workers": a.workers, "batch": a.batch,
           "torch": torch.__version__, "torchvision": torchvision.__version__}
    with open(a.out, "w") as f:
        json.dump(res, f)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
