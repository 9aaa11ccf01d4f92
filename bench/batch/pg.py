#!/usr/bin/python3
"""Batch benchmark with PostgreSQL: N rows x 30 features (double precision, bigint key) through the
30->64->64->2 MLP, from a real PostgreSQL server (Debian's, started on loopback in a temporary
directory, as the tests do) into PostgreSQL and into SQLite. Prints wall seconds, rows/s and the
CPU ladle itself used (the rest is the server).

    /usr/bin/python3 bench/batch/pg.py [--rows 300000] [--ladle build/ladle] [--repeat 2]
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from pg_util import PgServer  # noqa: E402

MODEL = os.path.join(REPO, "tests", "fixtures", "mlp_op13", "model.onnx")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=300000)
    ap.add_argument("--ladle", default=os.path.join(REPO, "build", "ladle"))
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    pg = PgServer()
    try:
        with tempfile.TemporaryDirectory(prefix="ladle-bench-pg-") as d:
            X = np.random.default_rng(0).standard_normal((a.rows, 30))
            cols = ", ".join(f"f{i} double precision" for i in range(30))
            pg.psql(f"CREATE TABLE feats (id bigint PRIMARY KEY, {cols})")
            csv = os.path.join(d, "feats.csv")
            np.savetxt(csv, np.column_stack([np.arange(a.rows), X]), delimiter=",",
                       fmt=["%d"] + ["%.17g"] * 30)
            subprocess.run(["psql", pg.uri, "-X", "-q", "-c", f"\\copy feats FROM '{csv}' CSV"],
                           check=True)
            lite = os.path.join(d, "out.db")
            print(f"{a.rows} rows x 30 features, MLP 30->64->64->2, {os.cpu_count()} cores")
            print(f"{'job':28} {'seconds':>8} {'rows/s':>9} {'ladle CPU s':>12}")
            for name, sink in (("PostgreSQL -> PostgreSQL", pg.uri), ("PostgreSQL -> SQLite", f"sqlite:///{lite}")):
                for _ in range(a.repeat):
                    pg.psql("DROP TABLE IF EXISTS preds")
                    for suffix in ("", "-wal", "-shm"):
                        if os.path.exists(lite + suffix):
                            os.unlink(lite + suffix)
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    t = time.perf_counter()
                    subprocess.run([a.ladle, "batch", "--model", MODEL, "--source", pg.uri, "--query",
                                    "SELECT * FROM feats", "--key", "id", "--sink", sink, "--table",
                                    "preds", "--no-progress"], check=True, capture_output=True)
                    dt = time.perf_counter() - t
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                    print(f"{name:28} {dt:8.3f} {a.rows / dt:9.0f} {cpu:12.2f}")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
