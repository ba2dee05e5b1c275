#!/usr/bin/env python3
"""Convert an official I-JEPA checkpoint (facebookresearch/ijepa, ``.pth.tar``) to one safetensors file.

Usage (with the project venv's Python, which has torch and safetensors):

    python tools/convert_checkpoint.py IN1K-vit.h.14-300e.pth.tar --out vith14.safetensors
    python tools/convert_checkpoint.py jepa-latest.pth.tar --out tiny.safetensors --num-heads 2
    python tools/convert_checkpoint.py ckpt.pth.tar --out enc.safetensors --groups target_encoder

Input: the dict written by the official ``save_checkpoint`` (``encoder``, ``predictor``, ``target_encoder`` state
dicts, usually with DDP's ``module.`` prefix, plus ``opt``, ``scaler``, ``epoch``, ``loss``, ``batch_size``,
``world_size``, ``lr``). It is read with ``torch.load(weights_only=True)``; a file that needs arbitrary unpickling is
refused unless ``--trust-pickle`` is given (unpickling an untrusted file can run any code).

Output: tensors ``encoder.<key>``, ``predictor.<key>``, ``target_encoder.<key>`` (``module.`` stripped; float32,
contiguous) and string metadata ``format`` = "ijepa-official-converted", ``source`` (file name), ``source_sha256``,
``epoch`` and ``config``: a JSON experiment fragment with ``components.encoder`` (type ``vit``),
``components.predictor`` (type ``vit_predictor``, when written) and ``data.image_size``, inferred from the weight
shapes, so ``ijepa eval`` / ``ijepa embed --checkpoint FILE`` rebuild the models without a config file. The heads
are not visible in the weights: they come from the official preset of the width (192: 3, 384: 6, 768: 12,
1024/1280/1408: 16), or from ``--num-heads`` (required for other widths); the predictor uses the encoder's heads,
as the official code does.

The output is written to a temporary file beside it and renamed: a failure never leaves a partial file.
Errors are one line on stderr, exit status 2.
"""
import argparse
import hashlib
import json
import math
import os
import re
import sys
import tempfile

GROUPS = ('encoder', 'predictor', 'target_encoder')
FORMAT = 'ijepa-official-converted'
# The official vit_* factories (src/models/vision_transformer.py): width -> (preset, heads).
PRESET_BY_WIDTH = {192: ('vit_tiny', 3), 384: ('vit_small', 6), 768: ('vit_base', 12), 1024: ('vit_large', 16),
                   1280: ('vit_huge', 16), 1408: ('vit_giant', 16)}
PREFIX = 'module.'


class ConvertError(Exception):
    """A one-line, user-facing error (exit status 2)."""


def _keys_found(d, limit=12):
    keys = [str(k) for k in d.keys()]
    shown = ', '.join(keys[:limit]) + (f', ... ({len(keys)} keys)' if len(keys) > limit else '')
    return shown or 'none'


def _sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def _first_line(e):
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__).strip()


def _unpickler_reason(e):
    """The useful clause of torch's multi-paragraph weights_only error, on one line."""
    text = ' '.join(str(e).split())
    tag = 'WeightsUnpickler error:'
    if tag in text:
        text = text[text.index(tag) + len(tag):].strip()
        text = text.split('. ')[0].split(' Check the documentation')[0].rstrip('.')
    return text[:200] or type(e).__name__


def load_checkpoint(path, trust_pickle):
    import pickle
    import warnings
    import zipfile
    is_zip = zipfile.is_zipfile(path)
    if not is_zip:  # torch.save's format is a zip archive; the legacy one a pickle (PROTO opcode 0x80)
        with open(path, 'rb') as f:
            head = f.read(2)
        if len(head) < 2 or head[0] != 0x80:
            raise ConvertError(f'{path}: not a torch checkpoint (neither a torch.save zip archive nor a pickle)')
    # mmap (zip archives only): tensors are read on use, so the optimiser state never occupies memory.
    kw = dict(map_location='cpu', mmap=True) if is_zip else dict(map_location='cpu')
    import torch  # after the cheap checks: importing torch takes seconds
    with warnings.catch_warnings():  # torch warns about pickle protocols on stderr: keep errors one line
        warnings.simplefilter('ignore')
        try:
            return torch.load(path, weights_only=True, **kw)
        except pickle.UnpicklingError as e:
            if 'weights only load failed' not in str(e).lower():
                raise ConvertError(f'{path}: not a torch checkpoint ({_first_line(e)})') from None
            if not trust_pickle:
                raise ConvertError(
                    f'{path}: torch.load(weights_only=True) refused it ({_unpickler_reason(e)}); unpickling other '
                    f'objects than tensors and plain containers can run arbitrary code: rerun with --trust-pickle '
                    f'only if you trust the file') from None
        except Exception as e:  # zip/pickle framing errors of a file that is not a torch checkpoint
            raise ConvertError(f'{path}: not a torch checkpoint ({type(e).__name__}: {_first_line(e)})') from None
        try:
            return torch.load(path, weights_only=False, **kw)
        except Exception as e:
            raise ConvertError(f'{path}: not loadable even with --trust-pickle ({type(e).__name__}: '
                               f'{_first_line(e)})') from None


def strip_group(path, name, sd):
    """name -> {key without 'module.': float32 contiguous tensor}."""
    import torch
    from collections.abc import Mapping
    if not isinstance(sd, Mapping):
        raise ConvertError(f"{path}: group '{name}' is a {type(sd).__name__}, not a state dict")
    out = {}
    for k, v in sd.items():
        if not isinstance(k, str):
            raise ConvertError(f"{path}: group '{name}' has a non-string key {k!r}")
        if not isinstance(v, torch.Tensor):
            raise ConvertError(f"{path}: {name}.{k} is a {type(v).__name__}, not a tensor")
        if not (v.is_floating_point()):
            raise ConvertError(f'{path}: {name}.{k} has dtype {v.dtype}; expected floating-point weights')
        key = k[len(PREFIX):] if k.startswith(PREFIX) else k
        if key in out:
            raise ConvertError(f"{path}: group '{name}' has both '{key}' and '{PREFIX}{key}'")
        out[key] = v.detach()
    if not out:
        raise ConvertError(f"{path}: group '{name}' is empty")
    return out


def _shape(sd, name, key, ndim, path):
    if key not in sd:
        raise ConvertError(f'{path}: {name}.{key} is missing (keys: {_keys_found(sd)})')
    s = tuple(sd[key].shape)
    if len(s) != ndim:
        raise ConvertError(f'{path}: {name}.{key} has shape {list(s)}, expected {ndim} dimensions')
    return s


def _depth(sd, name, block_prefix, path):
    pat = re.compile(re.escape(block_prefix) + r'\.(\d+)\.')
    idx = sorted({int(m.group(1)) for k in sd for m in [pat.match(k)] if m})
    if not idx:
        raise ConvertError(f'{path}: {name} has no {block_prefix}.<i>.* weights')
    if idx != list(range(len(idx))):
        raise ConvertError(f'{path}: {name}.{block_prefix} indices are not 0..{len(idx) - 1} (found {idx})')
    return len(idx)


def _mlp_ratio(dim, hidden, name, path):
    """A ratio r with int(dim * r) == hidden, as the C++ plugins and the official Block compute the width."""
    for r in (4.0, 48 / 11):  # the official ratios, when they give this width
        if int(dim * r) == hidden:
            return r
    r = hidden / dim
    for _ in range(4):
        if int(dim * r) == hidden:
            return r
        r = math.nextafter(r, math.inf)
    raise ConvertError(f'{path}: {name} MLP width {hidden} is not int({dim} * r) for any float r')


def _block_shapes(prefix, dim, hidden):
    return {
        f'{prefix}.norm1.weight': (dim,), f'{prefix}.norm1.bias': (dim,),
        f'{prefix}.attn.qkv.weight': (3 * dim, dim), f'{prefix}.attn.qkv.bias': (3 * dim,),
        f'{prefix}.attn.proj.weight': (dim, dim), f'{prefix}.attn.proj.bias': (dim,),
        f'{prefix}.norm2.weight': (dim,), f'{prefix}.norm2.bias': (dim,),
        f'{prefix}.mlp.fc1.weight': (hidden, dim), f'{prefix}.mlp.fc1.bias': (hidden,),
        f'{prefix}.mlp.fc2.weight': (dim, hidden), f'{prefix}.mlp.fc2.bias': (dim,),
    }


def _check_exact(sd, expected, name, path, what):
    """The group must hold exactly the expected keys and shapes (what the C++ module registers)."""
    for k, shape in expected.items():
        if k not in sd:
            raise ConvertError(f'{path}: {name}.{k} is missing for the inferred {what}')
        if tuple(sd[k].shape) != tuple(shape):
            raise ConvertError(f'{path}: {name}.{k} has shape {list(sd[k].shape)}, the inferred {what} needs '
                               f'{list(shape)}')
    extra = sorted(set(sd) - set(expected))
    if extra:
        raise ConvertError(f'{path}: {name}.{extra[0]} is not a parameter of the inferred {what}'
                           + (f' (and {len(extra) - 1} more)' if len(extra) > 1 else ''))


def infer_encoder(sd, name, num_heads, path):
    d, c, p, p2 = _shape(sd, name, 'patch_embed.proj.weight', 4, path)
    if p != p2:
        raise ConvertError(f'{path}: {name}.patch_embed.proj.weight has non-square patches {p}x{p2}')
    _, n, d2 = _shape(sd, name, 'pos_embed', 3, path)
    grid = math.isqrt(n)
    if grid * grid != n or d2 != d:
        raise ConvertError(f'{path}: {name}.pos_embed has shape {list(sd["pos_embed"].shape)}; expected '
                           f'[1, G*G, {d}]')
    depth = _depth(sd, name, 'blocks', path)
    hidden = _shape(sd, name, 'blocks.0.mlp.fc1.weight', 2, path)[0]
    ratio = _mlp_ratio(d, hidden, name, path)
    preset = PRESET_BY_WIDTH.get(d)
    if num_heads is None:
        if preset is None:
            widths = ', '.join(str(w) for w in PRESET_BY_WIDTH)
            raise ConvertError(f'{path}: {name} width {d} is not an official preset width ({widths}); the heads are '
                               f'not in the weights: pass --num-heads')
        num_heads = preset[1]
    if num_heads <= 0 or d % num_heads != 0:
        raise ConvertError(f'{path}: --num-heads {num_heads} does not divide the {name} width {d}')
    if d % 4 != 0:
        raise ConvertError(f'{path}: {name} width {d} is not divisible by 4 (2-D sin-cos position embedding)')
    expected = {'patch_embed.proj.weight': (d, c, p, p), 'patch_embed.proj.bias': (d,), 'pos_embed': (1, n, d),
                'norm.weight': (d,), 'norm.bias': (d,)}
    for i in range(depth):
        expected.update(_block_shapes(f'blocks.{i}', d, hidden))
    _check_exact(sd, expected, name, path, f'ViT (width {d}, depth {depth}, MLP {hidden})')
    return {'type': 'vit', 'preset': preset[0] if preset else 'vit_tiny', 'img_size': grid * p, 'patch_size': p,
            'in_chans': c, 'embed_dim': d, 'depth': depth, 'num_heads': num_heads, 'mlp_ratio': ratio}


def infer_predictor(sd, enc, path):
    name = 'predictor'
    dp, d = _shape(sd, name, 'predictor_embed.weight', 2, path)
    if d != enc['embed_dim']:
        raise ConvertError(f'{path}: predictor.predictor_embed.weight takes width {d}, the encoder has '
                           f'{enc["embed_dim"]}')
    out_dim = _shape(sd, name, 'predictor_proj.weight', 2, path)[0]
    n = (enc['img_size'] // enc['patch_size']) ** 2
    depth = _depth(sd, name, 'predictor_blocks', path)
    hidden = _shape(sd, name, 'predictor_blocks.0.mlp.fc1.weight', 2, path)[0]
    ratio = _mlp_ratio(dp, hidden, name, path)
    heads = enc['num_heads']
    if dp % 4 != 0 or dp % heads != 0:
        raise ConvertError(f'{path}: predictor width {dp} must be divisible by 4 and by the encoder heads {heads}')
    expected = {'predictor_embed.weight': (dp, d), 'predictor_embed.bias': (dp,), 'mask_token': (1, 1, dp),
                'predictor_pos_embed': (1, n, dp), 'predictor_norm.weight': (dp,), 'predictor_norm.bias': (dp,),
                'predictor_proj.weight': (out_dim, dp), 'predictor_proj.bias': (out_dim,)}
    for i in range(depth):
        expected.update(_block_shapes(f'predictor_blocks.{i}', dp, hidden))
    _check_exact(sd, expected, name, path, f'predictor (width {dp}, depth {depth}, MLP {hidden}, {n} patches)')
    return {'type': 'vit_predictor', 'embed_dim': dp, 'depth': depth, 'num_heads': heads, 'mlp_ratio': ratio,
            'output_dim': out_dim}


def check_same_shapes(a, b, path):
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            have, lack = ('target_encoder', 'encoder') if k not in a else ('encoder', 'target_encoder')
            raise ConvertError(f"{path}: encoder and target_encoder differ: '{k}' is in {have} only, not in {lack}")
        if a[k].shape != b[k].shape:
            raise ConvertError(f"{path}: encoder and target_encoder differ: '{k}' has shape {list(a[k].shape)} vs "
                               f'{list(b[k].shape)}')


def convert(args):
    path = args.checkpoint
    if not os.path.isfile(path):
        raise ConvertError(f'{path}: not a file')
    out = os.path.abspath(args.out)
    out_dir = os.path.dirname(out)
    if not os.path.isdir(out_dir):
        raise ConvertError(f'{args.out}: the directory {out_dir} does not exist')
    if os.path.exists(out) and os.path.samefile(out, path):
        raise ConvertError(f'{args.out}: is the input file')
    requested = None
    if args.groups is not None:
        requested = [g.strip() for g in args.groups.split(',') if g.strip()]
        bad = [g for g in requested if g not in GROUPS]
        if bad or not requested:
            raise ConvertError(f"--groups: unknown group '{bad[0] if bad else ''}' (valid: {', '.join(GROUPS)})")
        requested = list(dict.fromkeys(requested))
    if args.num_heads is not None and args.num_heads <= 0:
        raise ConvertError(f'--num-heads: must be > 0, got {args.num_heads}')

    ckpt = load_checkpoint(path, args.trust_pickle)
    from collections.abc import Mapping
    if not isinstance(ckpt, Mapping):
        raise ConvertError(f'{path}: not an I-JEPA checkpoint: the top level is a {type(ckpt).__name__}, expected a '
                           f'dict with {", ".join(GROUPS)}')
    present = [g for g in GROUPS if g in ckpt]
    if not present:
        raise ConvertError(f'{path}: not an I-JEPA checkpoint dict: none of {", ".join(GROUPS)} '
                           f'(keys found: {_keys_found(ckpt)})')
    groups = requested if requested is not None else present
    missing = [g for g in groups if g not in ckpt]
    if missing:
        raise ConvertError(f"{path}: group '{missing[0]}' is not in the checkpoint (keys found: {_keys_found(ckpt)})")

    # Every encoder-like group present is read and checked (the config comes from them), written or not.
    sds = {g: strip_group(path, g, ckpt[g]) for g in GROUPS if g in ckpt and (g in groups or g != 'predictor')}
    if 'encoder' in sds and 'target_encoder' in sds:
        check_same_shapes(sds['encoder'], sds['target_encoder'], path)
    components = {}
    enc_source = 'target_encoder' if 'target_encoder' in sds else ('encoder' if 'encoder' in sds else None)
    if enc_source is not None:
        components['encoder'] = infer_encoder(sds[enc_source], enc_source, args.num_heads, path)
    if 'predictor' in groups:
        if 'encoder' not in components:
            raise ConvertError(f'{path}: the predictor config needs an encoder or target_encoder group (width, '
                               f'heads, grid); the checkpoint has none')
        components['predictor'] = infer_predictor(sds['predictor'], components['encoder'], path)
    config = {'components': components}
    if 'encoder' in components:
        config['data'] = {'image_size': components['encoder']['img_size']}

    import torch
    tensors, seen = {}, set()
    for g in groups:
        for k, v in sds[g].items():
            t = v.to(torch.float32).contiguous()
            # safetensors refuses tensors that share storage; official files have none, but copy to be sure.
            ptr = t.untyped_storage().data_ptr()
            if ptr in seen or t.untyped_storage().nbytes() != t.numel() * t.element_size():
                t = t.clone()
            seen.add(t.untyped_storage().data_ptr())
            tensors[f'{g}.{k}'] = t
    metadata = {'format': FORMAT, 'source': os.path.basename(path), 'source_sha256': _sha256(path),
                'config': json.dumps(config, sort_keys=True)}
    if 'epoch' in ckpt:
        metadata['epoch'] = str(ckpt['epoch'])

    from safetensors.torch import save_file
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix='.' + os.path.basename(out) + '.', suffix='.tmp')
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        with open(tmp, 'rb') as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; the output is an ordinary file
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    n = sum(t.numel() for t in tensors.values())
    enc = components.get('encoder')
    desc = (f"{enc['preset'] if PRESET_BY_WIDTH.get(enc['embed_dim']) else 'ViT'} width {enc['embed_dim']}, depth "
            f"{enc['depth']}, {enc['num_heads']} heads, patch {enc['patch_size']}, {enc['img_size']} px"
            if enc else 'no encoder')
    print(f"{args.out}: {len(tensors)} tensors ({n:,} floats) from {', '.join(groups)}; {desc}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog='Errors are one line on stderr (exit status 2).')
    ap.add_argument('checkpoint', help='official checkpoint (.pth.tar written by save_checkpoint)')
    ap.add_argument('--out', required=True, help='output .safetensors file (written atomically)')
    ap.add_argument('--groups', default=None,
                    help='comma-separated subset of encoder,predictor,target_encoder (default: all present)')
    ap.add_argument('--num-heads', type=int, default=None,
                    help='attention heads of the encoder (and predictor); required when the width is not an '
                         'official preset width')
    ap.add_argument('--trust-pickle', action='store_true',
                    help='fall back to torch.load(weights_only=False) (runs arbitrary pickled code)')
    args = ap.parse_args(argv)
    try:
        convert(args)
    except ConvertError as e:
        print('convert_checkpoint: ' + ' '.join(str(e).split('\n')), file=sys.stderr)
        return 2
    except ImportError as e:
        print(f'convert_checkpoint: needs torch and safetensors ({_first_line(e)})', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
