"""`ladle batch` end to end: real SQLite files and a real PostgreSQL server, predictions compared
with `ladle predict` on the same rows (whose agreement with torch test_golden.py establishes),
kill -9 and resume, idempotent reruns, --only-missing, bad rows, two processes on one job."""

import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import time

import numpy as np
import pytest

from conftest import FIXTURES, REPO, ladle_path
from pg_util import PgServer

MLP = os.path.join(FIXTURES, "mlp_op13", "model.onnx")
N_FEAT = 30


def run(args, timeout=300, check=True):
    p = subprocess.run([ladle_path()] + args, capture_output=True, text=True, timeout=timeout)
    assert p.returncode >= 0, f"killed by signal {-p.returncode}: {p.stderr}"
    if check:
        assert p.returncode == 0, p.stderr
    return p


def summary(p):
    return json.loads(p.stdout.strip().splitlines()[-1])


def features(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, N_FEAT)).astype(np.float32)


def make_sqlite(path, X, bad=()):
    db = sqlite3.connect(path)
    cols = ", ".join(f"f{i} REAL" for i in range(N_FEAT))
    db.execute(f"CREATE TABLE feats (id INTEGER PRIMARY KEY, {cols})")
    db.executemany(f"INSERT INTO feats VALUES (?{',?' * N_FEAT})",
                   [(i + 1, *map(float, X[i])) for i in range(len(X))])
    for key, sql in bad:
        db.execute(sql, (key,))
    db.commit()
    db.close()


def reference(X, tmp):
    """ladle predict on every row, as a dict key -> output vector."""
    np.save(os.path.join(tmp, "x.npy"), X)
    out = os.path.join(tmp, "ref")
    run(["predict", "--model", MLP, "--input", f"x={tmp}/x.npy", "--output-dir", out])
    (name,) = os.listdir(out)
    return np.load(os.path.join(out, name))


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory(prefix="ladle-batch-") as d:
        yield d


def test_sqlite_predictions_equal_predict_and_bad_rows_are_kept_apart(tmp):
    X = features(2500)
    db = os.path.join(tmp, "f.db")
    make_sqlite(db, X, bad=[(6, "UPDATE feats SET f3 = NULL WHERE id = ?"),
                            (9, "UPDATE feats SET f4 = 'abc' WHERE id = ?"),
                            (12, "UPDATE feats SET f5 = '12abc' WHERE id = ?"),
                            (15, "UPDATE feats SET f6 = ' 2.5 ' WHERE id = ?")])
    p = run(["batch", "--model", MLP, "--source", f"sqlite:///{db}", "--query",
             "SELECT * FROM feats", "--key", "id", "--sink", f"sqlite:///{db}", "--table", "preds",
             "--chunk-size", "700", "--workers", "2"])
    s = summary(p)
    assert s["status"] == "ok" and s["rows_read"] == 2500
    assert s["predicted"] == 2497 and s["errors"] == 3  # ' 2.5 ' is a number, '12abc' is not
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id, * FROM preds ORDER BY id").fetchall()
    names = [d[0] for d in con.execute("SELECT * FROM preds").description]
    assert names[0] == "id" and names[-3:] == ["model", "model_version", "predicted_at"]
    assert len(rows) == 2497
    X[14, 6] = 2.5
    ref = reference(X, tmp)
    for row in rows:
        key, vec = row[0], np.array(json.loads(row[2]), dtype=np.float32)
        np.testing.assert_allclose(vec, ref[key - 1], rtol=1e-6, atol=1e-7)
    errs = dict(con.execute("SELECT key, reason FROM preds_errors").fetchall())
    assert errs.keys() == {"6", "9", "12"}
    assert "12abc" in errs["12"]
    assert "f3" in errs["6"] and "NULL" in errs["6"]
    assert "f4" in errs["9"] and "abc" in errs["9"]
    runs = con.execute("SELECT status, rows, errors, model, model_version FROM ladle_batch_runs").fetchall()
    assert runs == [("ok", 2497, 3, "model", "1")]


def test_stored_predictions_equal_torchs(tmp):
    """The fixture's golden rows (inputs and torch's own outputs, saved by tools/export_golden.py)
    go through a SQLite table among other rows; the stored vectors are torch's."""
    x = np.load(os.path.join(FIXTURES, "mlp_op13", "inputs", "x.npy"))
    want = np.load(os.path.join(FIXTURES, "mlp_op13", "expected", "logits.npy"))
    X = np.concatenate([features(500, seed=4), x, features(500, seed=5)])
    db = os.path.join(tmp, "f.db")
    make_sqlite(db, X)
    run(["batch", "--model", MLP, "--source", f"sqlite:///{db}", "--query", "SELECT * FROM feats",
         "--key", "id", "--sink", f"sqlite:///{db}", "--table", "preds", "--chunk-size", "300"])
    keys, got = sqlite_vectors(db)
    golden = [keys.index(501 + i) for i in range(len(x))]
    err = np.abs(got[golden] - want).max() / np.abs(want).max()
    assert err <= 1e-5, err  # float32 rounding; the golden models allow 1e-4


def test_kill9_then_rerun_gives_every_key_once_and_only_missing_changes_nothing(tmp):
    X = features(40000, seed=1)
    db = os.path.join(tmp, "f.db")
    make_sqlite(db, X)
    args = ["batch", "--model", MLP, "--source", f"sqlite:///{db}", "--query",
            "SELECT * FROM feats", "--key", "id", "--sink", f"sqlite:///{db}", "--table", "preds",
            "--chunk-size", "200", "--no-progress"]
    proc = subprocess.Popen([ladle_path()] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    done = 0
    while time.time() < deadline:  # wait until some chunks are committed, then kill -9
        try:
            done = sqlite3.connect(db, timeout=5).execute("SELECT count(*) FROM preds").fetchone()[0]
        except sqlite3.OperationalError:
            done = 0
        if done >= 1000 or proc.poll() is not None:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(db)
    partial = con.execute("SELECT count(*) FROM preds").fetchone()[0]
    assert partial % 200 == 0, "a chunk was half-written"
    run(args)
    keys = [r[0] for r in con.execute("SELECT id FROM preds ORDER BY id")]
    assert keys == list(range(1, 40001))
    ref = reference(X, tmp)
    got = np.array([json.loads(r[0]) for r in con.execute("SELECT logits FROM preds ORDER BY id")],
                   dtype=np.float32)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
    before = con.execute("SELECT id, predicted_at FROM preds ORDER BY id").fetchall()
    s = summary(run(args + ["--only-missing"]))
    assert s["predicted"] == 0 and s["skipped"] == 40000
    assert con.execute("SELECT id, predicted_at FROM preds ORDER BY id").fetchall() == before
    # a plain rerun is idempotent: same keys, no duplicates
    run(args)
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM preds").fetchone() == (40000, 40000)


def sqlite_vectors(path, table="preds"):
    con = sqlite3.connect(path)
    rows = con.execute(f"SELECT id, logits FROM {table} ORDER BY id").fetchall()
    return [r[0] for r in rows], np.array([json.loads(r[1]) for r in rows], dtype=np.float32)


def test_split_readers_read_every_row_exactly_once(tmp):
    """--readers N splits a rowid-keyed query into key ranges: sparse and negative keys, bad rows
    and chunk boundaries inside ranges still give every key once, equal to ladle predict."""
    n = 3001
    X = features(n, seed=7)
    keys = np.random.default_rng(7).choice(np.arange(-10**12, 10**12, 977), size=n, replace=False)
    db = os.path.join(tmp, "f.db")
    con = sqlite3.connect(db)
    cols = ", ".join(f"f{i} REAL" for i in range(N_FEAT))
    con.execute(f"CREATE TABLE feats (id INTEGER PRIMARY KEY, {cols})")
    con.executemany(f"INSERT INTO feats VALUES (?{',?' * N_FEAT})",
                    [(int(keys[i]), *map(float, X[i])) for i in range(n)])
    bad = int(keys[10])
    con.execute("UPDATE feats SET f2 = NULL WHERE id = ?", (bad,))
    con.commit()
    ref = reference(X, tmp)
    want = {int(k): ref[i] for i, k in enumerate(keys) if int(k) != bad}
    for readers in ("1", "3", "16"):
        out = os.path.join(tmp, f"r{readers}.db")
        s = summary(run(["batch", "--model", MLP, "--source", f"sqlite:///{db}", "--query",
                         "SELECT * FROM feats -- a comment and a semicolon;", "--key", "id",
                         "--sink", f"sqlite:///{out}", "--table", "preds", "--chunk-size", "128",
                         "--readers", readers]))
        assert s["rows_read"] == n and s["predicted"] == n - 1 and s["errors"] == 1, s
        assert s["readers"] == int(readers)
        got_keys, got = sqlite_vectors(out)
        assert got_keys == sorted(want)
        np.testing.assert_allclose(got, np.array([want[k] for k in got_keys]), rtol=1e-6, atol=1e-7)
        errs = sqlite3.connect(out).execute("SELECT key FROM preds_errors").fetchall()
        assert errs == [(str(bad),)]


def test_queries_are_split_only_where_exact_and_wrapped_only_where_unambiguous(tmp):
    """A LIMIT, a filter on a non-key column, duplicate column names and a text key all give the
    rows the query means with --readers 4: split into key ranges where that is exact, read whole
    where it is not."""
    n = 900
    X = features(n, seed=8)
    db = os.path.join(tmp, "f.db")
    make_sqlite(db, X)
    ref = reference(X, tmp)
    feats = ", ".join(f"f{i}" for i in range(N_FEAT))
    dup = ", ".join(["f0 AS f1" if i == 0 else f"f{i}" for i in range(N_FEAT)])  # two named f1
    cases = [  # (query, the keys it selects, readers that can split it exactly)
        ("SELECT * FROM feats ORDER BY f0 DESC LIMIT 500",
         sorted(np.argsort(-X[:, 0], kind="stable")[:500] + 1), 1),
        ("SELECT * FROM feats WHERE f3 > 0", [i + 1 for i in range(n) if X[i, 3] > 0], 4),
        (f"SELECT id, {dup} FROM feats WHERE id <= 300", list(range(1, 301)), 4),
        (f"SELECT 'k' || id AS id, {feats} FROM feats", None, 1),
    ]
    for query, want_keys, readers in cases:
        out = os.path.join(tmp, "o.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(out + suffix):
                os.unlink(out + suffix)
        s = summary(run(["batch", "--model", MLP, "--source", f"sqlite:///{db}", "--query", query,
                         "--key", "id", "--sink", f"sqlite:///{out}", "--table", "preds",
                         "--chunk-size", "64", "--readers", "4"]))
        assert s["readers"] == readers, query
        got_keys, got = sqlite_vectors(out)
        if want_keys is None:  # text keys 'k1'..'k900'
            assert sorted(got_keys) == sorted(f"k{i}" for i in range(1, n + 1))
            idx = [int(k[1:]) - 1 for k in got_keys]
        else:
            assert got_keys == [int(k) for k in want_keys], query
            idx = [k - 1 for k in got_keys]
        # (the duplicate-name query feeds f0..f29 in order, two of them named f1: taking either
        # by name would change the predictions)
        np.testing.assert_allclose(got, ref[idx], rtol=1e-6, atol=1e-7)


def test_sigint_stops_after_the_chunks_in_flight_and_records_it(tmp):
    """SIGINT (or SIGTERM) ends the job cleanly: chunks already read are written whole, the exit
    status is 130, the summary and ladle_batch_runs say "interrupted", and a rerun finishes."""
    X = features(60000, seed=11)
    db = os.path.join(tmp, "f.db")
    make_sqlite(db, X)
    args = ["batch", "--model", MLP, "--source", f"sqlite:///{db}", "--query", "SELECT * FROM feats",
            "--key", "id", "--sink", f"sqlite:///{db}", "--table", "preds", "--chunk-size", "20",
            "--readers", "2", "--no-progress", "--only-missing"]

    def count():
        try:
            return sqlite3.connect(db, timeout=5).execute("SELECT count(*) FROM preds").fetchone()[0]
        except sqlite3.OperationalError:  # no table yet
            return 0

    interrupted = 0
    for sig in (signal.SIGINT, signal.SIGTERM):
        before = count()
        proc = subprocess.Popen([ladle_path()] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None and count() < before + 500:
            time.sleep(0.005)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        n = count()
        if proc.returncode == 0:  # it finished before the signal landed: nothing to check
            assert n == 60000
            continue
        assert proc.returncode == 130, err
        s = json.loads(out.strip().splitlines()[-1])
        assert s["status"] == "interrupted" and before < n < 60000 and n % 20 == 0, (s, n)
        assert s["predicted"] == n - before
        interrupted += 1
        last = sqlite3.connect(db).execute(
            "SELECT status FROM ladle_batch_runs ORDER BY id DESC LIMIT 1").fetchone()
        assert last == ("interrupted",)
    assert interrupted, "both jobs ended before their signal: nothing was tested"
    run(args)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM preds").fetchone() == (60000, 60000)
    assert con.execute("SELECT status FROM ladle_batch_runs ORDER BY id DESC LIMIT 1").fetchone() == ("ok",)


def test_csv_to_jsonl_and_max_errors(tmp):
    X = features(50, seed=2)
    src = os.path.join(tmp, "in.csv")
    with open(src, "w") as f:
        f.write("id," + ",".join(f"f{i}" for i in range(N_FEAT)) + "\n")
        for i, row in enumerate(X):
            f.write(f"k{i}," + ",".join(repr(float(v)) for v in row) + "\n")
        f.write("bad1,1,2,3\n")
    out = os.path.join(tmp, "out.jsonl")
    s = summary(run(["batch", "--model", MLP, "--source", src, "--key", "id", "--sink", out]))
    assert s["predicted"] == 50 and s["errors"] == 1
    ref = reference(X, tmp)
    lines = [json.loads(l) for l in open(out)]
    assert [l["id"] for l in lines] == [f"k{i}" for i in range(50)]
    (name,) = [k for k in lines[0] if k not in ("id", "model", "model_version", "predicted_at")]
    np.testing.assert_allclose(np.array([l[name] for l in lines], dtype=np.float32), ref, rtol=1e-6, atol=1e-7)
    errs = [json.loads(l) for l in open(out + ".errors.jsonl")]
    assert errs[0]["key"] == "bad1" and "4 fields" in errs[0]["reason"]
    p = run(["batch", "--model", MLP, "--source", src, "--key", "id", "--sink", out,
             "--max-errors", "0"], check=False)
    assert p.returncode == 1 and "max-errors" in p.stderr


def test_bad_arguments_fail_clearly(tmp):
    p = run(["batch", "--model", MLP, "--source", "sqlite:///nope.db", "--query", "SELECT 1",
             "--sink", os.path.join(tmp, "o.csv")], check=False)
    assert p.returncode == 1 and "nope.db" in p.stderr
    p = run(["batch", "--model", MLP, "--source", os.path.join(tmp, "x.parquet"), "--sink",
             os.path.join(tmp, "o.csv")], check=False)
    assert p.returncode == 1 and "source" in p.stderr
    db = os.path.join(tmp, "f.db")
    make_sqlite(db, features(3))
    p = run(["batch", "--model", MLP, "--source", f"sqlite:///{db}", "--query",
             "SELECT id, f0, f1 FROM feats", "--key", "id", "--sink", os.path.join(tmp, "o.csv")],
            check=False)
    assert p.returncode == 1 and "30 columns" in p.stderr and "2" in p.stderr


@pytest.fixture(scope="module")
def pg():
    server = PgServer()
    yield server
    server.stop()


def make_pg(pg, table, X):
    cols = ", ".join(f"f{i} real" for i in range(N_FEAT))
    pg.psql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigint PRIMARY KEY, {cols})")
    path = tempfile.mktemp(suffix=".csv")
    with open(path, "w") as f:
        for i, row in enumerate(X):
            f.write(f"{i + 1}," + ",".join(repr(float(v)) for v in row) + "\n")
    subprocess.run(["psql", pg.uri, "-X", "-q", "-c", f"\\copy {table} FROM '{path}' CSV"], check=True)
    os.unlink(path)


def pg_vectors(pg, table):
    rows = pg.psql(f"SELECT id, logits::text FROM {table} ORDER BY id")
    return [int(r[0]) for r in rows], np.array([json.loads(r[1]) for r in rows], dtype=np.float32)


def test_postgresql_source_and_sink(pg, tmp):
    X = features(3000, seed=3)
    make_pg(pg, "feats_a", X)
    args = ["batch", "--model", MLP, "--source", pg.uri, "--query", "SELECT * FROM feats_a",
            "--key", "id", "--sink", pg.uri, "--table", "preds_a", "--chunk-size", "1000"]
    s = summary(run(args))
    assert s["predicted"] == 3000
    keys, got = pg_vectors(pg, "preds_a")
    assert keys == list(range(1, 3001))
    np.testing.assert_allclose(got, reference(X, tmp), rtol=1e-6, atol=1e-7)
    run(args)
    assert pg.psql("SELECT count(*), count(DISTINCT id) FROM preds_a") == [["3000", "3000"]]
    assert pg.psql("SELECT status, rows FROM ladle_batch_runs WHERE table_name = 'preds_a' ORDER BY id") == \
        [["ok", "3000"], ["ok", "3000"]]


def test_postgresql_column_types_binary_and_text(pg, tmp):
    """Features of every common type (double, real, integer, smallint, bigint, boolean, numbers
    held as text), a NULL and a non-number: read in binary (all types have a binary form here)
    and, with a numeric column in the query, as text; both give ladle predict's outputs."""
    n = 400
    X = features(n, seed=9).astype(np.float64)
    X[:, 2] = np.round(X[:, 2] * 100)     # integer
    X[:, 3] = np.round(X[:, 3] * 10)      # smallint
    X[:, 4] = np.round(X[:, 4] * 1000)    # bigint
    X[:, 5] = (X[:, 5] > 0).astype(float)  # boolean
    X[:, 1] = X[:, 1].astype(np.float32)  # real
    types = ["double precision", "real", "integer", "smallint", "bigint", "boolean", "text"]
    types += ["double precision"] * (N_FEAT - len(types))
    cols = ", ".join(f"f{i} {t}" for i, t in enumerate(types))
    pg.psql(f"DROP TABLE IF EXISTS feats_t; CREATE TABLE feats_t (id integer PRIMARY KEY, {cols})")
    path = os.path.join(tmp, "t.csv")
    with open(path, "w") as f:
        for i in range(n):
            vals = [repr(float(v)) for v in X[i]]
            vals[2], vals[3], vals[4] = (str(int(X[i, c])) for c in (2, 3, 4))
            vals[5] = "true" if X[i, 5] else "false"
            vals[6] = f" {X[i, 6]!r} "  # text with blanks around a number: still a number
            if i == 7:
                vals[0] = ""  # NULL
            if i == 8:
                vals[6] = "abc"
            f.write(f"{i + 1}," + ",".join(vals) + "\n")
    subprocess.run(["psql", pg.uri, "-X", "-q", "-c", f"\\copy feats_t FROM '{path}' CSV"], check=True)
    ref = reference(X.astype(np.float32), tmp)
    numeric_query = "SELECT id, " + ", ".join(
        "f7::numeric AS f7" if i == 7 else f"f{i}" for i in range(N_FEAT)) + " FROM feats_t"
    for table, query in (("preds_bin", "SELECT * FROM feats_t"), ("preds_txt", numeric_query)):
        s = summary(run(["batch", "--model", MLP, "--source", pg.uri, "--query", query, "--key",
                         "id", "--sink", pg.uri, "--table", table, "--chunk-size", "150"]))
        assert s["predicted"] == n - 2 and s["errors"] == 2, (table, s)
        keys, got = pg_vectors(pg, table)
        assert keys == [k for k in range(1, n + 1) if k not in (8, 9)]
        np.testing.assert_allclose(got, ref[[k - 1 for k in keys]], rtol=1e-5, atol=1e-6)
        errs = dict(pg.psql(f"SELECT key, reason FROM {table}_errors ORDER BY key"))
        assert set(errs) == {"8", "9"} and "NULL" in errs["8"] and "abc" in errs["9"], errs


def test_two_processes_split_a_postgresql_job_one_killed(pg, tmp):
    X = features(30000, seed=4)
    make_pg(pg, "feats_b", X)
    args = ["batch", "--model", MLP, "--source", pg.uri, "--query",
            "SELECT * FROM feats_b -- a trailing comment and semicolon;\n",
            "--key", "id", "--sink", pg.uri, "--table", "preds_b", "--chunk-size", "500",
            "--job", "split-b", "--no-progress"]
    a = subprocess.Popen([ladle_path()] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    b = subprocess.Popen([ladle_path()] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        rows = pg.psql("SELECT count(*) FROM ladle_batch_work WHERE job = 'split-b' AND status = 'done'") \
            if pg.psql("SELECT to_regclass('ladle_batch_work') IS NOT NULL")[0][0] == "t" else [["0"]]
        if int(rows[0][0]) >= 3 or a.poll() is not None:
            break
        time.sleep(0.01)
    a.send_signal(signal.SIGKILL)
    a.wait()
    out, err = b.communicate(timeout=300)
    assert b.returncode == 0, err
    # the survivor finished the job, including the chunk the killed process held
    assert pg.psql("SELECT count(*) FROM ladle_batch_work WHERE job = 'split-b' AND status <> 'done'") == [["0"]]
    keys, got = pg_vectors(pg, "preds_b")
    assert keys == list(range(1, 30001)), "gaps or duplicates"
    np.testing.assert_allclose(got, reference(X, tmp), rtol=1e-6, atol=1e-7)
    workers = {r[0] for r in pg.psql("SELECT worker FROM ladle_batch_work WHERE job = 'split-b'")}
    assert len(workers) >= 1


def test_string_labels_of_a_sklearn_classifier_reach_every_sink(pg, tmp):
    """The bundled iris example (scikit-learn pipeline, string labels + probabilities) through
    SQLite, PostgreSQL, CSV and JSON Lines sinks: the stored labels and probabilities are what
    scikit-learn itself predicts for the same rows."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    iris = load_iris()
    X, y = iris.data.astype(np.float32), iris.target_names[iris.target]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(iris.data, y)
    want_label = clf.predict(X.astype(np.float64))
    want_proba = clf.predict_proba(X.astype(np.float64))
    model = os.path.join(REPO, "examples", "models", "iris", "1", "model.onnx")
    db = os.path.join(tmp, "iris.db")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE flowers (id INTEGER PRIMARY KEY, sl REAL, sw REAL, pl REAL, pw REAL)")
    con.executemany("INSERT INTO flowers VALUES (?,?,?,?,?)",
                    [(i, *map(float, X[i])) for i in range(len(X))])
    con.commit()
    src = ["--model", model, "--source", f"sqlite:///{db}", "--query", "SELECT * FROM flowers",
           "--key", "id", "--chunk-size", "40"]

    def check(labels, probas):
        assert list(labels) == list(want_label)
        np.testing.assert_allclose(np.array(probas, dtype=np.float64), want_proba, atol=1e-5)

    run(["batch"] + src + ["--sink", f"sqlite:///{db}", "--table", "preds"])
    rows = con.execute("SELECT label, probabilities, typeof(label) FROM preds ORDER BY id").fetchall()
    assert {r[2] for r in rows} == {"text"}
    check([r[0] for r in rows], [json.loads(r[1]) for r in rows])

    run(["batch"] + src + ["--sink", pg.uri, "--table", "iris_preds"])
    rows = pg.psql("SELECT label, probabilities::text FROM iris_preds ORDER BY id")
    check([r[0] for r in rows], [json.loads(r[1]) for r in rows])

    out = os.path.join(tmp, "iris.jsonl")
    run(["batch"] + src + ["--sink", out])
    lines = [json.loads(l) for l in open(out)]
    check([l["label"] for l in lines], [l["probabilities"] for l in lines])

    out = os.path.join(tmp, "iris.csv")
    run(["batch"] + src + ["--sink", out])
    import csv
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    check([r["label"] for r in rows], [json.loads(r["probabilities"]) for r in rows])

    out = os.path.join(tmp, "iris.npy")  # one file per output, written when the job ends
    run(["batch"] + src + ["--sink", out])
    check(np.load(os.path.join(tmp, "iris.label.npy")), np.load(os.path.join(tmp, "iris.probabilities.npy")))

    # a sink that cannot be written fails the job (here: a folder where an output file goes)
    os.mkdir(os.path.join(tmp, "bad.label.npy"))
    p = run(["batch"] + src + ["--sink", os.path.join(tmp, "bad.npy")], check=False)
    assert p.returncode == 1 and "bad.label.npy" in p.stderr, p.stderr
    assert summary(p)["status"] == "failed"

