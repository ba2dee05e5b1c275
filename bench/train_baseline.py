#!/usr/bin/env python3
"""PyTorch eager baseline of one I-JEPA training step, for `ijepa bench train --baseline python`.

Written the way the official code (facebookresearch/ijepa: src/train.py, src/helper.py; the model is
official_model.py, the transcription the C++ ViT's parity test also uses) writes it: explicit attention
softmax(q k^T * scale) @ v, torch.autocast bf16 on CUDA only, torch.optim.AdamW with the four init_opt parameter groups, the per-parameter EMA
loop, the target path with F.layer_norm + apply_masks + repeat_interleave_batch, and smooth_l1 loss.

Differences from src/train.py, all outside the step's maths: no DDP/AllReduce (one process), no GradScaler (it
only skips non-finite bf16 steps; the C++ trainer has none), no grad_logger statistics, no CSV logging.

Input: a safetensors file written by the C++ command (images.<i>, masks_enc.<i>.<j>, masks_pred.<i>.<j>,
schedule [steps, 3] = lr, wd, ema momentum, optionally the initial weights encoder.* / predictor.* /
target_encoder.* under the official key names; the metadata names the model). Output: a JSON file.
"""
import argparse
import copy
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from official_model import (LN, PRESETS, VisionTransformer, VisionTransformerPredictor,  # noqa: E402
                            apply_masks, repeat_interleave_batch, trunc_normal_)


# -- src/helper.py -------------------------------------------------------------------------------------------------
def init_model(device, patch_size, model_name, crop_size, pred_depth, pred_emb_dim):
    dim, depth, heads, ratio = PRESETS[model_name]
    encoder = VisionTransformer(img_size=[crop_size], patch_size=patch_size, embed_dim=dim, depth=depth,
                                num_heads=heads, mlp_ratio=ratio, qkv_bias=True, norm_layer=LN)
    predictor = VisionTransformerPredictor(num_patches=encoder.patch_embed.num_patches, embed_dim=dim,
                                           predictor_embed_dim=pred_emb_dim, depth=pred_depth, num_heads=heads,
                                           mlp_ratio=ratio, qkv_bias=True, norm_layer=LN)

    def init_weights(m):
        if isinstance(m, torch.nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                torch.nn.init.constant_(m.bias, 0)
        elif isinstance(m, torch.nn.LayerNorm):
            torch.nn.init.constant_(m.bias, 0)
            torch.nn.init.constant_(m.weight, 1.0)

    for m in encoder.modules():
        init_weights(m)
    for m in predictor.modules():
        init_weights(m)
    return encoder.to(device), predictor.to(device)


def init_opt(encoder, predictor):
    param_groups = [
        {'params': (p for n, p in encoder.named_parameters() if ('bias' not in n) and (len(p.shape) != 1))},
        {'params': (p for n, p in predictor.named_parameters() if ('bias' not in n) and (len(p.shape) != 1))},
        {'params': (p for n, p in encoder.named_parameters() if ('bias' in n) or (len(p.shape) == 1)),
         'WD_exclude': True, 'weight_decay': 0},
        {'params': (p for n, p in predictor.named_parameters() if ('bias' in n) or (len(p.shape) == 1)),
         'WD_exclude': True, 'weight_decay': 0},
    ]
    return torch.optim.AdamW(param_groups)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--inputs', required=True, help='safetensors file written by `ijepa bench train`')
    ap.add_argument('--out', required=True, help='JSON result file')
    args = ap.parse_args()

    with safe_open(args.inputs, framework='pt') as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    steps, warmup = int(meta['steps']), int(meta['warmup'])
    total = steps + warmup
    nenc, npred = int(meta['nenc']), int(meta['npred'])
    torch.set_num_threads(int(meta['threads']))  # the same intra-op thread count as the C++ side
    torch.manual_seed(int(meta['seed']))
    device = torch.device(meta['device'])
    # Official: bf16 autocast (CUDA). On the CPU fp32, unless the C++ side asks for CPU bf16 too (--cpu-bf16).
    use_bfloat16 = device.type == 'cuda' or meta.get('cpu_bf16') == '1'

    encoder, predictor = init_model(device, int(meta['patch']), meta['model'], int(meta['image_size']),
                                    int(meta['pred_depth']), int(meta['pred_dim']))
    target_encoder = copy.deepcopy(encoder)
    if meta.get('weights') == '1':
        for prefix, module in (('encoder.', encoder), ('predictor.', predictor), ('target_encoder.', target_encoder)):
            module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)},
                                   strict=True)
    optimizer = init_opt(encoder, predictor)
    for p in target_encoder.parameters():
        p.requires_grad = False
    schedule = tensors['schedule'].tolist()

    # Pinned on CUDA, as the official DataLoader(pin_memory=True) hands them over.
    pin = (lambda t: t.pin_memory()) if device.type == 'cuda' else (lambda t: t)
    batches = []
    for i in range(total):
        batches.append((pin(tensors[f'images.{i}']),
                        [pin(tensors[f'masks_enc.{i}.{j}']) for j in range(nenc)],
                        [pin(tensors[f'masks_pred.{i}.{j}']) for j in range(npred)]))

    def train_step(itr, udata, masks_enc, masks_pred):
        # scheduler.step() / wd_scheduler.step() (values precomputed by the C++ side from the same formulas)
        _new_lr, _new_wd, m = schedule[itr]
        for group in optimizer.param_groups:
            group['lr'] = _new_lr
            if ('WD_exclude' not in group) or not group['WD_exclude']:
                group['weight_decay'] = _new_wd

        def load_imgs():
            imgs = udata.to(device, non_blocking=True)
            masks_1 = [u.to(device, non_blocking=True) for u in masks_enc]
            masks_2 = [u.to(device, non_blocking=True) for u in masks_pred]
            return (imgs, masks_1, masks_2)
        imgs, masks_enc_d, masks_pred_d = load_imgs()

        def forward_target():
            with torch.no_grad():
                h = target_encoder(imgs)
                h = F.layer_norm(h, (h.size(-1),))  # normalize over feature-dim
                B = len(h)
                # -- create targets (masked regions of h)
                h = apply_masks(h, masks_pred_d)
                h = repeat_interleave_batch(h, B, repeat=len(masks_enc_d))
                return h

        def forward_context():
            z = encoder(imgs, masks_enc_d)
            z = predictor(z, masks_enc_d, masks_pred_d)
            return z

        def loss_fn(z, h):
            return F.smooth_l1_loss(z, h)

        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bfloat16):
            h = forward_target()
            z = forward_context()
            loss = loss_fn(z, h)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        # Step 3. momentum update of target encoder
        with torch.no_grad():
            for param_q, param_k in zip(encoder.parameters(), target_encoder.parameters()):
                param_k.data.mul_(m).add_((1.-m) * param_q.detach().data)
        return float(loss.detach())  # the official `float(loss)`, without the requires_grad warning

    encoder.train()
    predictor.train()
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    losses = []
    profiler = None
    if meta.get('profile'):  # `ijepa bench train --profile`: a Chrome trace of the timed steps
        activities = [torch.profiler.ProfilerActivity.CPU]
        if device.type == 'cuda':
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        profiler = torch.profiler.profile(activities=activities, record_shapes=True)
    # Step times as `ijepa bench train` takes them: CUDA events at the step boundaries, read after the loop (the
    # official train_step's own float(loss) still waits for the GPU each step); the host clock on the CPU.
    cuda = device.type == 'cuda'
    if cuda:
        torch.cuda.synchronize(device)
    marks = []

    def mark():
        if cuda:
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            marks.append(e)
        else:
            marks.append(time.perf_counter())

    for itr in range(total):
        imgs, m_enc, m_pred = batches[itr]
        if profiler is not None and itr == warmup:
            profiler.start()
        mark()
        loss = train_step(itr, imgs, m_enc, m_pred)
        if not math.isfinite(loss):
            raise SystemExit(f'train_baseline.py: loss is {loss} at step {itr + 1}')
        losses.append(loss)
    mark()
    if cuda:
        torch.cuda.synchronize(device)
        step_s = [a.elapsed_time(b) / 1000.0 for a, b in zip(marks, marks[1:])]
    else:
        step_s = [b - a for a, b in zip(marks, marks[1:])]
    times = step_s[warmup:]

    if profiler is not None:
        profiler.stop()
        profiler.export_chrome_trace(meta['profile'])
    med = statistics.median(times)
    batch = int(meta['batch'])
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = {'images_per_s': batch / med, 'median_step_s': med, 'step_s': times, 'losses': losses,
              'peak_bytes': peak, 'threads': torch.get_num_threads(), 'torch': torch.__version__,
              'device': str(device)}
    with open(args.out, 'w') as f:
        json.dump(result, f)
    print(f'train_baseline.py: {batch / med:.4g} images/s (median {med:.4g} s over {steps} steps)')


if __name__ == '__main__':
    main()
