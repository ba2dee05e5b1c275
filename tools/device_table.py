#!/usr/bin/env python3
"""The GPU device check's results as the Markdown section that goes into docs/benchmarks.md.

    tools/device_table.py KEEP_DIR [--commit C] [--command CMD] [--seconds S] [--out FILE]

KEEP_DIR is what `tools/device_check.sh run` leaves in $OUT:
  bench_<name>.json   one `ijepa bench train --json` record per benchmark run (schema ijepa.bench_train/1):
                      bench_vit_base.json, bench_vit_huge.json (with --baseline python), and the A/B runs
                      bench_ab_<switch>.json (ViT-B/16, C++ only, one switch changed against the default)
  cuda_tests.json     GoogleTest's JSON report of test_host_cuda (--gtest_output=json:...)
  whole_loop.jsonl    one record per whole-loop run: {"name", "model", "patch", "image_size", "batch",
                      "loop_images_per_s", "step_images_per_s"} (a failed run: {"name", "error"})
Any of them may be missing (a stage that did not run or crashed); the table then says "not measured" instead of
inventing a figure. Each target of the speed issue gets "met", "missed" or "not measured", from the figures in the
table, never from anything else. Standard library only (the GPU machine's python3 runs it).
"""
import argparse
import glob
import json
import os
import sys

# The speed issue's targets (default settings, ratios measured in one run on one card).
RATIO_TARGET = 1.8                                   # C++ images/s over the Python baseline's
MFU_TARGET = {'vit_base': 0.35, 'vit_huge': 0.55}    # model-FLOP utilisation
LOOP_TARGET = 0.9                                    # whole training loop over the step alone, at 224 px
MODELS = [('vit_base', 'ViT-B/16'), ('vit_huge', 'ViT-H/14')]
AB_LABELS = {
    'explicit': '`--attention explicit` (softmax(QK^T)V as separate ops, as the official code)',
    'sync': '`--sync-each-step` (the loss read on the host after every step)',
    'sdpa_torch': "`--sdpa torch` (torch's own SDPA backend order: cuDNN attention first on Hopper)",
}


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def mib(b):
    return f'{b / 2**20:,.0f}'


def verdict(ok):
    return 'met' if ok else 'missed'


def bench_records(keep):
    out = {}
    for path in sorted(glob.glob(os.path.join(keep, 'bench_*.json'))):
        rec = load_json(path)
        if isinstance(rec, dict) and rec.get('schema') == 'ijepa.bench_train/1':
            out[os.path.basename(path)[len('bench_'):-len('.json')]] = rec
    return out


def cuda_tests(keep):
    rep = load_json(os.path.join(keep, 'cuda_tests.json'))
    if not isinstance(rep, dict):
        return None
    passed, failed, skipped = [], [], []
    for suite in rep.get('testsuites', []):
        for t in suite.get('testsuite', []):
            name = f"{suite.get('name', '?')}.{t.get('name', '?')}"
            if t.get('failures'):
                failed.append(name)
            elif t.get('result') == 'SKIPPED':
                skipped.append(name)
            else:
                passed.append(name)
    return passed, failed, skipped


def whole_loop(keep):
    rows = []
    try:
        with open(os.path.join(keep, 'whole_loop.jsonl')) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        rows.append({'name': '?', 'error': 'unreadable record: ' + line[:80]})
    except OSError:
        pass
    return rows


def first(records, key, default='?'):
    for r in records:
        if r.get(key) not in (None, ''):
            return r[key]
    return default


def table(keep, commit, command, seconds):
    benches = bench_records(keep)
    tests = cuda_tests(keep)
    loops = whole_loop(keep)
    recs = list(benches.values())
    main = [benches[k] for k, _ in MODELS if k in benches] + recs  # the two benchmarks first, then the A/B runs
    card = first(main, 'device_name', 'no benchmark record')
    lines = []
    lines.append(f"### GPU: {card}, {first(main, 'date')}")
    lines.append('')
    lines.append(f"Commit {commit}; torch {first(main, 'torch')}; `{command}`"
                 + (f', {seconds} s in all' if seconds else '') + '. Default settings: attention '
                 + f"`{first(main, 'attention')}`, SDPA backends {first(main, 'sdpa_backends')}; "
                 + f"{first(main, 'image_size')} px, batch {first(main, 'batch')}, {first(main, 'precision')}, "
                 + f"{first(main, 'steps')} timed steps (median); the baseline is `bench/train_baseline.py` "
                 + '(PyTorch eager, the official code\'s step) on the same inputs in the same run.')
    lines.append('')
    verdicts = []

    # The two benchmarks against the Python baseline.
    labels = [f"{benches[k]['model']}/{benches[k]['patch']}" if k in benches else label for k, label in MODELS]
    lines.append('| | ' + ' | '.join(labels) + ' | target |')
    lines.append('|---|' + '---|' * len(MODELS) + '---|')
    cells = {k: [] for k in ('cpp', 'py', 'ratio', 'mfu', 'mem', 'loss', 'status')}
    for key, label in MODELS:
        rec = benches.get(key)
        if rec is None:
            for k in cells:
                cells[k].append('not measured')
            verdicts.append(f'{label}: not measured (no bench_{key}.json: the run did not finish)')
            continue
        c, p = rec['cpp'], rec.get('python')
        cells['cpp'].append(f"{c['images_per_s']:,.0f} ({c['median_step_s'] * 1e3:.1f} ms; min "
                            f"{c['min_step_s'] * 1e3:.1f} ms)")
        mfu_ok = c['mfu'] >= MFU_TARGET[key]
        cells['mfu'].append(f"{100 * c['mfu']:.1f} % ({verdict(mfu_ok)})")
        verdicts.append(f"{label} MFU {100 * c['mfu']:.1f} % against ≥ {100 * MFU_TARGET[key]:.0f} %: "
                        f"{verdict(mfu_ok)}")
        cells['status'].append(rec.get('baseline_status', '?'))
        if p is None:
            for k in ('py', 'ratio', 'mem', 'loss'):
                cells[k].append('not measured')
            verdicts.append(f"{label} ratio and memory against the baseline: not measured (baseline "
                            f"{rec.get('baseline_status', 'not run')})")
            continue
        ratio = rec['ratio']
        ratio_ok = ratio >= RATIO_TARGET
        mem_ok = c['peak_bytes'] <= p['peak_bytes']
        cells['py'].append(f"{p['images_per_s']:,.0f} ({p['median_step_s'] * 1e3:.1f} ms)")
        cells['ratio'].append(f"{ratio:.2f}× ({verdict(ratio_ok)}; fastest steps {rec.get('ratio_fastest', 0):.2f}×)")
        cells['mem'].append(f"{mib(c['peak_bytes'])} / {mib(p['peak_bytes'])} ({verdict(mem_ok)})")
        cells['loss'].append(f"{c['loss_first']:.5f} / {p.get('loss_first', float('nan')):.5f}")
        verdicts.append(f'{label} C++/Python {ratio:.2f}× against ≥ {RATIO_TARGET}×: {verdict(ratio_ok)}')
        verdicts.append(f"{label} peak memory {mib(c['peak_bytes'])} MiB against the baseline's "
                        f"{mib(p['peak_bytes'])} MiB: {verdict(mem_ok)}")
    rows = [('C++ images/s (median step)', 'cpp', ''), ('Python baseline images/s', 'py', ''),
            ('C++ / Python', 'ratio', f'≥ {RATIO_TARGET}×'),
            ('MFU (C++)', 'mfu', ' / '.join(f'≥ {100 * MFU_TARGET[k]:.0f} %' for k, _ in MODELS)),
            (f"peak memory C++ / Python (MiB, {first(main, 'cpp', {}).get('peak_kind', '?')})", 'mem', 'C++ ≤ Python'),
            ('loss at step 1, C++ / Python', 'loss', 'equal (same inputs)'), ('baseline', 'status', 'done')]
    for title, k, target in rows:
        lines.append(f'| {title} | ' + ' | '.join(cells[k]) + f' | {target} |')
    lines.append('')

    # A/B: one switch changed against the default, ViT-B/16, C++ only.
    default = benches.get('vit_base')
    ab = {k[len('ab_'):]: v for k, v in benches.items() if k.startswith('ab_')}
    if ab:
        lines.append('| ViT-B/16, C++ only | images/s | MFU | default / this |')
        lines.append('|---|---|---|---|')
        if default:
            lines.append(f"| default | {default['cpp']['images_per_s']:,.0f} | {100 * default['cpp']['mfu']:.1f} % | 1 |")
        for k in sorted(ab):
            r = ab[k]['cpp']
            rel = (f"{default['cpp']['images_per_s'] / r['images_per_s']:.2f}×"
                   if default and r['images_per_s'] > 0 else 'not measured')
            lines.append(f"| {AB_LABELS.get(k, k)} | {r['images_per_s']:,.0f} | {100 * r['mfu']:.1f} % | {rel} |")
        lines.append('')

    # The whole training loop against the step alone.
    if loops:
        lines.append('| whole loop (`ijepa train`: loader, logging, checkpoints) | loop images/s | step alone '
                     '(bench train) | loop / step | target |')
        lines.append('|---|---|---|---|---|')
    for r in loops:
        name = r.get('name', '?')
        if 'error' in r:
            lines.append(f"| {name} | failed: {r['error']} | | | |")
            verdicts.append(f'whole loop {name}: not measured (failed)')
            continue
        loop, step = r.get('loop_images_per_s', 0), r.get('step_images_per_s', 0)
        big = r.get('image_size', 0) >= 224
        rel = loop / step if step else None
        ok = rel is not None and rel >= LOOP_TARGET
        target = f'≥ {LOOP_TARGET}' if big else '(shown, no target)'
        shown = f'{rel:.3f}' + (f' ({verdict(ok)})' if big else '') if rel is not None else 'not measured'
        lines.append(f"| {name} ({r.get('model', '?')}/{r.get('patch', '?')}, {r.get('image_size', '?')} px, batch "
                     f"{r.get('batch', '?')}) | {loop:,.0f} | {step:,.0f} | {shown} | {target} |")
        if big:
            verdicts.append(f'whole loop {name}: loop/step ' + (f'{rel:.3f} against ≥ {LOOP_TARGET}: {verdict(ok)}'
                                                                if rel is not None else 'not measured'))
    if not any(r.get('image_size', 0) >= 224 and 'error' not in r for r in loops):
        verdicts.append('whole loop at 224 px: not measured')
    if loops:
        lines.append('')

    # CUDA tests.
    if tests is None:
        lines.append('CUDA tests: not run (no cuda_tests.json).')
        verdicts.append('CUDA tests: not run')
    else:
        passed, failed, skipped = tests
        lines.append(f'CUDA tests (test_host_cuda): {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped'
                     + (': failed ' + ', '.join(failed) if failed else '')
                     + ('; skipped ' + ', '.join(skipped) if skipped else '') + '.')
        verdicts.append('all CUDA tests pass: ' + (verdict(not failed and not skipped and bool(passed))
                                                   if passed or failed else f'not run ({len(skipped)} skipped)'))
    lines.append('')
    lines.append('Targets: ' + '; '.join(verdicts) + '.')
    return '\n'.join(lines) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('keep', help="the device check's output folder ($OUT)")
    ap.add_argument('--commit', default='unknown')
    ap.add_argument('--command', default='tools/device_check.sh run')
    ap.add_argument('--seconds', default='')
    ap.add_argument('--out', help='write here as well as to stdout')
    a = ap.parse_args()
    if not os.path.isdir(a.keep):
        print(f'device_table.py: {a.keep}: not a folder', file=sys.stderr)
        return 2
    text = table(a.keep, a.commit, a.command, a.seconds)
    if a.out:
        with open(a.out, 'w') as f:
            f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
