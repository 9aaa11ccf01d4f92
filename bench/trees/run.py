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

With --cpu it also reports CPU time per batch (user + system, all threads), measured as the
difference between a run of --iterations + 1 batches and a run of 1 batch: on a shared, loaded
machine this is steadier than wall-clock time, and it shows the work each runtime does.
"""

import argparse
import json
import os
import resource
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


def cpu_seconds(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cpu_per_batch(cmd_for, iterations):
    """CPU ms per batch: (run of iterations + 1) - (run of 1), best of two each."""
    full = min(cpu_seconds(cmd_for(iterations + 1)) for _ in range(2))
    one = min(cpu_seconds(cmd_for(1)) for _ in range(2))
    return max(full - one, 0.0) / iterations * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ladle", default=os.path.join(REPO, "build", "ladle"))
    ap.add_argument("--batch", type=int, default=100000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--only", default="")
    ap.add_argument("--cpu", action="store_true", help="also measure CPU time per batch")
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
    cpu = {}
    if args.cpu:
        for n in names:
            model = os.path.join(MODELS, n + ".onnx")
            inputs = json.dumps([{"name": "input", "dtype": "float32", "shape": [args.batch, 30]}])
            lad = lambda k: [args.ladle, "bench", "--model", model, "--batch", str(args.batch),  # noqa: E731
                             "--threads", str(args.threads), "--iterations", str(k), "--warmup", "1"]
            ort = lambda k: ["node", os.path.join(REPO, "bench", "ort_bench.js"), "bench",  # noqa: E731
                             "--model", model, "--inputs", inputs, "--threads", str(args.threads),
                             "--iterations", str(k), "--warmup", "1"]
            cpu[n] = (cpu_per_batch(lad, args.iterations), cpu_per_batch(ort, args.iterations))
    print(f"batch {args.batch} x 30 features, {args.threads} threads, {args.rounds} rounds x "
          f"{args.iterations} iterations; ms per batch (median of round medians / best minimum)\n")
    cpu_head = " ladle CPU ms | ORT CPU ms |" if cpu else ""
    print(f"| model | ladle median | ladle min | {ort_version} median | ORT min | ladle speed-up |{cpu_head}")
    print("|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if cpu else ""))
    for n in names:
        lm = statistics.median(r["median_ms"] for r in res[n]["ladle"])
        om = statistics.median(r["median_ms"] for r in res[n]["ort"])
        lmin = min(r["min_ms"] for r in res[n]["ladle"])
        omin = min(r["min_ms"] for r in res[n]["ort"])
        extra = f" {cpu[n][0]:.1f} | {cpu[n][1]:.1f} |" if n in cpu else ""
        print(f"| {n} | {lm:.1f} | {lmin:.1f} | {om:.1f} | {omin:.1f} | {om / lm:.2f}x |{extra}")


if __name__ == "__main__":
    main()
