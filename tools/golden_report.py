#!/usr/bin/python3
"""Runs `ladle predict` on every golden fixture and prints one line per fixture: the relative
error of each output against torch (max|out - ref| / max|ref|), the tolerance and the wall time.
The pass/fail verdicts live in tests/e2e/test_golden.py; this is the numbers at a glance.

    /usr/bin/python3 tools/golden_report.py [--ladle build/ladle] [--threads 2] [--large] [--markdown]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures")


def safe_name(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ladle", default=os.environ.get("LADLE_BIN", os.path.join(REPO, "build", "ladle")))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--large", action="store_true", help="also tests/fixtures/large")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()

    dirs = []
    for root in [FIXTURES] + ([os.path.join(FIXTURES, "large")] if a.large else []):
        if os.path.isdir(root):
            dirs += [os.path.join(root, d) for d in sorted(os.listdir(root))
                     if os.path.isfile(os.path.join(root, d, "meta.json"))]
    bad = 0
    if a.markdown:
        print("| fixture | size MB | nodes | rel. error | tolerance | result | ladle predict s |")
        print("|---|---|---|---|---|---|---|")
    for d in dirs:
        with open(os.path.join(d, "meta.json")) as fp:
            meta = json.load(fp)
        size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs) / 1e6
        with tempfile.TemporaryDirectory() as out:
            cmd = [a.ladle, "predict", "--model", os.path.join(d, "model.onnx"), "--output-dir", out,
                   "--threads", str(a.threads)]
            for i in meta["inputs"]:
                cmd += ["--input", f"{i['name']}={os.path.join(d, i['file'])}"]
            t0 = time.time()
            p = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
            wall = time.time() - t0
            errs, verdict = [], "ok"
            if p.returncode != 0:
                verdict = "FAIL: " + (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:160]
            else:
                for o in meta["outputs"]:
                    ref = np.load(os.path.join(d, o["file"]))
                    path = os.path.join(out, safe_name(o["name"]) + ".npy")
                    if not os.path.exists(path):
                        verdict = f"FAIL: no {os.path.basename(path)}"
                        continue
                    got = np.load(path)
                    if got.shape != ref.shape or got.dtype != ref.dtype:
                        verdict = f"FAIL: {o['name']} {got.dtype}{list(got.shape)} vs {ref.dtype}{list(ref.shape)}"
                        continue
                    e = float(np.abs(got.astype(np.float64) - ref).max() / (np.abs(ref).max() or 1.0))
                    errs.append(e)
                    if not e <= meta["tolerance"]:
                        verdict = "FAIL: over tolerance"
        bad += verdict != "ok"
        err = " ".join(f"{e:.2e}" for e in errs) or "-"
        name = ("large/" if meta.get("large") else "") + meta["name"]
        if a.markdown:
            print(f"| {name} | {size:.2f} | {meta['nodes']} | {err} | {meta['tolerance']:g} | {verdict} | {wall:.2f} |")
        else:
            print(f"{name:36s} {size:7.2f} MB {meta['nodes']:5d} nodes  err {err:20s} {verdict}  {wall:.2f}s")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
