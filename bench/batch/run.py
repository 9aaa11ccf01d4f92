#!/usr/bin/python3
"""Batch benchmark: N rows x 30 features through the 30->64->64->2 MLP, SQLite to SQLite, side by
side in one run:

  ladle         `ladle batch` (chunked upserts, reader/inference/writer overlapped), as a process:
                its time includes starting up and loading the model
  python job    the seeds' reference job: pandas.read_sql in chunks, torch predict,
                DataFrame.to_sql. Reported twice: the whole job (importing pandas and torch,
                loading the weights) and its loop alone (the kindest figure for it); ladle is
                compared with the faster of the two
  INSERT..SELECT SQLite's own INSERT ... SELECT of the same rows, no model, no data leaving SQLite
                (the ceiling), twice: with ladle's payload (WAL, a JSON array of two numbers, model,
                version, a per-row timestamp) and bare (the key and two REALs into a rollback-journal
                table: the fastest 300k-row insert SQLite does); ladle is compared with the bare one

Each writes into a fresh database file; rows/s = rows / wall seconds. Every job runs --repeat
times, alternating, and the median counts.

    /usr/bin/python3 bench/batch/run.py [--rows 300000] [--ladle build/ladle] [--repeat 3]
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(REPO, "tests", "fixtures", "mlp_op13", "model.onnx")
N_FEAT = 30


def make_source(path, n):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, N_FEAT))
    db = sqlite3.connect(path)
    cols = ", ".join(f"f{i} REAL" for i in range(N_FEAT))
    db.execute(f"CREATE TABLE feats (id INTEGER PRIMARY KEY, {cols})")
    db.executemany(f"INSERT INTO feats VALUES (?{',?' * N_FEAT})",
                   ((i, *X[i].tolist()) for i in range(n)))
    db.commit()
    db.close()


def torch_mlp():
    """The same network as the ONNX file, weights read from it."""
    import onnx
    import torch
    from onnx import numpy_helper
    m = onnx.load(MODEL)
    w = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    gemms = [n for n in m.graph.node if n.op_type == "Gemm"]
    layers = []
    for i, g in enumerate(gemms):
        W, b = w[g.input[1]], w[g.input[2]]
        trans_b = any(a.name == "transB" and a.i == 1 for a in g.attribute)
        lin = torch.nn.Linear(W.shape[1] if trans_b else W.shape[0], W.shape[0] if trans_b else W.shape[1])
        lin.weight.data = torch.from_numpy(W if trans_b else W.T.copy())
        lin.bias.data = torch.from_numpy(b)
        layers.append(lin)
        if i < len(gemms) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).eval()


def python_job(src, dst, chunk, timings):
    """timings gets "job" (everything) and "loop" (reading, predicting, writing only)."""
    t0 = time.perf_counter()
    import pandas as pd
    import torch
    torch.set_num_threads(2)
    model = torch_mlp()
    out = sqlite3.connect(dst)
    inp = sqlite3.connect(src)
    t1 = time.perf_counter()
    for df in pd.read_sql("SELECT * FROM feats", inp, chunksize=chunk):
        x = torch.from_numpy(df.drop(columns=["id"]).to_numpy(dtype=np.float32))
        with torch.no_grad():
            y = model(x).numpy()
        res = pd.DataFrame({"id": df["id"], "logits": [json.dumps(r.tolist()) for r in y],
                            "model": "model", "model_version": "1",
                            "predicted_at": pd.Timestamp.utcnow().isoformat()})
        res.to_sql("preds", out, if_exists="append", index=False)
    out.commit()
    t2 = time.perf_counter()
    timings["job"], timings["loop"] = t2 - t0, t2 - t1


def insert_select(src, dst):
    """ladle's payload: WAL, a JSON array of two numbers, model, version, a per-row timestamp."""
    db = sqlite3.connect(dst)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"ATTACH DATABASE '{src}' AS s")
    db.execute("CREATE TABLE preds (id INTEGER PRIMARY KEY, logits TEXT, model TEXT, model_version TEXT, predicted_at TEXT)")
    db.execute("INSERT INTO preds SELECT id, json_array(f0 * 0.5, f1 * 0.25), 'model', '1', "
               "strftime('%Y-%m-%dT%H:%M:%fZ','now') FROM s.feats")
    db.commit()


def insert_select_bare(src, dst):
    """The key and two REALs into a rollback-journal table: the fastest insert of these rows."""
    db = sqlite3.connect(dst)
    db.execute(f"ATTACH DATABASE '{src}' AS s")
    db.execute("CREATE TABLE preds (id INTEGER PRIMARY KEY, a REAL, b REAL)")
    db.execute("INSERT INTO preds SELECT id, f0, f1 FROM s.feats")
    db.commit()


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def fresh(path):
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=300000)
    ap.add_argument("--ladle", default=os.path.join(REPO, "build", "ladle"))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    times = {k: [] for k in ("ladle batch", "python job (whole)", "python job (loop only)",
                             "INSERT..SELECT (ladle's payload)", "INSERT..SELECT (bare)")}
    with tempfile.TemporaryDirectory(prefix="ladle-bench-batch-") as d:
        src = os.path.join(d, "src.db")
        make_source(src, a.rows)
        outs = {k: os.path.join(d, f"out{i}.db") for i, k in enumerate(times)}
        for _ in range(a.repeat):
            dst = fresh(outs["ladle batch"])
            cmd = [a.ladle, "batch", "--model", MODEL, "--source", f"sqlite:///{src}", "--query",
                   "SELECT * FROM feats", "--key", "id", "--sink", f"sqlite:///{dst}", "--table",
                   "preds", "--chunk-size", str(a.chunk), "--workers", str(a.workers), "--no-progress"]
            times["ladle batch"].append(timed(lambda: subprocess.run(cmd, check=True, capture_output=True)))
            py = {}
            python_job(src, fresh(outs["python job (whole)"]), a.chunk, py)
            times["python job (whole)"].append(py["job"])
            times["python job (loop only)"].append(py["loop"])
            k = "INSERT..SELECT (ladle's payload)"
            times[k].append(timed(lambda: insert_select(src, fresh(outs[k]))))
            k = "INSERT..SELECT (bare)"
            times[k].append(timed(lambda: insert_select_bare(src, fresh(outs[k]))))
        for name in ("ladle batch", "python job (whole)", "INSERT..SELECT (ladle's payload)",
                     "INSERT..SELECT (bare)"):
            n = sqlite3.connect(outs[name]).execute("SELECT count(*) FROM preds").fetchone()[0]
            assert n == a.rows, f"{name} wrote {n} rows"
    med = {k: statistics.median(v) for k, v in times.items()}
    rate = {k: a.rows / v for k, v in med.items()}
    print(f"{a.rows} rows x {N_FEAT} features, MLP 30->64->64->2, SQLite -> SQLite, "
          f"{os.cpu_count()} cores, median of {a.repeat}, load average {os.getloadavg()[0]:.2f}")
    print(f"{'job':34} {'seconds':>8} {'rows/s':>10}")
    for k, v in med.items():
        print(f"{k:34} {v:8.3f} {rate[k]:10.0f}")
    lad = rate["ladle batch"]
    py = max(rate["python job (whole)"], rate["python job (loop only)"])
    print(f"ladle / python job (its faster figure)  = {lad / py:.1f}x   (target >= 10x)")
    print(f"ladle / INSERT..SELECT (bare)           = {lad / rate['INSERT..SELECT (bare)']:.2f}x  (target >= 0.4x)")
    same = rate["INSERT..SELECT (ladle's payload)"]
    print(f"ladle / INSERT..SELECT (ladle's payload) = {lad / same:.2f}x")


if __name__ == "__main__":
    main()
