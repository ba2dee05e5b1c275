#!/usr/bin/env python3
"""Summarise Chrome traces written by `ijepa bench train --profile` (C++ and its Python baseline).

For each trace: the dispatcher operators (`aten::*`, and the other namespaces such as `mkldnn::*`, the oneDNN linear
of sdk::linear; events on CPU threads), counted and timed by their own (self) time, i.e. minus the time of the
operator events nested inside them. With two traces, the rows are the union,
side by side, so a difference in the number of calls or in time per op shows at once.

    tools/trace_ops.py trace.json trace.python.json [--top 30] [--steps N]
CUDA traces also get a second table: the GPU kernels (`kernel` events), counted and timed, so launch overhead on
the host and time on the device can be told apart.
"""
import argparse
import collections
import json
import re
import sys

# An operator's name: namespace::name[.overload] (aten::addmm, mkldnn::_linear_pointwise), not the autograd
# engine's events (autograd::engine::evaluate_function: ..., torch::autograd::CppNode<...>).
OPERATOR = re.compile(r'^(?!autograd::)[a-z_0-9]+::[A-Za-z_0-9.]+$')


def op_table(path):
    with open(path) as f:
        doc = json.load(f)
    events = doc['traceEvents'] if isinstance(doc, dict) else doc
    ops = [e for e in events if e.get('ph') == 'X' and e.get('cat') in ('cpu_op', 'Operator', 'operator')
           and OPERATOR.match(str(e.get('name', '')))]
    by_tid = collections.defaultdict(list)
    for e in ops:
        by_tid[(e.get('pid'), e.get('tid'))].append(e)
    calls = collections.Counter()
    self_us = collections.Counter()
    for evs in by_tid.values():
        evs.sort(key=lambda e: (e['ts'], -e['dur']))
        stack = []  # [event, child time]
        for e in evs:
            while stack and e['ts'] >= stack[-1][0]['ts'] + stack[-1][0]['dur']:
                done, child = stack.pop()
                self_us[done['name']] += done['dur'] - child
            if stack:
                stack[-1][1] += e['dur']
            stack.append([e, 0.0])
            calls[e['name']] += 1
        while stack:
            done, child = stack.pop()
            self_us[done['name']] += done['dur'] - child
    return calls, self_us


def kernel_table(path):
    with open(path) as f:
        doc = json.load(f)
    events = doc['traceEvents'] if isinstance(doc, dict) else doc
    calls = collections.Counter()
    total_us = collections.Counter()
    for e in events:
        if e.get('ph') == 'X' and e.get('cat') == 'kernel':
            calls[e['name']] += 1
            total_us[e['name']] += e['dur']
    return calls, total_us


def print_table(what, tables, paths, top, n, label):
    names = sorted(set().union(*[t[0].keys() for t in tables]),
                   key=lambda k: -max(t[1][k] for t in tables))[:top]
    print(('per step' if n > 1 else 'totals'), '|', ' vs '.join(paths))
    print(f'{what:<44}' + ''.join(f'{"calls":>9}{label:>10}' for _ in tables))
    for name in names:
        print(f'{name[:44]:<44}' + ''.join(f'{t[0][name] / n:>9.0f}{t[1][name] / 1000.0 / n:>10.2f}' for t in tables))
    print(f'{"all " + what + "s":<44}' + ''.join(f'{sum(t[0].values()) / n:>9.0f}{sum(t[1].values()) / 1000.0 / n:>10.2f}'
                                              for t in tables))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('traces', nargs='+', help='one or two Chrome trace files')
    ap.add_argument('--top', type=int, default=30, help='rows to print (by self time of the first trace)')
    ap.add_argument('--steps', type=int, default=1, help='divide counts and times by this many steps')
    args = ap.parse_args()
    if len(args.traces) > 2:
        sys.exit('trace_ops.py: give one or two traces')
    n = float(args.steps)
    print_table('op', [op_table(p) for p in args.traces], args.traces, args.top, n, 'self ms')
    kernels = [kernel_table(p) for p in args.traces]
    if any(k[0] for k in kernels):
        print()
        print_table('GPU kernel', kernels, args.traces, args.top, n, 'ms')

if __name__ == '__main__':
    main()
