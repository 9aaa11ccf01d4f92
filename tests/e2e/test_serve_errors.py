"""Client mistakes get a 4xx with {"error": ...} saying what was wrong and where (which input,
expected versus got); never a 500, never a dropped connection, and the server keeps serving."""

import json
import os

import numpy as np
import pytest

from serve_util import Server, add_model, fixture, raw_http, status_of, v2_json_input

X = np.linspace(-1, 1, 30, dtype=np.float32).reshape(1, 30)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("repo"))
    add_model(d, "mlp", fixture("mlp_op13")[0])
    add_model(d, "rec", fixture("recommender_op17")[0])
    s = Server(d, "--max-body-bytes", 8 << 20, "--max-tensor-elements", 1 << 20)
    yield s
    s.stop()


def good():
    return {"inputs": [v2_json_input("x", X)]}


def check(r, code, *words):
    assert r.status_code == code, f"{r.status_code} {r.text[:500]}"
    msg = r.json()["error"]
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    return msg


def post(srv, body, model="mlp", **kw):
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    return srv.post(f"/v2/models/{model}/infer", data=body, **kw)


CASES = [
    ("malformed JSON", '{"inputs": [', 400, ["malformed JSON"]),
    ("trailing garbage", json.dumps(good()) + "x", 400, ["malformed JSON"]),
    ("not an object", "[1,2,3]", 400, ["JSON object"]),
    ("no inputs", {"outputs": []}, 400, ["inputs"]),
    ("inputs not a list", {"inputs": {"x": 1}}, 400, ["'inputs' must be an array"]),
    ("unknown input", {"inputs": [dict(v2_json_input("x", X), name="y")]}, 400, ["unknown input 'y'", "'x'"]),
    ("input twice", {"inputs": [v2_json_input("x", X), v2_json_input("x", X)]}, 400, ["twice"]),
    ("missing datatype", {"inputs": [{"name": "x", "shape": [1, 30], "data": [0] * 30}]}, 400, ["datatype"]),
    ("unknown datatype", {"inputs": [dict(v2_json_input("x", X), datatype="FLOAT32")]}, 400, ["unknown datatype 'FLOAT32'"]),
    ("wrong datatype", {"inputs": [dict(v2_json_input("x", X), datatype="INT64")]}, 400,
     ["input 'x'", "expected datatype FP32, got INT64"]),
    ("wrong shape", {"inputs": [v2_json_input("x", np.zeros((1, 31), np.float32))]}, 400,
     ["input 'x'", "expected shape [-1,30], got [1,31]"]),
    ("wrong rank", {"inputs": [v2_json_input("x", np.zeros(30, np.float32))]}, 400, ["expected shape"]),
    ("negative dim", {"inputs": [dict(v2_json_input("x", X), shape=[-1, 30])]}, 400, ["negative"]),
    ("fractional dim", {"inputs": [dict(v2_json_input("x", X), shape=[1.5, 30])]}, 400, ["shape dimension 0"]),
    ("shape not a list", {"inputs": [dict(v2_json_input("x", X), shape="1,30")]}, 400, ["'shape'"]),
    ("too few values", {"inputs": [dict(v2_json_input("x", X), data=[0.0] * 29)]}, 400,
     ["input 'x'", "needs 30 values", "has 29"]),
    ("too many values", {"inputs": [dict(v2_json_input("x", X), data=[0.0] * 31)]}, 400, ["needs 30 values", "more"]),
    ("string in FP32", {"inputs": [dict(v2_json_input("x", X), data=["a"] * 30)]}, 400, ["element 0", "a string"]),
    ("bool in FP32", {"inputs": [dict(v2_json_input("x", X), data=[True] * 30)]}, 400, ["a boolean"]),
    ("object in data", {"inputs": [dict(v2_json_input("x", X), data=[{"a": 1}] * 30)]}, 400, ["an object"]),
    ("data missing", {"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP32"}]}, 400, ["'data' is missing"]),
    ("malformed data", '{"inputs":[{"name":"x","shape":[1,30],"datatype":"FP32","data":[1,,2]}]}', 400, ["malformed"]),
    ("batch over max", {"inputs": [v2_json_input("x", np.zeros((65, 30), np.float32))]}, 400, ["max_batch_size 64"]),
    ("zero batch", {"inputs": [v2_json_input("x", np.zeros((0, 30), np.float32))]}, 400, ["batch dimension is 0"]),
    ("too many elements", {"inputs": [dict(v2_json_input("x", X), shape=[1 << 40, 30])]}, 413, ["--max-tensor-elements"]),
    ("unknown output", dict(good(), outputs=[{"name": "prob"}]), 400, ["unknown output 'prob'", "'logits'"]),
    ("output twice", dict(good(), outputs=[{"name": "logits"}] * 2), 400, ["twice"]),
    ("classification", dict(good(), outputs=[{"name": "logits", "parameters": {"classification": 2}}]), 400, ["classification"]),
    ("id not a string", dict(good(), id=5), 400, ["'id' must be a string"]),
    ("bad parameters", dict(good(), parameters=[1]), 400, ["'parameters'"]),
    ("bad timeout", dict(good(), parameters={"timeout": -5}), 400, ["timeout"]),
    ("binary flag not bool", dict(good(), parameters={"binary_data_output": "yes"}), 400, ["binary_data_output"]),
    ("deep nesting", '{"inputs":' + "[" * 100000 + "]" * 100000 + "}", 400, ["nested deeper"]),
    ("deep data nesting", '{"inputs":[{"name":"x","shape":[1,30],"datatype":"FP32","data":' + "[" * 5000 + "]" * 5000 + "}]}",
     400, ["nested deeper"]),
    ("empty body", "", 400, ["malformed JSON"]),
    ("binary size without header", {"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP32",
                                               "parameters": {"binary_data_size": 120}}]}, 400, ["Inference-Header-Content-Length"]),
]


@pytest.mark.parametrize("what,body,code,words", CASES, ids=[c[0] for c in CASES])
def test_request_errors(srv, what, body, code, words):
    check(post(srv, body), code, *words)


def binary(srv, header, blob, hlen=None, model="mlp"):
    head = json.dumps(header).encode()
    return srv.post(f"/v2/models/{model}/infer", data=head + blob,
                    headers={"Inference-Header-Content-Length": str(len(head) if hlen is None else hlen)})


def bin_header(size, shape=(1, 30), datatype="FP32"):
    return {"inputs": [{"name": "x", "shape": list(shape), "datatype": datatype,
                        "parameters": {"binary_data_size": size}}]}


def test_binary_size_errors(srv):
    blob = X.tobytes()
    check(binary(srv, bin_header(116), blob[:116]), 400, "input 'x'", "116 bytes", "needs 120")
    check(binary(srv, bin_header(200), blob), 400, "goes past the end")
    check(binary(srv, bin_header(120), blob + b"xxxx"), 400, "4 bytes of binary data follow", "binary")
    check(binary(srv, bin_header(120), blob, hlen=10**6), 400, "larger than the body")
    check(binary(srv, bin_header(-1), blob), 400, "binary_data_size")
    h = bin_header(120)
    h["inputs"][0]["data"] = [0] * 30
    check(binary(srv, h, blob), 400, "not both")
    check(binary(srv, {"inputs": []}, blob, hlen=3), 400, "malformed JSON")


def test_raw_binary_errors(srv):
    r = srv.post("/v2/models/rec/infer", data=b"\0" * 8, headers={"Inference-Header-Content-Length": "0"})
    check(r, 400, "one input")
    r = srv.post("/v2/models/mlp/infer", data=b"\0" * 7, headers={"Inference-Header-Content-Length": "0"})
    check(r, 400, "needs")


def test_bad_header_values(srv):
    r = srv.post("/v2/models/mlp/infer", data=json.dumps(good()), headers={"Inference-Header-Content-Length": "abc"})
    assert r.status_code == 400
    r = srv.post("/v2/models/mlp/infer", data=json.dumps(good()), headers={"Content-Encoding": "gzip"})
    check(r, 415, "Content-Encoding")


def test_model_name_tricks(srv):
    for path in ("/v2/models/..%2F..%2Fetc/infer", "/v2/models/%2e%2e/infer", "/v2/models/.hidden/infer",
                 "/v2/models/a%00b/infer", "/v2/models/%ZZ/infer", "/v2/models/" + "a" * 300 + "/infer"):
        r = srv.post(path, data=json.dumps(good()))
        assert r.status_code in (400, 404), (path, r.status_code)
        assert "error" in r.json()
    assert srv.post("/v2/models/../v2/models/mlp/infer", data=json.dumps(good())).status_code in (200, 400, 404)


def test_body_and_header_limits(srv):
    r = raw_http(srv.port, b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                 % (80 << 20) + b"{" * 1000)
    assert status_of(r) == 413 and b"--max-body-bytes" in r
    r = raw_http(srv.port, b"GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
    assert status_of(r) == 431
    r = raw_http(srv.port, b"GET /v2 HTTP/2.0\r\n\r\n")
    assert status_of(r) == 400 and b"HTTP/1.1" in r
    r = raw_http(srv.port, b"GARBAGE\r\n\r\n")
    assert status_of(r) == 400
    r = raw_http(srv.port, b"POST /v2/models/mlp/infer HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert status_of(r) == 400
    r = raw_http(srv.port, b"POST /v2/models/mlp/infer HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")
    assert status_of(r) == 501
    r = raw_http(srv.port, b"POST /v2/models/mlp/infer HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert status_of(r) == 400


def test_80mib_body_with_requests(srv):
    r = srv.post("/v2/models/mlp/infer", data=b"0" * (80 << 20), timeout=120)
    assert r.status_code == 413 and "--max-body-bytes" in r.json()["error"]


def test_still_serving(srv):
    r = post(srv, good())
    assert r.status_code == 200 and srv.alive()
