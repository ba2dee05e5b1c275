#!/usr/bin/env python3
"""PyTorch eager baseline of one I-JEPA training step, for `ijepa bench train --baseline python`.

Written the way the official code (facebookresearch/ijepa: src/train.py, src/models/vision_transformer.py,
src/masks/utils.py, src/utils/tensors.py, src/helper.py) writes it: explicit attention softmax(q k^T * scale) @ v,
torch.autocast bf16 on CUDA only, torch.optim.AdamW with the four init_opt parameter groups, the per-parameter EMA
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
import resource
import statistics
import time
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open


# -- src/masks/utils.py, src/utils/tensors.py -------------------------------------------------------------------
def apply_masks(x, masks):
    all_x = []
    for m in masks:
        mask_keep = m.unsqueeze(-1).repeat(1, 1, x.size(-1))
        all_x += [torch.gather(x, dim=1, index=mask_keep)]
    return torch.cat(all_x, dim=0)


def repeat_interleave_batch(x, B, repeat):
    N = len(x) // B
    x = torch.cat([
        torch.cat([x[i*B:(i+1)*B] for _ in range(repeat)], dim=0)
        for i in range(N)
    ], dim=0)
    return x


def trunc_normal_(tensor, mean=0., std=1., a=-2., b=2.):
    return nn.init.trunc_normal_(tensor, mean=mean, std=std, a=a, b=b)


# -- src/models/vision_transformer.py ----------------------------------------------------------------------------
def get_2d_sincos_pos_embed(embed_dim, grid_size):
    grid_h = np.arange(grid_size, dtype=float)
    grid_w = np.arange(grid_size, dtype=float)
    grid = np.meshgrid(grid_w, grid_h)  # here w goes first
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_size, grid_size])
    emb_h = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[0])
    emb_w = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[1])
    return np.concatenate([emb_h, emb_w], axis=1)


def get_1d_sincos_pos_embed_from_grid(embed_dim, pos):
    omega = np.arange(embed_dim // 2, dtype=float)
    omega /= embed_dim / 2.
    omega = 1. / 10000**omega
    pos = pos.reshape(-1)
    out = np.einsum('m,d->md', pos, omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


class MLP(nn.Module):
    def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU, drop=0.):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        x = self.fc1(x)
        x = self.act(x)
        x = self.drop(x)
        x = self.fc2(x)
        x = self.drop(x)
        return x


class Attention(nn.Module):
    def __init__(self, dim, num_heads=8, qkv_bias=False, qk_scale=None, attn_drop=0., proj_drop=0.):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = qk_scale or head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        attn = self.attn_drop(attn)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        x = self.proj(x)
        x = self.proj_drop(x)
        return x, attn


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4., qkv_bias=False, qk_scale=None, drop=0., attn_drop=0.,
                 act_layer=nn.GELU, norm_layer=nn.LayerNorm):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias, qk_scale=qk_scale, attn_drop=attn_drop,
                              proj_drop=drop)
        self.drop_path = nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = MLP(in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer, drop=drop)

    def forward(self, x):
        y, attn = self.attn(self.norm1(x))
        x = x + self.drop_path(y)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


class PatchEmbed(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768):
        super().__init__()
        self.num_patches = (img_size // patch_size) * (img_size // patch_size)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


def _init_weights(m, init_std=0.02):
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=init_std)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)
    elif isinstance(m, nn.LayerNorm):
        nn.init.constant_(m.bias, 0)
        nn.init.constant_(m.weight, 1.0)
    elif isinstance(m, nn.Conv2d):
        trunc_normal_(m.weight, std=init_std)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)


class VisionTransformer(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0,
                 qkv_bias=True, norm_layer=nn.LayerNorm):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        num_patches = self.patch_embed.num_patches
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, embed_dim), requires_grad=False)
        pos_embed = get_2d_sincos_pos_embed(embed_dim, int(num_patches**.5))
        self.pos_embed.data.copy_(torch.from_numpy(pos_embed).float().unsqueeze(0))
        self.blocks = nn.ModuleList([
            Block(dim=embed_dim, num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, norm_layer=norm_layer)
            for _ in range(depth)])
        self.norm = norm_layer(embed_dim)
        self.apply(_init_weights)
        for layer_id, layer in enumerate(self.blocks):  # fix_init_weight (erased again by init_model)
            layer.attn.proj.weight.data.div_(math.sqrt(2.0 * (layer_id + 1)))
            layer.mlp.fc2.weight.data.div_(math.sqrt(2.0 * (layer_id + 1)))

    def forward(self, x, masks=None):
        if masks is not None and not isinstance(masks, list):
            masks = [masks]
        x = self.patch_embed(x)
        x = x + self.pos_embed
        if masks is not None:
            x = apply_masks(x, masks)
        for blk in self.blocks:
            x = blk(x)
        if self.norm is not None:
            x = self.norm(x)
        return x


class VisionTransformerPredictor(nn.Module):
    def __init__(self, num_patches, embed_dim=768, predictor_embed_dim=384, depth=6, num_heads=12, mlp_ratio=4.0,
                 qkv_bias=True, norm_layer=nn.LayerNorm, init_std=0.02):
        super().__init__()
        self.predictor_embed = nn.Linear(embed_dim, predictor_embed_dim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, predictor_embed_dim))
        self.predictor_pos_embed = nn.Parameter(torch.zeros(1, num_patches, predictor_embed_dim), requires_grad=False)
        pos = get_2d_sincos_pos_embed(predictor_embed_dim, int(num_patches**.5))
        self.predictor_pos_embed.data.copy_(torch.from_numpy(pos).float().unsqueeze(0))
        self.predictor_blocks = nn.ModuleList([
            Block(dim=predictor_embed_dim, num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                  norm_layer=norm_layer)
            for _ in range(depth)])
        self.predictor_norm = norm_layer(predictor_embed_dim)
        self.predictor_proj = nn.Linear(predictor_embed_dim, embed_dim, bias=True)
        trunc_normal_(self.mask_token, std=init_std)
        self.apply(_init_weights)

    def forward(self, x, masks_x, masks):
        if not isinstance(masks_x, list):
            masks_x = [masks_x]
        if not isinstance(masks, list):
            masks = [masks]
        B = len(x) // len(masks_x)
        x = self.predictor_embed(x)
        x_pos_embed = self.predictor_pos_embed.repeat(B, 1, 1)
        x += apply_masks(x_pos_embed, masks_x)
        _, N_ctxt, D = x.shape
        pos_embs = self.predictor_pos_embed.repeat(B, 1, 1)
        pos_embs = apply_masks(pos_embs, masks)
        pos_embs = repeat_interleave_batch(pos_embs, B, repeat=len(masks_x))
        pred_tokens = self.mask_token.repeat(pos_embs.size(0), pos_embs.size(1), 1)
        pred_tokens += pos_embs
        x = x.repeat(len(masks), 1, 1)
        x = torch.cat([x, pred_tokens], dim=1)
        for blk in self.predictor_blocks:
            x = blk(x)
        x = self.predictor_norm(x)
        x = x[:, N_ctxt:]
        x = self.predictor_proj(x)
        return x


PRESETS = {  # name: (embed_dim, depth, num_heads), mlp_ratio 4, qkv_bias, LayerNorm eps 1e-6
    'vit_tiny': (192, 12, 3), 'vit_small': (384, 12, 6), 'vit_base': (768, 12, 12),
    'vit_large': (1024, 24, 16), 'vit_huge': (1280, 32, 16),
}


# -- src/helper.py -------------------------------------------------------------------------------------------------
def init_model(device, patch_size, model_name, crop_size, pred_depth, pred_emb_dim):
    dim, depth, heads = PRESETS[model_name]
    encoder = VisionTransformer(img_size=crop_size, patch_size=patch_size, embed_dim=dim, depth=depth, num_heads=heads,
                                mlp_ratio=4, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6))
    predictor = VisionTransformerPredictor(num_patches=encoder.patch_embed.num_patches, embed_dim=dim,
                                           predictor_embed_dim=pred_emb_dim, depth=pred_depth, num_heads=heads,
                                           mlp_ratio=4, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6))

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
    # Official: bf16 autocast (CUDA). On the CPU fp32, unless the C++ side runs its --cpu-bf16 experiment.
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

    batches = []
    for i in range(total):
        batches.append((tensors[f'images.{i}'],
                        [tensors[f'masks_enc.{i}.{j}'] for j in range(nenc)],
                        [tensors[f'masks_pred.{i}.{j}'] for j in range(npred)]))

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
    times, losses = [], []
    profiler = None
    if meta.get('profile'):  # `ijepa bench train --profile`: a Chrome trace of the timed steps
        activities = [torch.profiler.ProfilerActivity.CPU]
        if device.type == 'cuda':
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        profiler = torch.profiler.profile(activities=activities, record_shapes=True)
    for itr in range(total):
        imgs, m_enc, m_pred = batches[itr]
        if profiler is not None and itr == warmup:
            profiler.start()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        loss = train_step(itr, imgs, m_enc, m_pred)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        dt = time.perf_counter() - t0
        if not math.isfinite(loss):
            raise SystemExit(f'train_baseline.py: loss is {loss} at step {itr + 1}')
        losses.append(loss)
        if itr >= warmup:
            times.append(dt)

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
