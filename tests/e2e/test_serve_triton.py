"""What Triton's HTTP client (tritonclient.http) sends and reads, byte for byte where it matters:
it is not installable here, so these tests replay its requests (the JSON it builds, the binary
tensors after it, the Inference-Header-Content-Length header, binary_data_output when no outputs
are named) and read responses the way InferResult does. Outputs are compared with torch's."""

import json
import os
import struct

import numpy as np
import pytest
import requests

from serve_util import Server, add_model, fixture, identity_model, rel_err

TOL = 1e-4
TRITON_TO_NP = {"BOOL": np.bool_, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
                "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
                "FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("repo"))
    add_model(d, "mlp", fixture("mlp_op13")[0])
    add_model(d, "rec", fixture("recommender_op17")[0])
    add_model(d, "ids", identity_model(os.path.join(d, "identity.onnx")))
    os.remove(os.path.join(d, "identity.onnx"))
    s = Server(d, "--model-control-mode", "explicit", "--load-model", "*")
    yield s
    s.stop()


class InferInput:
    """tritonclient.http.InferInput, the parts that shape the request."""

    def __init__(self, name, shape, datatype):
        self.name, self.shape, self.datatype = name, list(shape), datatype
        self.params, self.data, self.raw = {}, None, None

    def set_data_from_numpy(self, arr, binary_data=True):
        if binary_data:
            if self.datatype == "BYTES":
                raw = b"".join(struct.pack("<I", len(x)) + x for x in
                               (v if isinstance(v, bytes) else str(v).encode() for v in arr.ravel()))
            else:
                raw = arr.tobytes()
            self.raw = raw
            self.params["binary_data_size"] = len(raw)
        else:
            self.data = [v.decode() if isinstance(v, bytes) else v for v in arr.ravel().tolist()]

    def tensor(self):
        t = {"name": self.name, "shape": self.shape, "datatype": self.datatype}
        if self.params:
            t["parameters"] = self.params
        if self.data is not None:
            t["data"] = self.data
        return t


def requested_output(name, binary_data=True):
    return {"name": name, "parameters": {"binary_data": binary_data}}


def triton_infer(srv, model, inputs, outputs=None, request_id="", version=""):
    """tritonclient.http.InferenceServerClient.infer: _get_inference_request, then the POST."""
    req, params = {}, {}
    if request_id != "":
        req["id"] = request_id
    req["inputs"] = [i.tensor() for i in inputs]
    if outputs:
        req["outputs"] = outputs
    else:
        params["binary_data_output"] = True
    if params:
        req["parameters"] = params
    body = json.dumps(req)
    json_size = len(body)
    binary = b"".join(i.raw for i in inputs if i.raw is not None)
    headers = {}
    if binary:
        body = body.encode() + binary
        headers["Inference-Header-Content-Length"] = str(json_size)
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
    return requests.post(srv.url(path), data=body, headers=headers, timeout=30)


class InferResult:
    """tritonclient.http.InferResult: header length from the response header, outputs by offset."""

    def __init__(self, resp):
        assert resp.status_code == 200, resp.text
        hl = resp.headers.get("Inference-Header-Content-Length")
        content = resp.content
        if hl is None:
            self.result, self.buffer = json.loads(content), b""
        else:
            self.result, self.buffer = json.loads(content[:int(hl)]), content[int(hl):]
        self.offsets, off = {}, 0
        for o in self.result["outputs"]:
            size = (o.get("parameters") or {}).get("binary_data_size")
            if size is not None:
                self.offsets[o["name"]] = (off, size)
                off += size

    def as_numpy(self, name):
        for o in self.result["outputs"]:
            if o["name"] != name:
                continue
            dt = o["datatype"]
            if name in self.offsets:
                off, size = self.offsets[name]
                raw = self.buffer[off:off + size]
                if dt == "BYTES":
                    out, k = [], 0
                    while k < len(raw):
                        (n,) = struct.unpack_from("<I", raw, k)
                        out.append(raw[k + 4:k + 4 + n])
                        k += 4 + n
                    return np.array(out, dtype=np.object_).reshape(o["shape"])
                return np.frombuffer(raw, dtype=TRITON_TO_NP[dt]).reshape(o["shape"])
            return np.array(o["data"], dtype=TRITON_TO_NP[dt]).reshape(o["shape"])
        return None


def test_simple_client_calls(srv):
    assert requests.get(srv.url("/v2/health/live")).status_code == 200      # is_server_live
    assert requests.get(srv.url("/v2/health/ready")).status_code == 200     # is_server_ready
    assert requests.get(srv.url("/v2/models/mlp/ready")).status_code == 200  # is_model_ready
    md = requests.get(srv.url("/v2")).json()                                # get_server_metadata
    assert "binary_tensor_data" in md["extensions"]
    mm = requests.get(srv.url("/v2/models/mlp")).json()                     # get_model_metadata
    assert mm["inputs"][0]["name"] == "x"
    cfg = requests.get(srv.url("/v2/models/mlp/config")).json()             # get_model_config
    assert cfg["max_batch_size"] > 0
    idx = requests.post(srv.url("/v2/repository/index"), data="").json()     # get_model_repository_index
    assert {r["name"] for r in idx} == {"ids", "mlp", "rec"}


@pytest.mark.parametrize("binary_in,binary_out", [(True, True), (False, True), (True, False), (False, False)])
def test_infer_like_tritonclient(srv, binary_in, binary_out):
    _, ins, outs = fixture("mlp_op13")
    i = InferInput("x", ins["x"].shape, "FP32")
    i.set_data_from_numpy(ins["x"], binary_data=binary_in)
    res = InferResult(triton_infer(srv, "mlp", [i], [requested_output("logits", binary_out)], request_id="7"))
    assert res.result["id"] == "7" and res.result["model_name"] == "mlp"
    assert rel_err(res.as_numpy("logits"), outs["logits"]) < TOL


def test_infer_without_outputs_gets_all_binary(srv):
    _, ins, outs = fixture("recommender_op17")
    inputs = []
    for name, arr in ins.items():
        i = InferInput(name, arr.shape, "INT64" if arr.dtype == np.int64 else "FP32")
        i.set_data_from_numpy(arr, binary_data=name != "item_id")
        inputs.append(i)
    res = InferResult(triton_infer(srv, "rec", inputs, version="1"))
    assert set(res.offsets) == {"score:0", "dot"}
    for k in ("score:0", "dot"):
        assert rel_err(res.as_numpy(k), outs[k]) < TOL


def test_bytes_and_bool_like_tritonclient(srv):
    values = {"s": np.array([[b"one", b"two words"]], dtype=np.object_), "b": np.array([[True, False]]),
              "i8": np.array([[1, -1]], np.int8), "u8": np.array([[1, 2]], np.uint8),
              "i16": np.array([[1, 2]], np.int16), "u16": np.array([[1, 2]], np.uint16),
              "i32": np.array([[1, 2]], np.int32), "u32": np.array([[1, 2]], np.uint32),
              "i64": np.array([[1, 2]], np.int64), "u64": np.array([[1, 2]], np.uint64),
              "f16": np.array([[1, 2]], np.float16), "f32": np.array([[1, 2]], np.float32),
              "f64": np.array([[1, 2]], np.float64)}
    types = {"s": "BYTES", "b": "BOOL", "i8": "INT8", "u8": "UINT8", "i16": "INT16", "u16": "UINT16",
             "i32": "INT32", "u32": "UINT32", "i64": "INT64", "u64": "UINT64", "f16": "FP16",
             "f32": "FP32", "f64": "FP64"}
    for binary in (True, False):
        inputs = []
        for k, v in values.items():
            i = InferInput(k + "_in", v.shape, types[k])
            i.set_data_from_numpy(v, binary_data=binary or k == "f16")  # FP16 must be binary in tritonclient
            inputs.append(i)
        res = InferResult(triton_infer(srv, "ids", inputs, [requested_output(k + "_out", binary) for k in values]))
        for k, v in values.items():
            got = res.as_numpy(k + "_out")
            if k == "s":
                got = [x if isinstance(x, bytes) else x.encode() for x in got.ravel()]
                assert got == list(v.ravel())
            else:
                assert np.array_equal(got, v), (k, binary)


def test_wrong_input_name_is_a_clear_4xx(srv):
    i = InferInput("input__0", [1, 30], "FP32")
    i.set_data_from_numpy(np.zeros((1, 30), np.float32))
    r = triton_infer(srv, "mlp", [i], [requested_output("logits")])
    assert r.status_code == 400
    msg = r.json()["error"]  # tritonclient raises InferenceServerException(msg=error)
    assert "unknown input 'input__0'" in msg and "'x'" in msg


def test_statistics_unload_and_load(srv):
    st = requests.get(srv.url("/v2/models/mlp/stats")).json()              # get_inference_statistics
    assert st["model_stats"][0]["inference_stats"]["success"]["count"] > 0
    st = requests.get(srv.url("/v2/models/stats")).json()
    assert len(st["model_stats"]) == 3
    r = requests.post(srv.url("/v2/repository/models/mlp/unload"),          # unload_model
                      data=json.dumps({"parameters": {"unload_dependents": False}}))
    assert r.status_code == 200
    for _ in range(100):
        if requests.get(srv.url("/v2/models/mlp/ready")).status_code != 200:
            break
    assert requests.get(srv.url("/v2/models/mlp/ready")).status_code != 200
    r = requests.post(srv.url("/v2/repository/models/mlp/load"), data="")  # load_model
    assert r.status_code == 200
    assert requests.get(srv.url("/v2/models/mlp/ready")).status_code == 200
