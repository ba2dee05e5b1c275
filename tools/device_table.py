#!/usr/bin/env python3
"""The GPU device check's results as the Markdown section that goes into docs/benchmarks.md.

    tools/device_table.py KEEP_DIR [--results results.txt] [--commit C] [--command CMD] [--seconds S] [--out FILE]

KEEP_DIR is where `tools/device_check.sh run` writes (its records also come back in records.tar.gz):
  bench_<name>.json   one `ijepa bench train --json` record per benchmark run (schema ijepa.bench_train/1):
                      bench_vit_base.json, bench_vit_huge.json (with --baseline python), and the A/B runs
                      bench_ab_<switch>.json (ViT-B/16, C++ only, one switch changed against the default)
  cuda_tests.json     GoogleTest's JSON report of test_host_cuda (--gtest_output=json:...); cuda_tests.txt its
                      console output (present without the JSON: the test binary died before writing its report)
  whole_loop.jsonl    one record per whole-loop run: {"name", "model", "patch", "image_size", "batch",
                      "loop_images_per_s", "step_images_per_s"} (a failed run: {"name", "error"})
--results: the benchmarks' console output (a crash report, "fatal signal", shows there).
Any of them may be missing (a stage that did not run or crashed); the table then says "not measured" instead of
inventing a figure. Each target of the speed issue gets "met", "missed" or "not measured", decided from the figures
in the table and nothing else. Standard library only (the GPU machine's python3 runs it).
"""
import argparse
import glob
import json
import math
import os
import sys

# The speed issue's targets (default settings, ratios measured in one run on one card).
RATIO_TARGET = 1.8                                   # C++ images/s over the Python baseline's
MFU_TARGET = {'vit_base': 0.35, 'vit_huge': 0.55}    # model-FLOP utilisation
LOOP_TARGET = 0.9                                    # whole training loop over the step alone, at 224 px
SECONDS_TARGET = 480                                 # the whole check, one device call
MODELS = [('vit_base', 'ViT-B/16'), ('vit_huge', 'ViT-H/14')]
AB_LABELS = {
    'explicit': '`--attention explicit` (softmax(QK^T)V as separate ops, as the official code)',
    'sync': '`--sync-each-step` (the loss read on the host after every step)',
    'sdpa_torch': "`--sdpa torch` (torch's own SDPA backend order: cuDNN attention first on Hopper)",
}
CRASH_MARKS = ('fatal signal', 'Segmentation fault', 'killed by SIG')


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def num(x):
    """A finite number, or None (JSON null: NaN or infinity written by nlohmann::json, or absent)."""
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def fmt(x, spec, suffix=''):
    x = num(x)
    return 'n/a' if x is None else format(x, spec) + suffix


def scaled(x, factor, spec, suffix=''):
    """fmt of x * factor (seconds as ms, fractions as %); n/a where x is no number."""
    x = num(x)
    return fmt(None if x is None else x * factor, spec, suffix)


def mib(b):
    return scaled(b, 2**-20, ',.0f')


def verdict(ok):
    return 'met' if ok else 'missed'


def bench_records(keep):
    out = {}
    for path in sorted(glob.glob(os.path.join(keep, 'bench_*.json'))):
        rec = load_json(path)
        if isinstance(rec, dict) and rec.get('schema') == 'ijepa.bench_train/1' and isinstance(rec.get('cpp'), dict):
            out[os.path.basename(path)[len('bench_'):-len('.json')]] = rec
    return out


def cuda_tests(keep):
    """(passed, failed, not run) test names, or None without a report."""
    rep = load_json(os.path.join(keep, 'cuda_tests.json'))
    if not isinstance(rep, dict):
        return None
    passed, failed, not_run = [], [], []
    for suite in rep.get('testsuites', []):
        for t in suite.get('testsuite', []):
            name = f"{suite.get('name', '?')}.{t.get('name', '?')}"
            if t.get('failures'):
                failed.append(name)
            elif t.get('status') == 'RUN' and t.get('result', 'COMPLETED') == 'COMPLETED':
                passed.append(name)
            else:  # SKIPPED, SUPPRESSED, NOTRUN (disabled)
                not_run.append(name)
    return passed, failed, not_run


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


def read_text(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except (OSError, TypeError):
        return None


def table(keep, commit, command, seconds, results_path=None):
    benches = bench_records(keep)
    tests = cuda_tests(keep)
    loops = whole_loop(keep)
    main = [benches[k] for k, _ in MODELS if k in benches]  # the settings are the two benchmarks'
    card = first(main + list(benches.values()), 'device_name', 'no benchmark record')
    lines = [f"### GPU: {card}, {first(main + list(benches.values()), 'date')}", '']
    lines.append(f"Commit {commit}; torch {first(main, 'torch')}; `{command}`"
                 + (f', {seconds} s in all' if seconds else '') + '. Default settings: attention '
                 + f"`{first(main, 'attention')}`, SDPA backends {first(main, 'sdpa_backends')}; "
                 + f"{first(main, 'image_size')} px, batch {first(main, 'batch')}, {first(main, 'precision')}, "
                 + f"{first(main, 'steps')} timed steps (median); the baseline is `bench/train_baseline.py` "
                 + '(PyTorch eager, the official code\'s step) on the same inputs in the same run.')
    lines.append('')
    verdicts = []

    # The two benchmarks against the Python baseline.
    labels = [f"{benches[k].get('model', k)}/{benches[k].get('patch', '?')}" if k in benches else label
              for k, label in MODELS]
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
        cells['cpp'].append(f"{fmt(c.get('images_per_s'), ',.0f')} ({scaled(c.get('median_step_s'), 1e3, '.1f')} ms;"
                            f" min {scaled(c.get('min_step_s'), 1e3, '.1f')} ms)")
        mfu = num(c.get('mfu'))
        if mfu is None:
            cells['mfu'].append('n/a')
            verdicts.append(f'{label} MFU: not measured')
        else:
            ok = mfu >= MFU_TARGET[key]
            cells['mfu'].append(f'{100 * mfu:.2f} % ({verdict(ok)})')
            verdicts.append(f'{label} MFU {100 * mfu:.2f} % against ≥ {100 * MFU_TARGET[key]:.0f} %: {verdict(ok)}')
        cells['status'].append(str(rec.get('baseline_status', '?')))
        if not isinstance(p, dict):
            for k in ('py', 'ratio', 'mem', 'loss'):
                cells[k].append('not measured')
            verdicts.append(f"{label} ratio and memory against the baseline: not measured (baseline "
                            f"{rec.get('baseline_status', 'not run')})")
            continue
        ratio = num(rec.get('ratio'))
        cells['py'].append(f"{fmt(p.get('images_per_s'), ',.0f')} "
                           f"({scaled(p.get('median_step_s'), 1e3, '.1f')} ms)")
        if ratio is None:
            cells['ratio'].append('n/a')
            verdicts.append(f'{label} C++/Python: not measured')
        else:
            ok = ratio >= RATIO_TARGET
            cells['ratio'].append(f"{ratio:.3f}× ({verdict(ok)}; fastest steps {fmt(rec.get('ratio_fastest'), '.3f')}×)")
            verdicts.append(f'{label} C++/Python {ratio:.3f}× against ≥ {RATIO_TARGET}×: {verdict(ok)}')
        cm, pm = num(c.get('peak_bytes')), num(p.get('peak_bytes'))
        if cm is None or pm is None:
            cells['mem'].append('n/a')
            verdicts.append(f'{label} peak memory against the baseline: not measured')
        else:
            ok = cm <= pm
            cells['mem'].append(f'{mib(cm)} / {mib(pm)} ({verdict(ok)})')
            verdicts.append(f"{label} peak memory {mib(cm)} MiB against the baseline's {mib(pm)} MiB: {verdict(ok)}")
        cells['loss'].append(f"{fmt(c.get('loss_first'), '.5f')} / {fmt(p.get('loss_first'), '.5f')}")
    peak_kind = first([r['cpp'] for r in main], 'peak_kind')
    rows = [('C++ images/s (median step)', 'cpp', ''), ('Python baseline images/s', 'py', ''),
            ('C++ / Python', 'ratio', f'≥ {RATIO_TARGET}×'),
            ('MFU (C++)', 'mfu', ' / '.join(f'≥ {100 * MFU_TARGET[k]:.0f} %' for k, _ in MODELS)),
            (f'peak memory C++ / Python (MiB, {peak_kind})', 'mem', 'C++ ≤ Python'),
            ('loss at step 1, C++ / Python', 'loss', 'equal (same inputs)'), ('baseline', 'status', 'done')]
    for title, k, target in rows:
        lines.append(f'| {title} | ' + ' | '.join(cells[k]) + f' | {target} |')
    lines.append('')

    # A/B: one switch changed against the default, ViT-B/16, C++ only, the same number of steps.
    default = benches.get('vit_base')
    ab = {k[len('ab_'):]: v for k, v in benches.items() if k.startswith('ab_')}
    if ab:
        lines.append('| ViT-B/16, C++ only | images/s | MFU | default / this |')
        lines.append('|---|---|---|---|')
        d_ips = num(default['cpp'].get('images_per_s')) if default else None
        if default:
            lines.append(f"| default | {fmt(d_ips, ',.0f')} | {scaled(default['cpp'].get('mfu'), 100, '.2f', ' %')} | 1 |")
        for k in sorted(ab):
            r = ab[k]['cpp']
            ips = num(r.get('images_per_s'))
            rel = f'{d_ips / ips:.2f}×' if d_ips and ips else 'not measured'
            lines.append(f"| {AB_LABELS.get(k, k)} | {fmt(ips, ',.0f')} | "
                         f"{scaled(r.get('mfu'), 100, '.2f', ' %')} | {rel} |")
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
        loop, step = num(r.get('loop_images_per_s')), num(r.get('step_images_per_s'))
        size = num(r.get('image_size')) or 0
        big = size >= 224
        rel = loop / step if loop is not None and step else None
        ok = rel is not None and rel >= LOOP_TARGET
        target = f'≥ {LOOP_TARGET}' if big else '(shown, no target)'
        shown = (f'{rel:.3f}' + (f' ({verdict(ok)})' if big else '')) if rel is not None else 'not measured'
        lines.append(f"| {name} ({r.get('model', '?')}/{r.get('patch', '?')}, {r.get('image_size', '?')} px, batch "
                     f"{r.get('batch', '?')}) | {fmt(loop, ',.0f')} | {fmt(step, ',.0f')} | {shown} | {target} |")
        if big:
            verdicts.append(f'whole loop {name}: loop/step ' + (f'{rel:.3f} against ≥ {LOOP_TARGET}: {verdict(ok)}'
                                                                if rel is not None else 'not measured'))
    if not any((num(r.get('image_size')) or 0) >= 224 and 'error' not in r for r in loops):
        verdicts.append('whole loop at 224 px: not measured')
    if loops:
        lines.append('')

    # CUDA tests.
    if tests is None:
        died = os.path.exists(os.path.join(keep, 'cuda_tests.txt'))
        lines.append('CUDA tests: ' + ('the test binary ran but wrote no report (it died: cuda_tests.txt)'
                                      if died else 'not run (no cuda_tests.json)') + '.')
        verdicts.append('all CUDA tests pass: ' + ('missed (crashed, no report)' if died else 'not run'))
    else:
        passed, failed, not_run = tests
        lines.append(f'CUDA tests (test_host_cuda): {len(passed)} passed, {len(failed)} failed, {len(not_run)} not run'
                     + (': failed ' + ', '.join(failed) if failed else '')
                     + ('; not run ' + ', '.join(not_run) if not_run else '') + '.')
        verdicts.append('all CUDA tests pass: ' + (verdict(not failed and not not_run and bool(passed))
                                                   if passed or failed else f'not run ({len(not_run)} not run)'))

    # No crash: a benchmark whose record stops before the baseline's end, or a crash report in the output.
    crashes = [f"bench_{k}: baseline {r.get('baseline_status')}" for k, r in sorted(benches.items())
               if str(r.get('baseline_status', '')).startswith(('running', 'failed'))]
    text = read_text(results_path) if results_path else None
    if text is not None:
        crashes += [f'results: "{m}"' for m in CRASH_MARKS if m in text]
    if crashes:
        verdicts.append('no crash: missed (' + '; '.join(crashes) + ')')
    elif benches or text is not None:
        verdicts.append('no crash: met')
    else:
        verdicts.append('no crash: not measured')

    sec = num(float(seconds)) if str(seconds).replace('.', '', 1).isdigit() else None
    verdicts.append(f'the check within {SECONDS_TARGET} s: '
                    + (f'{sec:.0f} s, {verdict(sec <= SECONDS_TARGET)}' if sec is not None else 'not measured'))
    lines.append('')
    lines.append('Targets: ' + '; '.join(verdicts) + '.')
    return '\n'.join(lines) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('keep', help="the device check's working folder (its records)")
    ap.add_argument('--results', help="the benchmarks' console output (results.txt)")
    ap.add_argument('--commit', default='unknown')
    ap.add_argument('--command', default='tools/device_check.sh run')
    ap.add_argument('--seconds', default='')
    ap.add_argument('--out', help='write here as well as to stdout')
    a = ap.parse_args()
    if not os.path.isdir(a.keep):
        print(f'device_table.py: {a.keep}: not a folder', file=sys.stderr)
        return 2
    text = table(a.keep, a.commit, a.command, a.seconds, a.results)
    if a.out:
        with open(a.out, 'w') as f:
            f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
