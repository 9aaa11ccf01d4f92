"""End-to-end tests of `ladle predict` against torch's own outputs (the golden fixtures made by
tools/export_golden.py), and of how the CLI fails on bad models and bad inputs.

Every fixture directory under tests/fixtures (and tests/fixtures/large once generated with
`tools/export_golden.py --large`) is run through `ladle predict`; each output must have torch's
shape and dtype and a relative error max|out - ref| / max|ref| within the fixture's tolerance.
A model that fails because an op is missing fails here: that is a real gap, not a skip.
"""

import json
import os
import re

import numpy as np
import pytest

from conftest import fixture_dirs, load_meta

FIXTURES = fixture_dirs()
SMALL = [(n, d) for n, d in FIXTURES if not n.startswith("large/")]


def safe_name(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def predict(ladle, model, inputs, out_dir, threads=None, timeout=120):
    """inputs: {name: path}. Returns the CompletedProcess."""
    args = ["predict", "--model", model]
    for name, path in inputs.items():
        args += ["--input", f"{name}={path}"]
    args += ["--output-dir", out_dir]
    if threads:
        args += ["--threads", threads]
    return ladle.run(*args, timeout=timeout)


def explain(proc):
    return f"exit {proc.returncode}; stderr: {proc.stderr.strip()[-2000:]!r}"


def rel_err(out, ref):
    if out.size == 0:
        return 0.0
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    scale = float(np.abs(ref.astype(np.float64)).max()) or 1.0
    return float(diff.max()) / scale


def check_outputs(meta, out_dir, expected, what):
    """expected: {output name: reference array}."""
    written = sorted(f for f in os.listdir(out_dir) if f.endswith(".npy"))
    want = sorted(safe_name(n) + ".npy" for n in expected)
    assert written == want, f"{what}: wrote {written}, expected one file per model output {want}"
    for name, ref in expected.items():
        path = os.path.join(out_dir, safe_name(name) + ".npy")
        out = np.load(path, allow_pickle=False)
        assert out.dtype == ref.dtype, f"{what}: output {name} dtype {out.dtype}, torch gives {ref.dtype}"
        assert out.shape == ref.shape, f"{what}: output {name} shape {out.shape}, torch gives {ref.shape}"
        if out.dtype.kind == "f":
            assert np.isfinite(out).all(), f"{what}: output {name} has NaN/Inf"
            err = rel_err(out, ref)
            assert err <= meta["tolerance"], \
                f"{what}: output {name} relative error {err:.3g} > tolerance {meta['tolerance']:g}"
        else:
            assert np.array_equal(out, ref), f"{what}: output {name} differs from torch"


# ---------------------------------------------------------------------------------------------
# Golden outputs
# ---------------------------------------------------------------------------------------------
def golden_params():
    params = []
    for name, d in FIXTURES:
        large = name.startswith("large/")
        for threads in ((2,) if large else (1, 2)):
            marks = [pytest.mark.large] if large else []
            params.append(pytest.param(d, threads, id=f"{name}-t{threads}", marks=marks))
    return params


def test_fixtures_present():
    """The committed fixtures are there (a broken checkout must not pass by running nothing)."""
    names = {n for n, _ in SMALL}
    for family in ("mlp_op13", "resnet_tiny_op17", "mobilenet_v3_tiny_op17", "vit_tiny_op17",
                   "text_encoder_tiny_op17", "recommender_op17"):
        assert family in names, f"fixture {family} missing under tests/fixtures"


@pytest.mark.parametrize("fixture,threads", golden_params())
def test_golden(ladle, tmp_path, fixture, threads):
    meta = load_meta(fixture)
    inputs = {i["name"]: os.path.join(fixture, i["file"]) for i in meta["inputs"]}
    expected = {o["name"]: np.load(os.path.join(fixture, o["file"])) for o in meta["outputs"]}
    proc = predict(ladle, os.path.join(fixture, "model.onnx"), inputs, tmp_path / "out", threads,
                   timeout=900 if meta.get("large") else 120)
    assert proc.returncode == 0, f"{meta['name']}: ladle predict failed: {explain(proc)}"
    check_outputs(meta, tmp_path / "out", expected, meta["name"])


def batch_sliceable(d):
    """Every input has a dynamic batch axis 0 and every output's dim 0 is the golden batch."""
    meta = load_meta(d)
    gb = meta.get("golden_batch")
    return bool(gb) and all(i.get("dynamic_axes", {}).get("0") == "batch" for i in meta["inputs"]) and \
        all(o["shape"][:1] == [gb] for o in meta["outputs"])


@pytest.mark.parametrize("fixture", [pytest.param(d, id=n) for n, d in SMALL if batch_sliceable(d)])
def test_dynamic_batch_row(ladle, tmp_path, fixture):
    """The dynamic batch axis really is dynamic: a batch of one (the golden batch's last row)
    gives that row of torch's output."""
    meta = load_meta(fixture)
    row = meta["golden_batch"] - 1
    inputs = {}
    for i in meta["inputs"]:
        assert i["dynamic_axes"].get("0") == "batch", f"{meta['name']}: input {i['name']} has no batch axis"
        x = np.load(os.path.join(fixture, i["file"]))
        path = tmp_path / (safe_name(i["name"]) + ".npy")
        np.save(path, np.ascontiguousarray(x[row:row + 1]))
        inputs[i["name"]] = path
    expected = {o["name"]: np.load(os.path.join(fixture, o["file"]))[row:row + 1] for o in meta["outputs"]}
    proc = predict(ladle, os.path.join(fixture, "model.onnx"), inputs, tmp_path / "out")
    assert proc.returncode == 0, f"{meta['name']} batch 1: ladle predict failed: {explain(proc)}"
    check_outputs(meta, tmp_path / "out", expected, meta["name"] + " batch 1")


# ---------------------------------------------------------------------------------------------
# Bad models and bad inputs: a clean one-line failure, never a crash
# ---------------------------------------------------------------------------------------------
MLP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "mlp_op17")
REC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "recommender_op17")


def expect_failure(proc, pattern, what, unsupported_ok=False):
    """Exit 1 or 2 (not a signal, not an abort), and one non-empty stderr line matching pattern.
    A failure for an unsupported op does not count unless the test is about one: the check the
    test is after was never reached."""
    assert proc.returncode in (1, 2), f"{what}: expected exit 1 or 2, got {explain(proc)}"
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"{what}: expected a one-line reason on stderr, got {proc.stderr!r}"
    if not unsupported_ok:
        assert "unsupported op" not in lines[0].lower(), f"{what}: failed for another reason: {lines[0]!r}"
    assert re.search(pattern, lines[0], re.IGNORECASE), \
        f"{what}: the message does not say what is wrong (wanted /{pattern}/): {lines[0]!r}"
    return lines[0]


def mlp_input():
    return os.path.join(MLP, "inputs", "x.npy")


def test_truncated_model(ladle, tmp_path):
    data = open(os.path.join(MLP, "model.onnx"), "rb").read()
    for cut in (len(data) // 2, len(data) - 7, 40):
        bad = tmp_path / f"cut{cut}.onnx"
        bad.write_bytes(data[:cut])
        proc = predict(ladle, bad, {"x": mlp_input()}, tmp_path / "out")
        expect_failure(proc, r"cut%d\.onnx|truncat|pars|protobuf|invalid|corrupt|decode" % cut,
                       f"model truncated at {cut} bytes")
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_random_bytes_model(ladle, tmp_path):
    rng = np.random.default_rng(7)
    for k in range(3):
        bad = tmp_path / f"noise{k}.onnx"
        bad.write_bytes(rng.integers(0, 256, size=4096 * (k + 1), dtype=np.uint8).tobytes())
        proc = predict(ladle, bad, {"x": mlp_input()}, tmp_path / "out")
        expect_failure(proc, r"noise%d\.onnx|pars|protobuf|invalid|corrupt|decode|not an onnx" % k,
                       "random bytes as model")


def test_empty_model(ladle, tmp_path):
    bad = tmp_path / "empty.onnx"
    bad.write_bytes(b"")
    proc = predict(ladle, bad, {"x": mlp_input()}, tmp_path / "out")
    expect_failure(proc, r"empty|pars|invalid|no graph|truncat|model", "empty model file")


def test_missing_model(ladle, tmp_path):
    proc = predict(ladle, tmp_path / "nosuch.onnx", {"x": mlp_input()}, tmp_path / "out")
    expect_failure(proc, r"nosuch\.onnx|no such file|not found|cannot open", "missing model file")


def test_wrong_input_name(ladle, tmp_path):
    proc = predict(ladle, os.path.join(MLP, "model.onnx"), {"bogus_name": mlp_input()}, tmp_path / "out")
    expect_failure(proc, r"bogus_name", "wrong input name")


def test_wrong_dtype(ladle, tmp_path):
    x = np.load(mlp_input())
    for dt in (np.float64, np.int32, np.int64):
        path = tmp_path / f"x_{np.dtype(dt).name}.npy"
        np.save(path, x.astype(dt))
        proc = predict(ladle, os.path.join(MLP, "model.onnx"), {"x": path}, tmp_path / "out")
        expect_failure(proc, r"dtype|type|float|double|int", f"{np.dtype(dt).name} input for a float32 model")


def test_wrong_shape(ladle, tmp_path):
    x = np.load(mlp_input())
    cases = {"cols31": np.zeros((2, 31), np.float32), "rank1": x[0].copy(), "rank3": x[None].copy(),
             "cols0": np.zeros((2, 0), np.float32)}
    for label, arr in cases.items():
        path = tmp_path / f"{label}.npy"
        np.save(path, arr)
        proc = predict(ladle, os.path.join(MLP, "model.onnx"), {"x": path}, tmp_path / "out")
        expect_failure(proc, r"shape|dim|rank|\b31\b|size", f"input of shape {arr.shape} for [batch, 30]")


def test_fortran_order_npy(ladle, tmp_path):
    x = np.load(mlp_input())
    path = tmp_path / "fortran.npy"
    np.save(path, np.asfortranarray(x))
    with open(path, "rb") as fp:
        assert b"'fortran_order': True" in fp.read(128)
    proc = predict(ladle, os.path.join(MLP, "model.onnx"), {"x": path}, tmp_path / "out")
    expect_failure(proc, r"fortran|order", "Fortran-order .npy")


def test_missing_input_file(ladle, tmp_path):
    proc = predict(ladle, os.path.join(MLP, "model.onnx"), {"x": tmp_path / "absent.npy"}, tmp_path / "out")
    expect_failure(proc, r"absent\.npy|no such file|not found|cannot open", "missing .npy file")


def npy_bytes(header, payload):
    """A version-1 .npy with this header text (padded as numpy pads it) and payload."""
    text = header.encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


def test_corrupt_npy(ladle, tmp_path):
    x = np.load(mlp_input())
    good = tmp_path / "good.npy"
    np.save(good, x)
    raw = good.read_bytes()
    payload = x.tobytes()
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }"
    cases = {
        "short_data": raw[:-13],                                  # header promises more bytes
        "no_magic": b"JUNK" + raw[4:],
        "bad_header": npy_bytes("{'descr': '<f4', 'fortran_order': Fal", payload),
        "huge_shape": npy_bytes(hdr % "(9999999999999, 30)", payload),
        "overflow_shape": npy_bytes(hdr % "(4611686018427387904, 4)", payload),
        "negative_shape": npy_bytes(hdr % "(-2, 30)", payload),
        "object_dtype": npy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (2, 30), }", payload),
        "garbage": bytes(range(256)) * 3,
    }
    for label, blob in cases.items():
        path = tmp_path / f"{label}.npy"
        path.write_bytes(blob)
        proc = predict(ladle, os.path.join(MLP, "model.onnx"), {"x": path}, tmp_path / "out")
        expect_failure(proc, r"%s\.npy|npy|header|truncat|short|magic|size|bytes|shape|invalid|corrupt|endian|dtype|type"
                       % label, f"corrupt .npy ({label})")


def test_big_endian_npy(ladle, tmp_path):
    """A big-endian array is either byte-swapped correctly or refused cleanly; never misread."""
    x = np.load(mlp_input())
    path = tmp_path / "big.npy"
    np.save(path, x.astype(">f4"))
    proc = predict(ladle, os.path.join(MLP, "model.onnx"), {"x": path}, tmp_path / "out")
    if proc.returncode == 0:
        meta = load_meta(MLP)
        check_outputs(meta, tmp_path / "out", {"logits": np.load(os.path.join(MLP, "expected", "logits.npy"))},
                      "big-endian input")
    else:
        expect_failure(proc, r"endian|byte order|dtype|type|>f4", "big-endian .npy")


def test_missing_input(ladle, tmp_path):
    """The recommender has three inputs; leaving one out names the one missing."""
    inputs = {"user_id": os.path.join(REC, "inputs", "user_id.npy"),
              "item_id": os.path.join(REC, "inputs", "item_id.npy")}
    proc = predict(ladle, os.path.join(REC, "model.onnx"), inputs, tmp_path / "out")
    expect_failure(proc, r"dense", "missing input 'dense'")


def test_embedding_id_out_of_range(ladle, tmp_path):
    """An id past the embedding table reaches Gather: a clean error, not an out-of-bounds read."""
    inputs = {"user_id": tmp_path / "user_id.npy",
              "item_id": os.path.join(REC, "inputs", "item_id.npy"),
              "dense": os.path.join(REC, "inputs", "dense.npy")}
    for bad in (1000, 1 << 40, -1001):
        np.save(inputs["user_id"], np.array([3, bad], dtype=np.int64))
        proc = predict(ladle, os.path.join(REC, "model.onnx"), inputs, tmp_path / "out")
        expect_failure(proc, r"index|indices|range|bound|gather", f"user_id {bad} with 1000 users")


def test_inconsistent_batch(ladle, tmp_path):
    """Inputs whose batch dims disagree (2 users, 3 items) fail cleanly."""
    inputs = {"user_id": os.path.join(REC, "inputs", "user_id.npy"),
              "item_id": tmp_path / "item_id.npy",
              "dense": os.path.join(REC, "inputs", "dense.npy")}
    np.save(inputs["item_id"], np.array([1, 2, 3], dtype=np.int64))
    proc = predict(ladle, os.path.join(REC, "model.onnx"), inputs, tmp_path / "out")
    expect_failure(proc, r"shape|dim|broadcast|batch|mismatch|size", "batch 2 users, 3 items")


def test_unusable_output_dir(ladle, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = predict(ladle, os.path.join(MLP, "model.onnx"), {"x": mlp_input()}, blocker / "out")
    expect_failure(proc, r"file/out|director|cannot create|not a dir", "output dir under a regular file")


def test_usage_errors(ladle, tmp_path):
    proc = ladle.run("predict", "--model", os.path.join(MLP, "model.onnx"))
    assert proc.returncode in (1, 2), explain(proc)
    assert proc.stderr.strip(), "no reason given for a missing --input/--output-dir"
    proc = ladle.run("predict", "--no-such-option")
    assert proc.returncode in (1, 2), explain(proc)
    proc = ladle.run("no-such-command")
    assert proc.returncode in (1, 2), explain(proc)
    proc = ladle.run("predict", "--model", os.path.join(MLP, "model.onnx"), "--input", f"x={mlp_input()}",
                     "--output-dir", tmp_path / "o", "--threads", "0")
    assert proc.returncode in (1, 2), explain(proc)


def test_unsupported_op_model(ladle, tmp_path):
    """A well-formed model with an op no runtime knows fails with the op's name."""
    onnx = pytest.importorskip("onnx")  # python3-onnx is installed by scripts/setup.sh
    from onnx import helper, TensorProto
    node = helper.make_node("FrobnicateXyz", ["x"], ["y"], domain="")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 30])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 30])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "unknown_op.onnx"
    onnx.save(model, str(path))
    proc = predict(ladle, path, {"x": mlp_input()}, tmp_path / "out")
    expect_failure(proc, r"FrobnicateXyz", "unknown op", unsupported_ok=True)


def test_inconsistent_weights(ladle, tmp_path):
    """A Gemm whose weight does not fit the input (30 vs 31) fails cleanly at run time."""
    onnx = pytest.importorskip("onnx")
    from onnx import helper, numpy_helper, TensorProto
    w = numpy_helper.from_array(np.ones((31, 4), np.float32), "w")
    node = helper.make_node("Gemm", ["x", "w"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 30])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "bad_gemm.onnx"
    onnx.save(model, str(path))
    proc = predict(ladle, path, {"x": mlp_input()}, tmp_path / "out")
    expect_failure(proc, r"gemm|shape|dim|mismatch|31", "Gemm with a 31-row weight for 30 features")


# ---------------------------------------------------------------------------------------------
# `ladle bench` and `ladle inspect`: the contract bench/run.py relies on
# ---------------------------------------------------------------------------------------------
BENCH_KEYS = ("model", "batch", "threads", "iterations", "median_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms")


def bench_json(proc):
    assert proc.returncode == 0, f"ladle bench failed: {explain(proc)}"
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, f"ladle bench should print one JSON line, printed {proc.stdout!r}"
    r = json.loads(lines[0])
    for k in BENCH_KEYS:
        assert k in r, f"ladle bench JSON lacks {k}: {r}"
    assert 0 < r["min_ms"] <= r["median_ms"] <= r["p90_ms"] <= r["p99_ms"], r
    return r


def test_bench_json(ladle):
    r = bench_json(ladle.run("bench", "--model", os.path.join(MLP, "model.onnx"), "--batch", 8, "--threads", 2,
                             "--iterations", 5, "--warmup", 1))
    assert (r["batch"], r["threads"], r["iterations"]) == (8, 2, 5), r


def test_bench_symbolic_dims(ladle):
    """The small text encoder's sequence axis is symbolic: refused without --shape, fine with it."""
    model = os.path.join(os.path.dirname(MLP), "text_encoder_tiny_op17", "model.onnx")
    proc = ladle.run("bench", "--model", model, "--iterations", 2, "--warmup", 0)
    expect_failure(proc, r"--shape", "symbolic seq dim without --shape")
    r = bench_json(ladle.run("bench", "--model", model, "--shape", "ids=4,16", "--iterations", 2, "--warmup", 0,
                             "--int-max", 100))
    assert r["iterations"] == 2


def test_inspect_json(ladle):
    meta = load_meta(REC)
    proc = ladle.run("inspect", os.path.join(REC, "model.onnx"), "--json")
    assert proc.returncode == 0, explain(proc)
    info = json.loads(proc.stdout)
    text = json.dumps(info)
    for i in meta["inputs"]:
        assert i["name"] in text, f"inspect --json does not list input {i['name']}: {text[:500]}"
    for o in meta["outputs"]:
        assert o["name"] in text, f"inspect --json does not list output {o['name']}: {text[:500]}"
    proc = ladle.run("inspect", os.path.join(REC, "model.onnx"))
    assert proc.returncode == 0 and "user_id" in proc.stdout, explain(proc)
