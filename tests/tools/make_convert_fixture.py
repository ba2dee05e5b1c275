#!/usr/bin/env python3
"""Writes the fixtures of tests/tools/test_convert_checkpoint.cpp: official-format checkpoints, image folders and
reference features, made with the transcription of the official model in tests/fixtures/parity/make_parity.py.

For each case (CASES below) it writes OUT/<case>/:
  x.pth.tar        a checkpoint exactly as the official save_checkpoint writes it (src/train.py): a dict with
                   encoder, predictor, target_encoder (state dicts; with DDP's "module." prefix when world_size is
                   not 1, as there), opt (AdamW state
                   after one step), scaler, epoch, loss, batch_size, world_size, lr; torch.save's zip format
  imgs/<class>/<name>.png   2 classes, 6 RGB images of exactly S x S random pixels
  ref.safetensors  in the order the C++ image folder lists the images (classes sorted, then names, byte order):
                     input.images          float32 [N, 3, S, S]  (pixels / 255 - mean) / std, ImageNet constants
                     labels                int64 [N]
                     tokens.target, tokens.context   target_encoder(x), encoder(x)        [N, T, D]
                     pooled.target, pooled.context   the same, mean over tokens           [N, D]
                     masks.enc.0, masks.pred.0, masks.pred.1   int64 [N, K]
                     expected.pred         predictor(encoder(x, masks_enc), masks_enc, masks_pred)
                   and metadata "case" (the JSON of the case). The models run in float64 on the float32 input
                   (from the float32 weights); outputs are stored as float32.
and OUT/errors/ with inputs the converter must refuse (see make_errors; made from the "small" models).
The encoder and target_encoder get independent random weights, so the two groups cannot be confused.
Usage: make_convert_fixture.py --out DIR
"""
import argparse
import copy
import json
import os
import struct
import sys
import zlib

import torch
import torch.nn as nn
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'parity'))
from make_parity import LN, VisionTransformer, VisionTransformerPredictor, apply_masks, randomise  # noqa: E402

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# width 64 is no official preset width: the converter needs --num-heads 2 (its default would fail).
# width 192 is vit_tiny's: the converter takes 3 heads from the preset table.
# The official train.py wraps the models in DistributedDataParallel only when world_size != 1: "small" has the
# "module." prefix, "preset" (world_size 1) has none.
CASES = {
    'small': dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=2, mlp_ratio=3.0,
                  pred_embed_dim=32, pred_depth=2, epoch=7, seed=11, amp=True, world_size=2),
    'preset': dict(img_size=16, patch_size=4, embed_dim=192, depth=1, num_heads=3, mlp_ratio=4.0,
                   pred_embed_dim=48, pred_depth=1, epoch=3, seed=12, amp=False, world_size=1),
}
IMAGES = {'alpha': ['img10.png', 'img2.png', 'x.png'], 'beta': ['B.png', 'a.png', 'c0.png']}


class DDP(nn.Module):
    """Stands in for DistributedDataParallel: its state_dict keys carry the "module." prefix."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def write_png(path, pixels):
    """pixels: uint8 tensor [H, W, 3] -> an 8-bit RGB PNG (no filter), without PIL."""
    h, w, _ = pixels.shape
    raw = b''.join(b'\x00' + bytes(pixels[r].contiguous().view(-1).tolist()) for r in range(h))

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
    png = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
           chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))
    with open(path, 'wb') as f:
        f.write(png)


def official_save(path, encoder, predictor, target_encoder, opt, scaler, epoch, loss, batch_size, world_size, lr):
    """src/train.py save_checkpoint, verbatim in its dict layout."""
    save_dict = {
        'encoder': encoder.state_dict(),
        'predictor': predictor.state_dict(),
        'target_encoder': target_encoder.state_dict(),
        'opt': opt.state_dict(),
        'scaler': None if scaler is None else scaler,
        'epoch': epoch,
        'loss': loss,
        'batch_size': batch_size,
        'world_size': world_size,
        'lr': lr,
    }
    torch.save(save_dict, path)


def build(c, gen):
    grid = c['img_size'] // c['patch_size']
    enc = VisionTransformer(img_size=[c['img_size']], patch_size=c['patch_size'], in_chans=3,
                            embed_dim=c['embed_dim'], depth=c['depth'], num_heads=c['num_heads'],
                            mlp_ratio=c['mlp_ratio'], qkv_bias=True, norm_layer=LN)
    pred = VisionTransformerPredictor(num_patches=grid * grid, embed_dim=c['embed_dim'],
                                      predictor_embed_dim=c['pred_embed_dim'], depth=c['pred_depth'],
                                      num_heads=c['num_heads'], mlp_ratio=4.0, qkv_bias=True, norm_layer=LN)
    randomise(enc, gen)
    randomise(pred, gen)
    target = copy.deepcopy(enc)
    randomise(target, gen)  # independent of the context encoder
    for p in target.parameters():
        p.requires_grad = False
    return enc, pred, target


def make_case(out, name, c):
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(c['seed'])
    enc, pred, target = build(c, gen)
    S = c['img_size']
    n = (S // c['patch_size']) ** 2

    # One optimiser step, as after an epoch: the official AdamW groups (src/helper.py init_opt).
    params = [p for m in (enc, pred) for p in m.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim != 1]
    no_decay = [p for p in params if p.ndim == 1]
    opt = torch.optim.AdamW([{'params': decay}, {'params': no_decay, 'WD_exclude': True, 'weight_decay': 0}],
                            lr=1e-6)
    loss = sum((p.float() ** 2).mean() for p in params)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    scaler = ({'scale': 65536.0, 'growth_factor': 2.0, 'backoff_factor': 0.5, 'growth_interval': 2000,
               '_growth_tracker': 0} if c['amp'] else None)
    wrap = DDP if c['world_size'] != 1 else (lambda m: m)
    official_save(os.path.join(out, 'x.pth.tar'), wrap(enc), wrap(pred), wrap(target), opt, scaler,
                  epoch=c['epoch'], loss=0.125, batch_size=len(sum(IMAGES.values(), [])),
                  world_size=c['world_size'], lr=1e-6)

    # Image folder and the normalised input, in the order of host/src/data/image_folder.cpp.
    pixels, labels = [], []
    for label, cls in enumerate(sorted(IMAGES)):
        os.makedirs(os.path.join(out, 'imgs', cls), exist_ok=True)
        for fname in sorted(IMAGES[cls]):
            px = torch.randint(0, 256, (S, S, 3), generator=gen, dtype=torch.uint8)
            write_png(os.path.join(out, 'imgs', cls, fname), px)
            pixels.append(px)
            labels.append(label)
    x = torch.stack(pixels).permute(0, 3, 1, 2).to(torch.float32) / 255.0
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    x = ((x - mean) / std).contiguous()
    B = x.shape[0]
    masks_enc = [torch.stack([torch.randperm(n, generator=gen)[:n // 2].sort().values for _ in range(B)])]
    masks_pred = [torch.stack([torch.randperm(n, generator=gen)[:2].sort().values for _ in range(B)])
                  for _ in range(2)]

    with torch.no_grad():
        x64 = x.double()
        e64, t64, p64 = copy.deepcopy(enc).double(), copy.deepcopy(target).double(), copy.deepcopy(pred).double()
        tok_t = t64(x64)
        tok_c = e64(x64)
        z = e64(x64, masks_enc)
        pr = p64(z.float().double(), masks_enc, masks_pred)
        # sanity: the float32 model agrees with the float64 reference (what "1e-5 in fp32" presumes)
        tok32 = target(x)
        rel = ((tok32.double() - tok_t).norm() / tok_t.norm()).item()
        assert rel < 1e-5, rel
        assert apply_masks(tok_c, masks_enc).shape[1] == n // 2

    ref = {'input.images': x, 'labels': torch.tensor(labels, dtype=torch.int64),
           'tokens.target': tok_t.float(), 'tokens.context': tok_c.float(),
           'pooled.target': tok_t.mean(dim=1).float(), 'pooled.context': tok_c.mean(dim=1).float(),
           'masks.enc.0': masks_enc[0], 'masks.pred.0': masks_pred[0], 'masks.pred.1': masks_pred[1],
           'expected.pred': pr.float()}
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(out, 'ref.safetensors'),
              metadata={'case': json.dumps(dict(c, name=name))})
    return enc, pred, target


def make_errors(out, enc, pred, target):
    """Inputs the converter must refuse (one line, exit 2), and one it accepts only with --trust-pickle."""
    os.makedirs(out, exist_ok=True)
    good = {'encoder': DDP(enc).state_dict(), 'predictor': DDP(pred).state_dict(),
            'target_encoder': DDP(target).state_dict(), 'epoch': 1}
    torch.save([1, 2, 3], os.path.join(out, 'list.pth.tar'))                       # not a dict
    torch.save(DDP(enc).state_dict(), os.path.join(out, 'state_dict.pth.tar'))     # a bare state dict
    torch.save({k: v for k, v in good.items() if k != 'predictor'}, os.path.join(out, 'no_predictor.pth.tar'))
    bad = copy.copy(good)
    bad['encoder'] = dict(good['encoder'])
    bad['encoder']['module.blocks.0.attn.qkv.weight'] = [1.0, 2.0]               # a non-tensor entry
    torch.save(bad, os.path.join(out, 'non_tensor.pth.tar'))
    bad = copy.copy(good)
    bad['target_encoder'] = dict(good['target_encoder'])
    bad['target_encoder']['module.norm.weight'] = torch.ones(8)                    # differs from the encoder
    torch.save(bad, os.path.join(out, 'mismatch.pth.tar'))
    pick = dict(good, args=argparse.Namespace(model_name='vit_tiny'))             # needs a full unpickler
    torch.save(pick, os.path.join(out, 'pickled.pth.tar'))
    with open(os.path.join(out, 'garbage.pth.tar'), 'wb') as f:
        f.write(b'not a checkpoint at all\n' * 4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    tmp = args.out.rstrip('/') + '.tmp'
    if os.path.isdir(tmp):
        import shutil
        shutil.rmtree(tmp)
    made = {}
    for name, c in CASES.items():
        made[name] = make_case(os.path.join(tmp, name), name, c)
    make_errors(os.path.join(tmp, 'errors'), *made['small'])
    with open(os.path.join(tmp, 'STAMP'), 'w') as f:
        f.write(f'torch {torch.__version__}\n')
    if os.path.isdir(args.out):
        import shutil
        shutil.rmtree(args.out)
    os.replace(tmp, args.out)


if __name__ == '__main__':
    main()
