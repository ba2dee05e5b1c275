#!/usr/bin/env python3
"""How well does low_shot's held-out lambda choice do, and how much does the sample itself move a low-shot figure?

Re-implements the workbench's low_shot protocol in PyTorch on features written by `ijepa embed --pooled` (per-class
sample of a label fraction; standardised with the sample's statistics; 10 % stratified held out; the lambda grid
fitted from the largest down, warm-started; L-BFGS to a largest |gradient| of 1e-5), then for each of many samples
records the test top-1 of every lambda and what each way of choosing lambda would pick: held-out top-1 (the default,
ties to the larger lambda), held-out cross-entropy (`select: nll`), and 5-fold cross-validated top-1 and
cross-entropy, against the test-set oracle. Python's round() takes halves to even where the workbench rounds them
away from zero (no count here lands on a half), and its samples are its own draws, not the workbench's.
docs/evaluation.md ("Choosing λ for low_shot, and what the sample does") has the results.

  ijepa embed --checkpoint RUN --data fashion_mnist --limit 10000 --out tr.safetensors
  ijepa embed --checkpoint RUN --data fashion_mnist --split test --limit 2000 --out te.safetensors
  python tools/lowshot_select_study.py run TAG tr.safetensors te.safetensors 0.01:20,0.1:10 > TAG.jsonl
  python tools/lowshot_select_study.py summary 1e-06,1e-05,0.0001,0.001,0.01 TAG.jsonl [MORE.jsonl...]

(0.01:20 = 20 samples of 1 %. For the random-init encoder, embed a one-step run that cannot move: ijepa train
experiments/quickstart.json --set train.max_steps=1 --set train.lr=0 --set train.start_lr=0 --set train.final_lr=0
--set train.ema=[1,1] --set components.evaluators=[] --out r0.) Needs the venv's torch; one thread, about 10 s a
1 % sample and 2 min a 10 % one (five-fold cross-validation included).
"""
import json
import random
import statistics as st
import struct
import sys
from collections import defaultdict

GRID = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]  # the default l2_grid and two larger values


def load(path):
    import torch
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        dt = {"F32": torch.float32, "I64": torch.int64, "I32": torch.int32}[v["dtype"]]
        out[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=dt).reshape(v["shape"])
    return out


def fit(x, y, classes, l2, start=None, max_iter=3000):
    import torch
    w = (start[0].clone() if start else torch.zeros(x.shape[1], classes)).requires_grad_(True)
    b = (start[1].clone() if start else torch.zeros(classes)).requires_grad_(True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=max_iter, max_eval=2 * max_iter, tolerance_grad=1e-5,
                            history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def per_class(y, classes, frac, rng, held):
    """held=False: a sample of max(1, round(frac*n)) rows a class; held=True: (fit, held-out) as the workbench."""
    import torch
    a, h = [], []
    for c in range(classes):
        r = (y == c).nonzero().flatten().tolist()
        rng.shuffle(r)
        n = len(r)
        if held:
            k = min(max(round(frac * n), 1), n - 1) if n >= 2 else 0
            h += r[:k]
            a += r[k:]
        else:
            a += r[:min(max(round(frac * n), 1), n)]
    return torch.tensor(sorted(a)), torch.tensor(sorted(h))


def path(x, y, classes):
    fits, last = {}, None
    for l2 in sorted(GRID, reverse=True):
        last = fit(x, y, classes, l2, last)
        fits[str(l2)] = last
    return fits


def run(tag, train_file, test_file, plan):
    import torch
    torch.set_num_threads(1)
    tr, te = load(train_file), load(test_file)
    X, Y = tr["features"], tr["labels"].long()
    XT, YT = te["features"], te["labels"].long()
    C = int(Y.max()) + 1
    ce = torch.nn.functional.cross_entropy
    for item in plan.split(","):
        frac, count = float(item.split(":")[0]), int(item.split(":")[1])
        for s in range(count):
            rng = random.Random(1000 + s)
            idx, _ = per_class(Y, C, frac, rng, held=False)
            x, y = X[idx], Y[idx]
            mu, inv = x.mean(0), (x.var(0, unbiased=False) + 1e-5).rsqrt()
            x, xt = (x - mu) * inv, (XT - mu) * inv
            fi, hi = per_class(y, C, 0.1, rng, held=True)
            fits = path(x[fi], y[fi], C)
            hc = {l: int(((x[hi] @ m[0] + m[1]).argmax(1) == y[hi]).sum()) for l, m in fits.items()}
            hn = {l: ce(x[hi] @ m[0] + m[1], y[hi]).item() for l, m in fits.items()}
            rng2, folds = random.Random(7 + s), [[] for _ in range(5)]
            for c in range(C):
                r = (y == c).nonzero().flatten().tolist()
                rng2.shuffle(r)
                for j, i in enumerate(r):
                    folds[j % 5].append(i)
            cvn, cva = defaultdict(float), defaultdict(int)
            for k in range(5):
                h = torch.tensor(folds[k])
                f = torch.tensor([i for j in range(5) if j != k for i in folds[j]])
                for l, m in path(x[f], y[f], C).items():
                    cvn[l] += ce(x[h] @ m[0] + m[1], y[h], reduction="sum").item()
                    cva[l] += int(((x[h] @ m[0] + m[1]).argmax(1) == y[h]).sum())
            ta = {l: ((xt @ m[0] + m[1]).argmax(1) == YT).float().mean().item() * 100
                  for l, m in path(x, y, C).items()}
            print(json.dumps(dict(tag=tag, frac=frac, seed=s, n=len(idx), held=len(hi), ta=ta, hc=hc, hn=hn,
                                  cvn=cvn, cva=cva)), flush=True)


def summary(grid, files):
    rows = [json.loads(line) for f in files for line in open(f)]
    groups = defaultdict(list)
    for r in rows:
        groups[(r["tag"], r["frac"])].append(r)
    for key, rs in sorted(groups.items()):
        G = [g for g in grid.split(",") if g in rs[0]["ta"]]
        print(key, "samples", len(rs), "rows", rs[0]["n"], "held out", rs[0]["held"])

        def pick(r, how):
            if how == "top1":
                return max(G, key=lambda l: (r["hc"][l], float(l)))
            if how == "nll":
                return min(G, key=lambda l: r["hn"][l])
            if how == "cv5_top1":
                return max(G, key=lambda l: (r["cva"][l], float(l)))
            if how == "cv5_nll":
                return min(G, key=lambda l: r["cvn"][l])
            if how == "oracle":
                return max(G, key=lambda l: r["ta"][l])
            return how[len("fixed "):]

        for how in ["top1", "nll", "cv5_top1", "cv5_nll", "oracle"] + ["fixed " + g for g in G]:
            acc = [r["ta"][pick(r, how)] for r in rs]
            regret = [r["ta"][pick(r, "oracle")] - a for r, a in zip(rs, acc)]
            sd = st.stdev(acc) if len(acc) > 1 else float("nan")
            print(f"  {how:14s} top-1 {st.mean(acc):6.2f}  sd over samples {sd:5.2f}  "
                  f"below the oracle: mean {st.mean(regret):5.2f} max {max(regret):5.2f}")


if __name__ == "__main__":
    if len(sys.argv) >= 6 and sys.argv[1] == "run":
        run(*sys.argv[2:6])
    elif len(sys.argv) >= 4 and sys.argv[1] == "summary":
        summary(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
