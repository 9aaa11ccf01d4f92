#!/usr/bin/python3
"""PyTorch side of ladle's benchmark harness (bench/run.py).

Builds the model exactly as tools/export_golden.py exports it (same seed, calibration, eval mode),
then times model(*inputs) under torch.no_grad() with torch.set_num_threads(T):

    /usr/bin/python3 bench/torch_bench.py --model resnet18 --batch 8 --threads 2 [--iterations K]
        [--warmup W] [--seed S] [--int-max V] [--shape NAME=d0,d1,...]

prints ONE JSON line in the shape of `ladle bench`'s: model, batch, threads, iterations,
median_ms, p90_ms, p99_ms, mean_ms, min_ms (plus "runtime").
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import export_golden  # noqa: E402


def percentile(sorted_ms, p):
    idx = min(len(sorted_ms) - 1, max(0, math.ceil(p / 100 * len(sorted_ms)) - 1))
    return sorted_ms[idx]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a model name from tools/export_golden.py --list")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--int-max", type=int, default=10, help="integer inputs are drawn from [0, V)")
    ap.add_argument("--shape", action="append", default=[], help="NAME=d0,d1,... (batch included)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    model, sp = export_golden.build_model(a.model)
    shapes = {}
    for s in a.shape:
        name, dims = s.split("=", 1)
        shapes[name] = tuple(int(d) for d in dims.split(","))
    rng = np.random.default_rng(a.seed)
    args = []
    for i in sp.inputs:
        shape = shapes.get(i.name, (a.batch,) + tuple(i.shape[1:]))
        if i.dtype == "float32":
            x = rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
        else:
            x = rng.integers(0, a.int_max, size=shape, dtype=np.int64)
        args.append(torch.from_numpy(x))

    times = []
    with torch.no_grad():
        for _ in range(a.warmup):
            model(*args)
        for _ in range(a.iterations):
            t0 = time.perf_counter()
            model(*args)
            times.append((time.perf_counter() - t0) * 1e3)
    s = sorted(times)
    r = lambda v: round(v, 3)  # noqa: E731
    print(json.dumps({
        "model": a.model, "batch": a.batch, "threads": a.threads, "iterations": a.iterations,
        "median_ms": r(percentile(s, 50)), "p90_ms": r(percentile(s, 90)), "p99_ms": r(percentile(s, 99)),
        "mean_ms": r(sum(times) / len(times)), "min_ms": r(s[0]),
        "runtime": f"torch {torch.__version__}",
    }))


if __name__ == "__main__":
    main()
