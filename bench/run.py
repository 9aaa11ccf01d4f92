#!/usr/bin/python3
"""ladle's benchmark harness: one run measures ladle, ONNX Runtime and PyTorch on the same models,
batch sizes and thread counts, and prints a table of medians with the ratios ladle/ORT and
ladle/torch.

    /usr/bin/python3 bench/run.py                      # default models, batch 1 and 8, 1 and 2 threads
    /usr/bin/python3 bench/run.py --models mlp,resnet18 --batches 1 --threads 2 --runtimes ladle,ort
    /usr/bin/python3 bench/run.py --coretype both --markdown bench/out/results.md --json bench/out/results.json

Each measurement is a fresh process:
  ladle  `ladle bench --model M --batch N --threads T --iterations K --warmup W --int-max V`
  ORT    `node bench/ort_bench.js bench ...` (onnxruntime-node, intraOpNumThreads=T, interOpNumThreads=1)
  torch  `bench/torch_bench.py ...` (the same model built in PyTorch, torch.set_num_threads(T), no_grad)
all reporting the median of K timed runs after W warm-up runs, on seeded random inputs of the
fixture's shapes (floats uniform in [-1, 1), integer ids in [0, V) with V the smallest id range of
the model's inputs). The three runtimes are run back to back for each configuration so that
load from other processes hits them alike. LADLE_COMMIT=<hash> labels a binary built elsewhere.

Models come from the golden fixtures: tests/fixtures/large/<name>_op17 (made by
`tools/export_golden.py --large`; --generate makes missing ones) or tests/fixtures/<name>_op17.

OPENBLAS_CORETYPE (OpenBLAS kernels: Debian's torch uses OpenBLAS, ladle and ORT do not):
  --coretype env     as the environment has it (default); the table says which
  --coretype unset   run with it removed (what a user's machine has)
  --coretype both    every configuration with it removed and with OPENBLAS_CORETYPE=Haswell
  --coretype NAME    run with OPENBLAS_CORETYPE=NAME
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
FIXTURES = os.path.join(REPO, "tests", "fixtures")
DEFAULT_MODELS = "mlp,resnet18,mobilenet_v2,efficientnet_b0,vit_small,text_encoder"

# (iterations, warmup) at batch 1; batch 8 gets a quarter of the iterations (at least 8).
RUNS = {
    "mlp": (1000, 100), "recommender": (1000, 100), "recommender_large": (300, 30),
    "resnet18": (40, 5), "mobilenet_v2": (60, 5), "mobilenet_v3_small": (100, 10),
    "efficientnet_b0": (40, 5), "squeezenet1_1": (60, 5), "shufflenet_v2_x0_5": (100, 10),
    "densenet121": (20, 3), "googlenet": (30, 3), "regnet_x_400mf": (40, 5), "regnet_y_400mf": (40, 5),
    "mnasnet0_5": (60, 5), "vit_small": (20, 3), "vit_b_16": (8, 2), "text_encoder": (40, 5),
}
DEFAULT_RUNS = (100, 10)


def find_fixture(name):
    for d in (os.path.join(FIXTURES, "large", f"{name}_op17"), os.path.join(FIXTURES, f"{name}_op17")):
        if os.path.isfile(os.path.join(d, "meta.json")):
            return d
    return None


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fp:
            for line in fp:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "host": platform.node(), "nproc": os.cpu_count(), "cpu": cpu,
            "kernel": platform.release(), "loadavg_start": os.getloadavg()[0],
            "OPENBLAS_CORETYPE_in_env": os.environ.get("OPENBLAS_CORETYPE")}
    info["ladle_commit"] = os.environ.get("LADLE_COMMIT", "")
    if not info["ladle_commit"]:
        try:
            info["ladle_commit"] = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                                  capture_output=True, text=True).stdout.strip()
        except OSError:
            pass
    return info


def last_json_line(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def run_json(cmd, env, timeout):
    """Runs cmd; returns (result dict, None) or (None, one-line reason)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", env=env, timeout=timeout,
                           stdin=subprocess.DEVNULL, cwd=REPO)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout}s"
    except OSError as e:
        return None, str(e)
    if p.returncode != 0:
        lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit {p.returncode}"
        if p.returncode < 0:
            why = f"killed by signal {-p.returncode}: {why}"
        return None, why[:200]
    r = last_json_line(p.stdout)
    if r is None or "median_ms" not in r:
        return None, "no JSON result line"
    return r, None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runtimes", default="ladle,ort,torch")
    ap.add_argument("--iterations", type=int, default=0, help="override the per-model iteration count")
    ap.add_argument("--warmup", type=int, default=-1, help="override the per-model warm-up count")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure every configuration R times (the runtimes interleaved) and keep the "
                         "lowest median: steadier on a shared machine")
    ap.add_argument("--coretype", default="env", help="env, unset, both, or an OpenBLAS core name")
    ap.add_argument("--ladle", default=os.environ.get("LADLE_BIN", os.path.join(REPO, "build", "ladle")))
    ap.add_argument("--generate", action="store_true", help="export missing large fixtures first")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per measurement")
    ap.add_argument("--json", default="", help="write the raw results here")
    ap.add_argument("--markdown", default="", help="write the table (markdown) here")
    a = ap.parse_args()

    models = [m for m in a.models.split(",") if m]
    batches = [int(b) for b in a.batches.split(",")]
    threads = [int(t) for t in a.threads.split(",")]
    runtimes = [r for r in a.runtimes.split(",") if r]
    for r in runtimes:
        if r not in ("ladle", "ort", "torch"):
            sys.exit(f"bench: unknown runtime {r!r} (ladle, ort, torch)")
    if "ladle" in runtimes and not os.access(a.ladle, os.X_OK):
        sys.exit(f"bench: no ladle binary at {a.ladle} (build it, or pass --ladle / LADLE_BIN)")
    if "ort" in runtimes and not os.path.isdir(os.path.join(BENCH, "node_modules", "onnxruntime-node")):
        sys.exit("bench: onnxruntime-node is missing: (cd bench && npm install --ignore-scripts)")

    missing = [m for m in models if not find_fixture(m)]
    if missing and a.generate:
        subprocess.run([sys.executable, os.path.join(REPO, "tools", "export_golden.py"), "--only",
                        ",".join(missing), "--opset", "17"], check=True, cwd=REPO)
        missing = [m for m in models if not find_fixture(m)]
    if missing:
        sys.exit(f"bench: no fixture for {', '.join(missing)}: run tools/export_golden.py --large "
                 f"(or bench/run.py --generate)")

    if a.coretype == "env":
        coretypes = [os.environ.get("OPENBLAS_CORETYPE")]
    elif a.coretype == "unset":
        coretypes = [None]
    elif a.coretype == "both":
        coretypes = [None, "Haswell"]
    else:
        coretypes = [a.coretype]

    info = machine_info()
    info["ladle_bin"] = a.ladle
    info["command"] = " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    print(f"# {info['date']}  {info['cpu']}  nproc {info['nproc']}  load {info['loadavg_start']:.2f}  "
          f"OPENBLAS_CORETYPE in env: {info['OPENBLAS_CORETYPE_in_env'] or 'unset'}", flush=True)

    results = []
    for model in models:
        fx = find_fixture(model)
        with open(os.path.join(fx, "meta.json")) as fp:
            meta = json.load(fp)
        onnx_path = os.path.join(fx, "model.onnx")
        int_ranges = [i["range"][1] for i in meta["inputs"] if "range" in i]
        int_max = min(int_ranges) if int_ranges else 10
        for batch in batches:
            iters, warm = RUNS.get(model, DEFAULT_RUNS)
            if batch > 1:
                iters = max(8, iters * 1 // min(batch, 4))
            iters = a.iterations or iters
            warm = a.warmup if a.warmup >= 0 else warm
            shapes = []
            for i in meta["inputs"]:
                shape = [batch] + i["shape"][1:]
                shapes.append({"name": i["name"], "dtype": i["dtype"], "shape": shape,
                               **({"lo": 0, "hi": int_max} if i["dtype"] != "float32" else {})})
            # symbolic non-batch dims need --shape for ladle (the small text encoder's "seq")
            shape_args = []
            for i, s in zip(meta["inputs"], shapes):
                if any(k != "0" for k in i["dynamic_axes"]):
                    shape_args += ["--shape", f"{i['name']}=" + ",".join(map(str, s["shape"]))]
            for t in threads:
                for core in coretypes:
                    env = dict(os.environ)
                    env.pop("OPENBLAS_CORETYPE", None)
                    if core:
                        env["OPENBLAS_CORETYPE"] = core
                    row = {"model": model, "fixture": meta["name"], "batch": batch, "threads": t,
                           "iterations": iters, "warmup": warm, "openblas_coretype": core or "unset"}
                    common = ["--batch", str(batch), "--threads", str(t), "--iterations", str(iters),
                              "--warmup", str(warm)]
                    for rep, rt in [(k, rt) for k in range(a.repeat) for rt in runtimes]:
                        if rt == "ladle":
                            cmd = [a.ladle, "bench", "--model", onnx_path, *common, "--int-max", str(int_max),
                                   *shape_args]
                        elif rt == "ort":
                            cmd = ["node", os.path.join(BENCH, "ort_bench.js"), "bench", "--model", onnx_path,
                                   "--inputs", json.dumps(shapes), "--threads", str(t), "--iterations",
                                   str(iters), "--warmup", str(warm)]
                        else:
                            cmd = [sys.executable, os.path.join(BENCH, "torch_bench.py"), "--model",
                                   meta["model"], *common, "--int-max", str(int_max),
                                   *[x for s in shapes for x in ("--shape", s["name"] + "=" +
                                                                 ",".join(map(str, s["shape"])))]]
                        t0 = time.time()
                        r, why = run_json(cmd, env, a.timeout)
                        row[rt + "_wall_s"] = round(time.time() - t0 + row.get(rt + "_wall_s", 0), 1)
                        if rep and row.get(rt) is None:
                            continue  # failed the first time: do not retry
                        if r is None:
                            row[rt], row[rt + "_detail"] = None, {"error": why}
                        elif rep == 0 or r["median_ms"] < row[rt]:
                            row[rt], row[rt + "_detail"] = r["median_ms"], r
                        row.setdefault(rt + "_medians", []).append(r["median_ms"] if r else None)
                    results.append(row)
                    print(format_row(row, runtimes), flush=True)

    info["loadavg_end"] = os.getloadavg()[0]
    table = format_table(results, runtimes)
    print()
    print(table)
    failures = [(r["model"], r["batch"], r["threads"], rt, r[rt + "_detail"]["error"])
                for r in results for rt in runtimes if r.get(rt) is None]
    if failures:
        print("\nFailures:")
        for m, b, t, rt, why in dedupe_failures(failures):
            print(f"  {rt} {m} (batch {b}, {t} thr): {why}")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as fp:
            json.dump({"info": info, "results": results}, fp, indent=1)
    if a.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(a.markdown)), exist_ok=True)
        with open(a.markdown, "w") as fp:
            fp.write(f"Run {info['date']} on {info['cpu']} (nproc {info['nproc']}), ladle {info.get('ladle_commit')}, "
                     f"load average {info['loadavg_start']:.2f} -> {info['loadavg_end']:.2f}\n\n")
            fp.write(f"Command: `{info['command']}`\n\n")
            fp.write(table + "\n")
            if failures:
                fp.write("\nFailures:\n\n")
                for m, b, t, rt, why in dedupe_failures(failures):
                    fp.write(f"- {rt} {m} (batch {b}, {t} thr): {why}\n")


def dedupe_failures(failures):
    seen, out = set(), []
    for m, b, t, rt, why in failures:
        if (m, rt, why) in seen:
            continue
        seen.add((m, rt, why))
        out.append((m, b, t, rt, why))
    return out


def fmt_ms(v):
    if v is None:
        return "FAIL"
    return f"{v:.4f}" if v < 0.1 else f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.1f}"


def ratio(a, b):
    return f"{a / b:.3f}" if a is not None and b and a / b < 0.1 else f"{a / b:.2f}" if a is not None and b else "-"


def format_row(r, runtimes):
    parts = [f"{r['model']:16s} b{r['batch']:<2d} t{r['threads']} blas={r['openblas_coretype']:7s}"]
    for rt in runtimes:
        parts.append(f"{rt} {fmt_ms(r.get(rt))}")
    if "ladle" in runtimes:
        if "ort" in runtimes:
            parts.append(f"ladle/ort {ratio(r.get('ladle'), r.get('ort'))}")
        if "torch" in runtimes:
            parts.append(f"ladle/torch {ratio(r.get('ladle'), r.get('torch'))}")
    return "  ".join(parts)


def format_table(results, runtimes):
    names = {"ladle": "ladle ms", "ort": "ORT ms", "torch": "torch ms"}
    head = ["model", "batch", "threads", "OPENBLAS_CORETYPE"] + [names[rt] for rt in runtimes]
    if "ladle" in runtimes and "ort" in runtimes:
        head.append("ladle/ORT")
    if "ladle" in runtimes and "torch" in runtimes:
        head.append("ladle/torch")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [r["model"], str(r["batch"]), str(r["threads"]), r["openblas_coretype"]]
        cells += [fmt_ms(r.get(rt)) for rt in runtimes]
        if "ladle" in runtimes and "ort" in runtimes:
            cells.append(ratio(r.get("ladle"), r.get("ort")))
        if "ladle" in runtimes and "torch" in runtimes:
            cells.append(ratio(r.get("ladle"), r.get("torch")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
