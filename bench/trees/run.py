#!/usr/bin/python3
"""Tree and linear model benchmark: ladle against ONNX Runtime (npm onnxruntime-node), same
models, same batch, same thread count, in the same run.

    /usr/bin/python3 bench/trees/make_models.py          # once: models into bench/out/trees/
    (cd bench && npm install --ignore-scripts)            # once: onnxruntime-node (not committed)
    /usr/bin/python3 bench/trees/run.py [--ladle build/ladle] [--batch 100000] [--threads 2]
                                        [--rounds 3] [--iterations 10] [--only rf_100x8_cls]

Each round runs every model through `ladle bench` and then through bench/ort_bench.js, so
load on the machine hits both alike; the table reports, per runtime, the median of the
per-round medians and the best per-round minimum (milliseconds per batch). Inputs are uniform
random floats in [-1, 1) for both (seeded; not the same values, the same distribution).
Prints a Markdown table (for bench/RESULTS.md) and the raw JSON lines to stderr.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MODELS = os.path.join(REPO, "bench", "out", "trees")
ORDER = ["rf_100x8_cls", "rf_100x8_reg", "rf_100x8_cls5", "gb_200x4_cls", "logreg_cls5", "linear_reg"]


def run_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()[-500:]}")
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1]
    print(line, file=sys.stderr)
    return json.loads(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ladle", default=os.path.join(REPO, "build", "ladle"))
    ap.add_argument("--batch", type=int, default=100000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    names = [n for n in ORDER if os.path.exists(os.path.join(MODELS, n + ".onnx"))]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    if not names:
        sys.exit("no models in bench/out/trees: run bench/trees/make_models.py first")
    res = {n: {"ladle": [], "ort": []} for n in names}
    ort_version = "?"
    for _ in range(args.rounds):
        for n in names:
            model = os.path.join(MODELS, n + ".onnx")
            r = run_json([args.ladle, "bench", "--model", model, "--batch", str(args.batch),
                          "--threads", str(args.threads), "--iterations", str(args.iterations),
                          "--warmup", str(args.warmup)])
            res[n]["ladle"].append(r)
            inputs = json.dumps([{"name": "input", "dtype": "float32", "shape": [args.batch, 30]}])
            r = run_json(["node", os.path.join(REPO, "bench", "ort_bench.js"), "bench", "--model",
                          model, "--inputs", inputs, "--threads", str(args.threads),
                          "--iterations", str(args.iterations), "--warmup", str(args.warmup)])
            ort_version = r.get("runtime", ort_version)
            res[n]["ort"].append(r)
    print(f"batch {args.batch} x 30 features, {args.threads} threads, {args.rounds} rounds x "
          f"{args.iterations} iterations; ms per batch (median of round medians / best minimum)\n")
    print(f"| model | ladle median | ladle min | {ort_version} median | ORT min | ladle speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for n in names:
        lm = statistics.median(r["median_ms"] for r in res[n]["ladle"])
        om = statistics.median(r["median_ms"] for r in res[n]["ort"])
        lmin = min(r["min_ms"] for r in res[n]["ladle"])
        omin = min(r["min_ms"] for r in res[n]["ort"])
        print(f"| {n} | {lm:.1f} | {lmin:.1f} | {om:.1f} | {omin:.1f} | {om / lm:.2f}x |")


if __name__ == "__main__":
    main()
