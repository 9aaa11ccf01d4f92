"""A model's memory_limit_mb counts what its control-flow subgraphs hold together with what the
main graph holds while they run. Model: p = Tile(x, [2, 1]) stays alive across a Loop whose body
makes its own Tile(x, [2, 1]); with 256 rows of 256 floats each tile is 512 KiB, under the 1 MiB
limit alone, over it together: refused (413), while 16 rows get numpy's answer, and the same
model without a limit runs 256 rows. A refused request leaves the model serving."""

import numpy as np
import onnx
import requests
from onnx import TensorProto, helper

from serve_util import Server, add_model, v2_json_input


def build(path):
    f = TensorProto.FLOAT
    body = helper.make_graph(
        [helper.make_node("Tile", ["x", "reps"], ["big"]),
         helper.make_node("ReduceSum", ["big"], ["s"], keepdims=0),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s", f, [])])
    g = helper.make_graph(
        [helper.make_node("Tile", ["x", "reps"], ["p"]),
         helper.make_node("Loop", ["trip", "cond"], ["sums"], body=body),
         helper.make_node("ReduceSum", ["p"], ["total"], keepdims=0)],
        "main",
        [helper.make_tensor_value_info("x", f, ["rows", 256])],
        [helper.make_tensor_value_info("sums", f, [3]), helper.make_tensor_value_info("total", f, [])],
        initializer=[helper.make_tensor("trip", TensorProto.INT64, [], [3]),
                     helper.make_tensor("cond", TensorProto.BOOL, [], [1]),
                     helper.make_tensor("reps", TensorProto.INT64, [2], [2, 1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, path)


def test_loop_body_memory_counts_against_the_model_limit(tmp_path):
    model = str(tmp_path / "loop.onnx")
    build(model)
    repo = str(tmp_path / "repo")
    add_model(repo, "capped", model, config="max_batch_size: 0\nparameters:\n  memory_limit_mb: 1\n")
    add_model(repo, "free", model, config="max_batch_size: 0\n")
    s = Server(repo)
    try:
        def infer(name, x):
            return requests.post(f"{s.base}/v2/models/{name}/infer",
                                 json={"inputs": [v2_json_input("x", x)]}, timeout=60)

        rng = np.random.RandomState(7)
        big = rng.rand(256, 256).astype(np.float32)
        small = rng.rand(16, 256).astype(np.float32)
        r = infer("capped", big)
        assert r.status_code == 413, r.text
        err = r.json()["error"]
        assert "subgraph 'body'" in err and "Tile" in err, err
        assert "memory limit" in err and "memory_limit_mb is 1" in err, err
        for name, x in (("capped", small), ("free", big)):
            r = infer(name, x)
            assert r.status_code == 200, r.text
            outs = {o["name"]: np.array(o["data"], dtype=np.float32) for o in r.json()["outputs"]}
            want = 2 * x.astype(np.float64).sum()
            np.testing.assert_allclose(outs["sums"], np.full(3, want), rtol=1e-4)
            np.testing.assert_allclose(outs["total"], [want], rtol=1e-4)
    finally:
        s.stop()


def test_parameters_are_checked(tmp_path):
    """memory_limit_mb and intra_op_thread_count take a number or Triton's {string_value}; a
    value out of range makes that model UNAVAILABLE with the reason, and the others serve."""
    model = str(tmp_path / "loop.onnx")
    build(model)
    repo = str(tmp_path / "repo")
    add_model(repo, "good", model, config=(
        "max_batch_size: 0\nparameters:\n"
        "  intra_op_thread_count: {string_value: \"2\"}\n  memory_limit_mb: {string_value: \"64\"}\n"))
    add_model(repo, "zero", model, config="max_batch_size: 0\nparameters:\n  memory_limit_mb: 0\n")
    add_model(repo, "threads", model, config="max_batch_size: 0\nparameters:\n  intra_op_thread_count: 0\n")
    s = Server(repo)
    try:
        params = s.get("/v2/models/good/config").json()["parameters"]
        assert params == {"intra_op_thread_count": {"string_value": "2"},
                          "memory_limit_mb": {"string_value": "64"}}
        index = {m["name"]: m for m in s.post("/v2/repository/index").json()}
        assert index["good"]["state"] == "READY"
        for name, key in (("zero", "memory_limit_mb"), ("threads", "intra_op_thread_count")):
            assert index[name]["state"] == "UNAVAILABLE"
            assert f"parameters.{key}: expected an integer from 1" in index[name]["reason"]
    finally:
        s.stop()
