#!/usr/bin/env python3
"""Reads TensorBoard event files with the tensorboard package (the reader TensorBoard itself uses) and prints
{"tag": [[step, value], ...], ...} as JSON: the tests' independent check of the workbench's event-file writer.

usage: read_tfevents.py DIR   (exit 3 when the tensorboard package is missing)
"""
import json
import sys

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError as e:  # the test skips
    print(f"tensorboard package missing: {e}", file=sys.stderr)
    sys.exit(3)

acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})  # 0: keep every event
acc.Reload()
out = {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
print(json.dumps(out, sort_keys=True))
