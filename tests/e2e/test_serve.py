"""`ladle serve` end to end: every V2 endpoint, the binary extension, V1, the repository,
configuration and statistics extensions, and /metrics, with outputs checked against the golden
fixtures (torch's outputs) and against `ladle predict`."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import requests

from serve_util import (Server, add_model, binary_request, fixture, identity_model, ladle_bin,
                        metric, parse_response, raw_http, rel_err, serialize_bytes, status_of,
                        v2_json_input)

TOL = 1e-4


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("repo"))
    add_model(d, "mlp", fixture("mlp_op13")[0])
    add_model(d, "rec", fixture("recommender_op17")[0])
    add_model(d, "text", fixture("text_encoder_tiny_op17")[0])
    add_model(d, "ids", identity_model(os.path.join(d, "identity.onnx")))
    os.remove(os.path.join(d, "identity.onnx"))
    return d


@pytest.fixture(scope="module")
def srv(repo):
    s = Server(repo)
    yield s
    s.stop()


def infer(srv, model, body, **kw):
    return srv.post(f"/v2/models/{model}/infer", json=body, **kw)


# --- health and metadata ----------------------------------------------------------------------

def test_health(srv):
    r = srv.get("/v2/health/live")
    assert r.status_code == 200 and r.json() == {"live": True}
    r = srv.get("/v2/health/ready")
    assert r.status_code == 200 and r.json() == {"ready": True}


def test_server_metadata_lists_working_extensions(srv):
    r = srv.get("/v2")
    assert r.status_code == 200
    js = r.json()
    assert js["name"] == "ladle" and js["version"]
    assert sorted(js["extensions"]) == sorted(
        ["binary_tensor_data", "model_repository", "model_configuration", "statistics"])


def test_model_metadata(srv):
    for path in ("/v2/models/mlp", "/v2/models/mlp/versions/1"):
        r = srv.get(path)
        assert r.status_code == 200, r.text
        js = r.json()
        assert js["name"] == "mlp" and js["versions"] == ["1"] and js["platform"]
        assert js["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 30]}]
        assert js["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 2]}]
    js = srv.get("/v2/models/rec").json()
    assert [(i["name"], i["datatype"]) for i in js["inputs"]] == [
        ("user_id", "INT64"), ("item_id", "INT64"), ("dense", "FP32")]


def test_unknown_model_and_version(srv):
    r = srv.get("/v2/models/nope")
    assert r.status_code == 404 and "nope" in r.json()["error"]
    r = srv.get("/v2/models/mlp/versions/7")
    assert r.status_code == 404 and "version" in r.json()["error"] and "1" in r.json()["error"]
    r = srv.get("/v2/models/mlp/versions/7/ready")
    assert r.status_code == 404


def test_model_ready(srv):
    assert srv.get("/v2/models/mlp/ready").status_code == 200
    assert srv.get("/v2/models/mlp/versions/1/ready").status_code == 200
    assert srv.get("/v2/models/nope/ready").status_code == 404


def test_models_list(srv):
    r = srv.get("/v2/models")
    assert r.status_code == 200 and r.json() == {"models": ["ids", "mlp", "rec", "text"]}


# --- inference: JSON -----------------------------------------------------------------------------

@pytest.mark.parametrize("flat", [True, False])
def test_infer_json_matches_torch(srv, flat):
    _, ins, outs = fixture("mlp_op13")
    body = {"id": "req-42", "inputs": [v2_json_input("x", ins["x"], flat=flat)]}
    r = infer(srv, "mlp", body)
    assert r.status_code == 200, r.text
    js, arrays = parse_response(r)
    assert js["model_name"] == "mlp" and js["model_version"] == "1" and js["id"] == "req-42"
    assert js["outputs"][0]["shape"] == [2, 2] and js["outputs"][0]["datatype"] == "FP32"
    assert rel_err(arrays["logits"], outs["logits"]) < TOL


def test_infer_without_id_has_no_id(srv):
    _, ins, _ = fixture("mlp_op13")
    r = infer(srv, "mlp", {"inputs": [v2_json_input("x", ins["x"])]})
    assert r.status_code == 200 and "id" not in r.json()


def test_infer_versioned_path(srv):
    _, ins, outs = fixture("mlp_op13")
    r = srv.post("/v2/models/mlp/versions/1/infer", json={"inputs": [v2_json_input("x", ins["x"])]})
    assert r.status_code == 200
    assert rel_err(parse_response(r)[1]["logits"], outs["logits"]) < TOL


def test_infer_equals_ladle_predict(srv, tmp_path):
    model, ins, _ = fixture("recommender_op17")
    args = [ladle_bin(), "predict", "--model", model, "--output-dir", str(tmp_path)]
    for name, arr in ins.items():
        p = tmp_path / f"{name}.npy"
        np.save(p, arr)
        args += ["--input", f"{name}={p}"]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    r = infer(srv, "rec", {"inputs": [v2_json_input(n, a) for n, a in ins.items()]})
    assert r.status_code == 200, r.text
    _, arrays = parse_response(r)
    assert set(arrays) == {"score:0", "dot"}
    for name in arrays:
        ref = np.load(tmp_path / (name.replace(":", "_") + ".npy"))
        assert arrays[name].shape == ref.shape
        assert np.allclose(arrays[name], ref, rtol=1e-6, atol=1e-6), name


def test_infer_output_selection(srv):
    _, ins, outs = fixture("recommender_op17")
    body = {"inputs": [v2_json_input(n, a) for n, a in ins.items()], "outputs": [{"name": "dot"}]}
    r = infer(srv, "rec", body)
    assert r.status_code == 200
    js, arrays = parse_response(r)
    assert [o["name"] for o in js["outputs"]] == ["dot"]
    assert rel_err(arrays["dot"], outs["dot"]) < TOL
    # order follows the request
    body["outputs"] = [{"name": "dot"}, {"name": "score:0"}]
    js = infer(srv, "rec", body).json()
    assert [o["name"] for o in js["outputs"]] == ["dot", "score:0"]


def test_infer_variable_sequence(srv):
    _, ins, outs = fixture("text_encoder_tiny_op17")
    r = infer(srv, "text", {"inputs": [v2_json_input("ids", ins["ids"])]})
    assert r.status_code == 200, r.text
    assert rel_err(parse_response(r)[1]["logits"], outs["logits"]) < TOL
    short = ins["ids"][:, :5]
    r = infer(srv, "text", {"inputs": [v2_json_input("ids", short)]})
    assert r.status_code == 200 and parse_response(r)[1]["logits"].shape == (2, 3)


def test_every_datatype_round_trips_as_json(srv):
    values = {
        "b": np.array([[True, False]]), "i8": np.array([[-128, 127]], np.int8),
        "u8": np.array([[0, 255]], np.uint8), "i16": np.array([[-32768, 32767]], np.int16),
        "u16": np.array([[0, 65535]], np.uint16), "i32": np.array([[-2**31, 2**31 - 1]], np.int32),
        "u32": np.array([[0, 2**32 - 1]], np.uint32), "i64": np.array([[-2**63, 2**63 - 1]], np.int64),
        "u64": np.array([[0, 2**64 - 1]], np.uint64), "f16": np.array([[0.5, -1.25]], np.float16),
        "f32": np.array([[0.1, -3.25e38]], np.float32), "f64": np.array([[0.1, 1e300]], np.float64),
        "s": np.array([["héllo", "a\"b\\c\n"]], dtype=object),
    }
    body = {"inputs": [v2_json_input(k + "_in", v, datatype="BYTES" if k == "s" else None)
                       for k, v in values.items()]}
    r = infer(srv, "ids", body)
    assert r.status_code == 200, r.text
    _, arrays = parse_response(r)
    for k, v in values.items():
        got = arrays[k + "_out"]
        if k == "s":
            assert got.tolist() == v.tolist()
        else:
            assert got.dtype == v.dtype and np.array_equal(got, v), k


# --- inference: binary extension -----------------------------------------------------------------

def test_binary_in_binary_out(srv):
    _, ins, outs = fixture("mlp_op13")
    body, headers = binary_request([("x", ins["x"], True)], outputs=["logits"], request_id="b1")
    r = srv.post("/v2/models/mlp/infer", data=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/octet-stream"
    js, arrays = parse_response(r)
    assert js["id"] == "b1" and js["outputs"][0]["parameters"]["binary_data_size"] == 16
    assert rel_err(arrays["logits"], outs["logits"]) < TOL


def test_json_in_binary_out_by_default_parameter(srv):
    _, ins, outs = fixture("recommender_op17")
    body, headers = binary_request([(n, a, False) for n, a in ins.items()])
    assert "Inference-Header-Content-Length" not in headers
    r = srv.post("/v2/models/rec/infer", data=body, headers=headers)
    assert r.status_code == 200, r.text
    assert "Inference-Header-Content-Length" in r.headers
    _, arrays = parse_response(r)
    for k in ("score:0", "dot"):
        assert rel_err(arrays[k], outs[k]) < TOL


def test_mixed_binary_and_json_tensors(srv):
    _, ins, outs = fixture("recommender_op17")
    inputs = [("user_id", ins["user_id"], True), ("item_id", ins["item_id"], False),
              ("dense", ins["dense"], True)]
    body, headers = binary_request(inputs, outputs=["score:0"], binary_outputs=False)
    r = srv.post("/v2/models/rec/infer", data=body, headers=headers)
    assert r.status_code == 200, r.text
    assert "Inference-Header-Content-Length" not in r.headers
    js, arrays = parse_response(r)
    assert "data" in js["outputs"][0]
    assert rel_err(arrays["score:0"], outs["score:0"]) < TOL


def test_binary_every_datatype_and_bytes(srv):
    values = {
        "b": np.array([[True, False]]), "i8": np.array([[-1, 2]], np.int8),
        "u64": np.array([[1, 2**64 - 1]], np.uint64), "f16": np.array([[0.5, -1.25]], np.float16),
        "f64": np.array([[1e-300, 2.5]], np.float64),
        "s": np.array([[b"\x00\xffbin", b""]], dtype=object),
    }
    body, headers = binary_request([(k + "_in", v, True) for k, v in values.items()],
                                   outputs=[k + "_out" for k in values])
    r = srv.post("/v2/models/ids/infer", data=body, headers=headers)
    # the identity model has every input: give the rest as JSON
    assert r.status_code == 400 and "missing input" in r.json()["error"]
    rest = {"i16": np.int16, "u8": np.uint8, "u16": np.uint16, "i32": np.int32, "u32": np.uint32,
            "i64": np.int64, "f32": np.float32}
    inputs = [(k + "_in", v, True) for k, v in values.items()]
    inputs += [(k + "_in", np.array([[1, 2]], t), False) for k, t in rest.items()]
    body, headers = binary_request(inputs, outputs=[k + "_out" for k in values])
    r = srv.post("/v2/models/ids/infer", data=body, headers=headers)
    assert r.status_code == 200, r.text
    _, arrays = parse_response(r)
    for k, v in values.items():
        got = arrays[k + "_out"]
        if k == "s":
            # strings travel as C strings inside the runtime: bytes after a NUL are not kept
            assert got.tolist() == [[b"", b""]]
        else:
            assert np.array_equal(got, v), k


def test_raw_binary_request(srv):
    _, ins, outs = fixture("mlp_op13")
    row = ins["x"][:1]
    r = srv.post("/v2/models/mlp/infer", data=row.tobytes(),
                 headers={"Inference-Header-Content-Length": "0",
                          "Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    js, arrays = parse_response(r)
    assert arrays["logits"].shape == (1, 2)
    assert rel_err(arrays["logits"], outs["logits"][:1]) < TOL


# --- V1 ------------------------------------------------------------------------------------------

def test_v1_instances_and_inputs(srv):
    _, ins, outs = fixture("mlp_op13")
    r = srv.post("/v1/models/mlp:predict", json={"instances": ins["x"].tolist()})
    assert r.status_code == 200, r.text
    pred = np.array(r.json()["predictions"], np.float32)
    assert pred.shape == (2, 2) and rel_err(pred, outs["logits"]) < TOL
    r = srv.post("/v1/models/mlp/versions/1:predict", json={"inputs": ins["x"].tolist()})
    assert r.status_code == 200, r.text
    assert rel_err(np.array(r.json()["outputs"]), outs["logits"]) < TOL
    r = srv.post("/v1/models/mlp:predict", json={"instances": [{"x": row} for row in ins["x"].tolist()]})
    assert r.status_code == 200 and rel_err(np.array(r.json()["predictions"]), outs["logits"]) < TOL


def test_v1_multi_input_multi_output(srv):
    _, ins, outs = fixture("recommender_op17")
    rows = [{k: v[i].tolist() for k, v in ins.items()} for i in range(2)]
    r = srv.post("/v1/models/rec:predict", json={"instances": rows})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert len(preds) == 2 and set(preds[0]) == {"score:0", "dot"}
    assert rel_err(np.array([p["dot"] for p in preds]), outs["dot"]) < TOL
    r = srv.post("/v1/models/rec:predict", json={"inputs": {k: v.tolist() for k, v in ins.items()}})
    assert r.status_code == 200
    assert rel_err(np.array(r.json()["outputs"]["score:0"]), outs["score:0"]) < TOL


def test_v1_errors_and_status(srv):
    r = srv.get("/v1/models/mlp")
    assert r.status_code == 200
    js = r.json()
    assert js["model_version_status"][0]["state"] == "AVAILABLE" and js["ready"] is True
    r = srv.post("/v1/models/mlp:predict", json={"instances": [[1.0] * 29]})
    assert r.status_code == 400 and "expected shape" in r.json()["error"]
    r = srv.post("/v1/models/mlp:predict", json={"instances": [[1.0] * 30, [1.0] * 29]})
    assert r.status_code == 400 and "rectangular" in r.json()["error"]
    r = srv.post("/v1/models/mlp:predict", json={"rows": []})
    assert r.status_code == 400 and "instances" in r.json()["error"]
    assert srv.post("/v1/models/nope:predict", json={"instances": [1]}).status_code == 404
    assert srv.post("/v1/models/mlp:explain", json={"instances": [1]}).status_code == 404


# --- extensions ----------------------------------------------------------------------------------

def test_model_config(srv):
    for path in ("/v2/models/mlp/config", "/v2/models/mlp/versions/1/config"):
        r = srv.get(path)
        assert r.status_code == 200
        js = r.json()
        assert js["name"] == "mlp" and js["max_batch_size"] == 64
        assert js["input"][0]["dims"] == [30] and js["input"][0]["data_type"] == "TYPE_FP32"
        assert js["dynamic_batching"]["max_queue_delay_microseconds"] == 0
        assert js["instance_group"][0]["count"] == 1
    assert srv.get("/v2/models/nope/config").status_code == 404


def test_statistics(srv):
    _, ins, _ = fixture("mlp_op13")
    before = srv.get("/v2/models/mlp/stats").json()["model_stats"][0]
    for _ in range(3):
        assert infer(srv, "mlp", {"inputs": [v2_json_input("x", ins["x"])]}).status_code == 200
    js = srv.get("/v2/models/mlp/stats").json()
    st = js["model_stats"][0]
    assert st["name"] == "mlp" and st["version"] == "1"
    assert st["inference_count"] - before["inference_count"] == 6
    assert st["inference_stats"]["success"]["count"] - before["inference_stats"]["success"]["count"] == 3
    assert st["inference_stats"]["queue"]["ns"] > 0 and st["last_inference"] > 0
    assert any(b["batch_size"] == 2 for b in st["batch_stats"])
    all_stats = srv.get("/v2/models/stats").json()["model_stats"]
    assert sorted(s["name"] for s in all_stats) == ["ids", "mlp", "rec", "text"]
    assert srv.get("/v2/models/mlp/versions/1/stats").status_code == 200
    assert srv.get("/v2/models/nope/stats").status_code == 404


def test_repository_index(srv):
    r = srv.post("/v2/repository/index")
    assert r.status_code == 200
    rows = r.json()
    assert [(x["name"], x["version"], x["state"]) for x in rows] == [
        ("ids", "1", "READY"), ("mlp", "1", "READY"), ("rec", "1", "READY"), ("text", "1", "READY")]
    r = srv.post("/v2/repository/index", json={"ready": True})
    assert len(r.json()) == 4
    r = srv.post("/v2/repository/index", data="{bad")
    assert r.status_code == 400


def test_load_unload_refused_in_mode_none(srv):
    r = srv.post("/v2/repository/models/mlp/unload")
    assert r.status_code == 400 and "model-control-mode" in r.json()["error"]
    r = srv.post("/v2/repository/models/mlp/load")
    assert r.status_code == 400


def test_metrics(srv):
    _, ins, _ = fixture("mlp_op13")
    assert infer(srv, "mlp", {"inputs": [v2_json_input("x", ins["x"])]}).status_code == 200
    assert infer(srv, "mlp", {"inputs": [{"name": "x"}]}).status_code == 400
    r = srv.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    for name in ("ladle_request_success_total", "ladle_inference_count_total",
                 "ladle_execution_count_total", "ladle_queue_depth", "ladle_inflight_requests"):
        assert metric(text, name, model="mlp", version="1") is not None, name
    assert metric(text, "ladle_request_success_total", model="mlp", version="1") >= 1
    assert metric(text, "ladle_request_failure_total", model="mlp", version="1", reason="invalid") >= 1
    assert metric(text, "ladle_request_duration_seconds_count", model="mlp", version="1") >= 1
    assert metric(text, "ladle_request_duration_seconds_bucket", model="mlp", version="1", le="+Inf") >= 1
    assert metric(text, "ladle_batch_size_count", model="mlp", version="1") >= 1
    assert metric(text, "ladle_process_resident_memory_bytes") > 0
    assert metric(text, "ladle_process_cpu_seconds_total") >= 0
    assert metric(text, "ladle_http_connections") >= 1
    # every sample line parses
    for line in text.splitlines():
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


# --- HTTP behaviour ------------------------------------------------------------------------------

def test_methods_paths_and_head(srv):
    r = srv.session.delete(srv.url("/v2/models/mlp/infer"))
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    r = srv.post("/v2/health/live")
    assert r.status_code == 405
    r = srv.get("/nothing/here")
    assert r.status_code == 404 and "error" in r.json()
    r = srv.session.head(srv.url("/v2/models/mlp"))
    assert r.status_code == 200 and int(r.headers["Content-Length"]) > 0 and r.content == b""
    r = srv.get("/v2/models/%2e%2e/config")
    assert r.status_code == 400


def test_keep_alive_and_http10(srv):
    raw = raw_http(srv.port, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
                             b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.count(b"HTTP/1.1 200") == 2 and raw.endswith(b'{"ready":true}')
    raw = raw_http(srv.port, b"GET /v2/health/live HTTP/1.0\r\n\r\n")
    assert status_of(raw) == 200 and b"Connection: close" in raw


def test_chunked_request_body(srv):
    _, ins, outs = fixture("mlp_op13")
    payload = json.dumps({"inputs": [v2_json_input("x", ins["x"])]}).encode()
    parts = (payload[i:i + 100] for i in range(0, len(payload), 100))
    r = srv.post("/v2/models/mlp/infer", data=parts)  # a generator: requests sends it chunked
    assert r.status_code == 200, r.text
    assert rel_err(parse_response(r)[1]["logits"], outs["logits"]) < TOL


def test_curl(srv, tmp_path):
    _, ins, outs = fixture("mlp_op13")
    x = np.tile(ins["x"], (32, 1))  # a bigger body: curl sends Expect: 100-continue
    body = tmp_path / "req.json"
    body.write_text(json.dumps({"inputs": [v2_json_input("x", x)]}))
    p = subprocess.run(["curl", "-sS", "-H", "Expect: 100-continue", "-w", "\n%{http_code}",
                        "-X", "POST", "--data-binary", f"@{body}", srv.url("/v2/models/mlp/infer")],
                       capture_output=True, text=True, timeout=60)
    out, code = p.stdout.rsplit("\n", 1)
    assert code == "200", p.stdout + p.stderr
    got = np.array(json.loads(out)["outputs"][0]["data"], np.float32).reshape(64, 2)
    assert rel_err(got[:2], outs["logits"]) < TOL
    p = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", srv.url("/v2/models/mlp")],
                       capture_output=True, text=True, timeout=60)
    assert p.stdout.endswith("\n200")
