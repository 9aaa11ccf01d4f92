"""2,000 malformed or hostile requests — random bytes, truncated JSON, absurd and negative shapes,
100,000-deep nesting, wrong types, bad binary sizes, path tricks in model names, an 80 MiB
declared body, a 1 MiB header — each must get a 4xx, and the server must answer correctly
afterwards (and, under ASan+UBSan, stop cleanly)."""

import json
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from serve_util import Server, add_model, fixture, parse_response, raw_http, rel_err, status_of, v2_json_input

N_REQUESTS = 2000


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("repo"))
    add_model(d, "mlp", fixture("mlp_op13")[0])
    add_model(d, "rec", fixture("recommender_op17")[0])
    s = Server(d, "--max-tensor-elements", 1 << 22)
    yield s
    s.stop()


def valid_body():
    return {"inputs": [v2_json_input("x", np.ones((1, 30), np.float32))]}


def junk_value(rng):
    return rng.choice([None, True, -1, 1e308, "x" * rng.randint(0, 50), [], {}, [[[]]], {"a": [1]},
                       -(2 ** 63), 2 ** 64, "FP32", [-5, 30], [1, -30], [2 ** 62, 2 ** 62]])


def make_case(rng, i):
    """(kind, callable(session, base, port) -> status code)."""
    kind = i % 12
    valid = json.dumps(valid_body())
    if kind == 0:  # random bytes as a JSON body
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 400)))
        return "random body", lambda s, b, p: s.post(b + "/v2/models/mlp/infer", data=body).status_code
    if kind == 1:  # random bytes with a binary header length
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400)))
        hl = str(rng.randint(0, len(body) + 10))
        return "random binary", lambda s, b, p: s.post(b + "/v2/models/mlp/infer", data=body,
                                                        headers={"Inference-Header-Content-Length": hl}).status_code
    if kind == 2:  # truncated JSON
        cut = valid[:rng.randint(0, len(valid) - 1)]
        return "truncated", lambda s, b, p: s.post(b + "/v2/models/mlp/infer", data=cut).status_code
    if kind == 3:  # absurd or negative shapes
        shape = rng.choice([[-1, 30], [1, -30], [2 ** 40, 2 ** 40], [0, 30], [1, 30, 1], [], [2 ** 63 - 1, 30],
                            [1e30, 30], ["1", 30], [None], [1] * 20, [65, 30], [3, 30]])
        body = {"inputs": [{"name": "x", "shape": shape, "datatype": "FP32", "data": [0.5] * 30}]}
        return "shape", lambda s, b, p: s.post(b + "/v2/models/mlp/infer", json=body).status_code
    if kind == 4:  # deep nesting (a few of them: each is 200 KB)
        depth = 100000 if i % 48 == 4 else rng.randint(65, 3000)
        body = '{"inputs":' + "[" * depth + "]" * depth + "}" if rng.random() < 0.5 else \
            '{"inputs":[{"name":"x","shape":[1,30],"datatype":"FP32","data":' + "[" * depth + "1" + "]" * depth + "}]}"
        return "nesting", lambda s, b, p: s.post(b + "/v2/models/mlp/infer", data=body).status_code
    if kind == 5:  # wrong types in every place
        body = valid_body()
        where = rng.randint(0, 6)
        t = body["inputs"][0]
        if where == 0:
            body["inputs"] = junk_value(rng)
        elif where == 1:
            t["name"] = junk_value(rng)
        elif where == 2:
            t["datatype"] = rng.choice(["FP33", "", "fp32", "INT64", "BYTES", 5])
        elif where == 3:
            t["data"] = [junk_value(rng) for _ in range(29)] + [rng.choice(["x", None, [], {}, True])]
            rng.shuffle(t["data"])
        elif where == 4:  # (an empty list is valid: it asks for every output)
            body["outputs"] = rng.choice([5, "logits", {}, [5], [[]], None, True]) if rng.random() < 0.5 \
                else [{"name": rng.choice([None, 5, "", "prob", [], "logits "])}]
        elif where == 5:
            body["parameters"] = rng.choice([[], 5, {"timeout": "x"}, {"binary_data_output": 1}])
        else:
            t["parameters"] = rng.choice([5, {"binary_data_size": -3}, {"shared_memory_region": "r"}])
        if body == valid_body():
            body["inputs"] = None
        return "types", lambda s, b, p: s.post(b + "/v2/models/mlp/infer", json=body).status_code
    if kind == 6:  # bad binary sizes
        blob = np.ones((1, 30), np.float32).tobytes()
        size = rng.choice([0, 1, 119, 121, 10 ** 12, 240])
        head = json.dumps({"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP32",
                                       "parameters": {"binary_data_size": size}}]}).encode()
        extra = blob[:rng.randint(0, 120)] if size == 120 else blob
        return "binary size", lambda s, b, p: s.post(b + "/v2/models/mlp/infer", data=head + extra,
                                                      headers={"Inference-Header-Content-Length": str(len(head))}).status_code
    if kind == 7:  # path tricks in model names
        name = rng.choice(["..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", ".", "mlp%00", "%00", "mlp%2F1", "..%5C",
                           "m" * 1000, "%ff%fe", "mlp/../mlp", "~root", "%", "a%2", "CON", "mlp%20"])
        action = rng.choice(["infer", "config", "ready", "stats", ""])
        path = f"/v2/models/{name}/{action}" if action else f"/v2/models/{name}"
        if name == "mlp/../mlp":  # the server does not resolve dot segments: a model named '..'
            path = f"/v2/models/mlp/../{action or 'x'}/y"
        method = b"POST" if action == "infer" else b"GET"
        req = method + b" " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " + \
            str(len(valid)).encode() + b"\r\n\r\n" + valid.encode()
        # sent raw: a client library would resolve '..' and '.' before sending
        return "path", lambda s, b, p: status_of(raw_http(p, req, timeout=10))
    if kind == 8:  # an 80 MiB declared body that never comes
        return "80 MiB", lambda s, b, p: status_of(raw_http(
            p, b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 83886080\r\n\r\n{", timeout=10))
    if kind == 9:  # a 1 MiB header (only some: each sends a megabyte)
        size = (1 << 20) if i % 48 == 9 else rng.randint(70000, 200000)
        return "big header", lambda s, b, p: status_of(raw_http(
            p, b"GET /v2 HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * size + b"\r\n\r\n", timeout=30))
    if kind == 10:  # random bytes as the whole request
        # (not only line breaks: empty lines before a request are allowed and skipped)
        junk = bytes([rng.choice(b"GET/:abc\x00\xff ")]) + \
            bytes(rng.choice(b"GET /\r\n:abc\x00\xff ") for _ in range(rng.randint(0, 200)))
        return "random request", lambda s, b, p: status_of(raw_http(p, junk + b"\r\n\r\n", timeout=10))
    # kind 11: unknown models, versions and endpoints
    path = rng.choice(["/v2/models/nope/infer", "/v2/models/mlp/versions/9/infer", "/v2/models/mlp/versions/x/infer",
                       "/v2/models/mlp/explode", "/v3", "/v2/repository/models/mlp/load", "/v1/models/mlp:fly"])
    return "unknown", lambda s, b, p: s.post(b + path, data=valid).status_code


def test_hostile_requests_all_get_4xx(srv):
    rng = random.Random(1234)
    cases = [make_case(rng, i) for i in range(N_REQUESTS)]
    failures = []

    def run(chunk):
        s = requests.Session()
        out = []
        for kind, fn in chunk:
            try:
                code = fn(s, srv.base, srv.port)
            except requests.RequestException as e:
                code = f"exception {e!r}"
            out.append((kind, code))
        s.close()
        return out

    chunks = [cases[k::8] for k in range(8)]
    with ThreadPoolExecutor(8) as ex:
        for res in ex.map(run, chunks):
            for kind, code in res:
                if not (isinstance(code, int) and 400 <= code < 500):
                    failures.append((kind, code))
    assert srv.alive(), srv.log()[-3000:]
    assert not failures, f"{len(failures)} requests without a 4xx, e.g. {failures[:10]}"


def test_serves_correctly_afterwards(srv):
    _, ins, outs = fixture("mlp_op13")
    r = srv.post("/v2/models/mlp/infer", json={"inputs": [v2_json_input("x", ins["x"])]})
    assert r.status_code == 200
    assert rel_err(parse_response(r)[1]["logits"], outs["logits"]) < 1e-4
    assert srv.get("/v2/health/ready").status_code == 200
    m = srv.get("/metrics").text
    assert "ladle_request_failure_total" in m
