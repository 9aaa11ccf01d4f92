"""Values of the main graph read only from inside nested subgraphs (an If inside a Loop body)
live until the node that owns the subgraphs has run: their buffers are not reused early.

Model: x2 = x + x; sq = x * x (would reuse x2's buffer if x2 were released after Add);
Loop (2 iterations) whose body holds an If whose branches read x2 (then) or sq (else).
Expected from numpy: the loop's scan output stacks x2 for each iteration (cond is true)."""

import os
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper

from conftest import ladle_path


def build(path):
    f = TensorProto.FLOAT
    then_g = helper.make_graph([helper.make_node("Identity", ["x2"], ["t_out"])], "then", [],
                               [helper.make_tensor_value_info("t_out", f, [2, 3])])
    else_g = helper.make_graph([helper.make_node("Identity", ["sq"], ["e_out"])], "else", [],
                               [helper.make_tensor_value_info("e_out", f, [2, 3])])
    body = helper.make_graph(
        [helper.make_node("If", ["flag"], ["branch"], then_branch=then_g, else_branch=else_g),
         helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["branch"], ["scan"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("scan", f, [2, 3])])
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["x2"]),
         helper.make_node("Mul", ["x", "x"], ["sq"]),
         helper.make_node("Loop", ["trip", "cond"], ["stacked"], body=body)],
        "main",
        [helper.make_tensor_value_info("x", f, [2, 3]),
         helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("stacked", f, [2, 2, 3]),
         helper.make_tensor_value_info("sq", f, [2, 3])],
        initializer=[helper.make_tensor("trip", TensorProto.INT64, [], [2]),
                     helper.make_tensor("cond", TensorProto.BOOL, [], [1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, path)


def test_nested_subgraph_reads_keep_values_alive():
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "m.onnx")
        build(model)
        x = np.array([[0, -0.5, 0], [1.5, 4, 7.5]], dtype=np.float32)
        for flag in (True, False):
            np.save(os.path.join(d, "x.npy"), x)
            np.save(os.path.join(d, "flag.npy"), np.array(flag))
            out = os.path.join(d, f"out{flag}")
            p = subprocess.run([ladle_path(), "predict", "--model", model, "--input", f"x={d}/x.npy",
                                "--input", f"flag={d}/flag.npy", "--output-dir", out],
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, p.stderr
            want = (x + x) if flag else (x * x)
            np.testing.assert_array_equal(np.load(os.path.join(out, "stacked.npy")), np.stack([want, want]))
            np.testing.assert_array_equal(np.load(os.path.join(out, "sq.npy")), x * x)
