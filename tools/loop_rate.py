#!/usr/bin/env python3
"""Whole-loop images/s of a run from its metrics.jsonl (tools/device_check.sh, docs/benchmarks.md).

Each train record carries the step and the seconds since the run started (time_s), so the images trained between
the first record kept and the last, over the time between them, is the loop's rate with everything in it: loader
waits, logging, health metrics and checkpoints (evaluations are excluded by the trainer). The first --skip records
(warm-up: CUDA context, kernel selection, allocator growth) are left out.

usage: loop_rate.py METRICS.jsonl --batch B [--skip N]   -> prints images/s (one number) on stdout
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("metrics")
    ap.add_argument("--batch", type=int, required=True, help="images per step (train.batch_size x ranks)")
    ap.add_argument("--skip", type=int, default=2, help="leading log records left out (warm-up)")
    a = ap.parse_args()
    recs = []
    with open(a.metrics) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("split", "train") == "train" and "time_s" in r:
                recs.append(r)
    kept = recs[a.skip:]
    if len(kept) < 2:
        sys.exit(f"loop_rate: {a.metrics}: {len(recs)} train records, need at least {a.skip + 2} (--skip {a.skip})")
    steps = kept[-1]["step"] - kept[0]["step"]
    seconds = kept[-1]["time_s"] - kept[0]["time_s"]
    if steps <= 0 or seconds <= 0:
        sys.exit(f"loop_rate: {a.metrics}: no time or steps between records {kept[0]['step']} and {kept[-1]['step']}")
    print(f"{steps * a.batch / seconds:.1f}")
    print(f"loop_rate: steps {kept[0]['step']}..{kept[-1]['step']}, {seconds:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
