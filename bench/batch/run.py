#!/usr/bin/python3
"""Batch benchmark: N rows x 30 features through the 30->64->64->2 MLP, SQLite to SQLite, side by
side in one run:

  ladle        `ladle batch` (chunked upserts, reader/inference/writer overlapped)
  python job   the seeds' reference job: pandas.read_sql in chunks, torch predict, DataFrame.to_sql
  insert-select SQLite's own INSERT ... SELECT of the same rows with a same-size payload (the
               ceiling: no model, no data leaves SQLite)

Each writes into a fresh database file; rows/s = rows / wall seconds of the whole job.

    /usr/bin/python3 bench/batch/run.py [--rows 300000] [--ladle build/ladle] [--workers 1]
"""
import argparse
import json
import os
import sqlite3
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


def python_job(src, dst, chunk):
    import pandas as pd
    import torch
    torch.set_num_threads(2)
    model = torch_mlp()
    out = sqlite3.connect(dst)
    inp = sqlite3.connect(src)
    for df in pd.read_sql("SELECT * FROM feats", inp, chunksize=chunk):
        x = torch.from_numpy(df.drop(columns=["id"]).to_numpy(dtype=np.float32))
        with torch.no_grad():
            y = model(x).numpy()
        res = pd.DataFrame({"id": df["id"], "logits": [json.dumps(r.tolist()) for r in y],
                            "model": "model", "model_version": "1",
                            "predicted_at": pd.Timestamp.utcnow().isoformat()})
        res.to_sql("preds", out, if_exists="append", index=False)
    out.commit()


def insert_select(src, dst):
    db = sqlite3.connect(dst)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"ATTACH DATABASE '{src}' AS s")
    db.execute("CREATE TABLE preds (id INTEGER PRIMARY KEY, logits TEXT, model TEXT, model_version TEXT, predicted_at TEXT)")
    db.execute("INSERT INTO preds SELECT id, json_array(f0 * 0.5, f1 * 0.25), 'model', '1', "
               "strftime('%Y-%m-%dT%H:%M:%fZ','now') FROM s.feats")
    db.commit()


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=300000)
    ap.add_argument("--ladle", default=os.path.join(REPO, "build", "ladle"))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=10000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ladle-bench-batch-") as d:
        src = os.path.join(d, "src.db")
        make_source(src, a.rows)
        results = {}
        dst = os.path.join(d, "ladle.db")
        cmd = [a.ladle, "batch", "--model", MODEL, "--source", f"sqlite:///{src}", "--query",
               "SELECT * FROM feats", "--key", "id", "--sink", f"sqlite:///{dst}", "--table", "preds",
               "--chunk-size", str(a.chunk), "--workers", str(a.workers), "--no-progress"]
        results["ladle batch"] = timed(lambda: subprocess.run(cmd, check=True, capture_output=True))
        results["python job (pandas+torch)"] = timed(lambda: python_job(src, os.path.join(d, "py.db"), a.chunk))
        results["sqlite INSERT..SELECT"] = timed(lambda: insert_select(src, os.path.join(d, "is.db")))
        for name, path in (("ladle", dst), ("python", os.path.join(d, "py.db")), ("insert-select", os.path.join(d, "is.db"))):
            n = sqlite3.connect(path).execute("SELECT count(*) FROM preds").fetchone()[0]
            assert n == a.rows, f"{name} wrote {n} rows"
    rate = {k: a.rows / v for k, v in results.items()}
    print(f"{a.rows} rows x {N_FEAT} features, MLP 30->64->64->2, SQLite -> SQLite, "
          f"{os.cpu_count()} cores, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"{'job':30} {'seconds':>8} {'rows/s':>10}")
    for k, v in results.items():
        print(f"{k:30} {v:8.3f} {rate[k]:10.0f}")
    lad = rate["ladle batch"]
    print(f"ladle / python job     = {lad / rate['python job (pandas+torch)']:.1f}x   (target >= 10x)")
    print(f"ladle / INSERT..SELECT = {lad / rate['sqlite INSERT..SELECT']:.2f}x  (target >= 0.4x)")


if __name__ == "__main__":
    main()
