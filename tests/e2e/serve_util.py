"""Helpers for the `ladle serve` end-to-end tests: a temporary model repository built from the
committed fixtures, and the real binary started on a free loopback port.

The binary is build/ladle unless LADLE_BIN names another (e.g. LADLE_BIN=build-asan/ladle).
The server is started with --http-port 0 and the port it chose is read from its log, so tests
never race for ports. Stopping sends SIGTERM and requires exit status 0 (under ASan a leak or an
error report makes that fail, with the log in the message).
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import numpy as np
import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures")

V2_DTYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
    "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
    "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
}


def ladle_bin():
    path = os.environ.get("LADLE_BIN") or os.path.join(REPO, "build", "ladle")
    return path if os.path.isabs(path) else os.path.join(REPO, path)


def fixture(name):
    """(model path, {input: array}, {output: array}) of a golden fixture."""
    d = os.path.join(FIXTURES, name)
    with open(os.path.join(d, "meta.json")) as fp:
        meta = json.load(fp)
    ins = {i["name"]: np.load(os.path.join(d, i["file"])) for i in meta["inputs"]}
    outs = {o["name"]: np.load(os.path.join(d, o["file"])) for o in meta["outputs"]}
    return os.path.join(d, "model.onnx"), ins, outs


def add_model(repo_dir, name, onnx_path, versions=(1,), config=None):
    """Adds repo_dir/name/<v>/model.onnx for each version, and config.yaml when given (text)."""
    for v in versions:
        vd = os.path.join(repo_dir, name, str(v))
        os.makedirs(vd, exist_ok=True)
        shutil.copy(onnx_path, os.path.join(vd, "model.onnx"))
    if config is not None:
        with open(os.path.join(repo_dir, name, "config.yaml"), "w") as fp:
            fp.write(config)


def identity_model(path, batch=True):
    """An ONNX model with one Identity per V2 datatype: <t>_in -> <t>_out, shape [batch, 2]."""
    import onnx
    from onnx import helper, TensorProto as T
    kinds = [("s", T.STRING), ("b", T.BOOL), ("i8", T.INT8), ("u8", T.UINT8), ("i16", T.INT16),
             ("u16", T.UINT16), ("i32", T.INT32), ("u32", T.UINT32), ("i64", T.INT64),
             ("u64", T.UINT64), ("f16", T.FLOAT16), ("f32", T.FLOAT), ("f64", T.DOUBLE)]
    first = "batch" if batch else 1
    ins, outs, nodes = [], [], []
    for name, dt in kinds:
        ins.append(helper.make_tensor_value_info(name + "_in", dt, [first, 2]))
        outs.append(helper.make_tensor_value_info(name + "_out", dt, [first, 2]))
        nodes.append(helper.make_node("Identity", [name + "_in"], [name + "_out"]))
    m = helper.make_model(helper.make_graph(nodes, "identity", ins, outs),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


class Server:
    """`ladle serve` on a free loopback port. Use as a context manager or call stop()."""

    def __init__(self, repo_dir, *args, wait_ready=True, timeout=60, env=None):
        self.log_path = tempfile.mktemp(prefix="ladle-serve-", suffix=".log")
        self._log = open(self.log_path, "wb")
        cmd = [ladle_bin(), "serve", "--model-repository", repo_dir, "--http-port", "0",
               "--http-address", "127.0.0.1", *map(str, args)]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)
        self.port = None
        deadline = time.time() + timeout
        while self.port is None:
            if self.proc.poll() is not None:
                raise AssertionError(f"ladle serve exited with {self.proc.returncode}:\n{self.log()}")
            m = re.search(r"listening on \S+ port (\d+)", self.log())
            if m:
                self.port = int(m.group(1))
                break
            if time.time() > deadline:
                self.kill()
                raise AssertionError(f"ladle serve did not start listening:\n{self.log()}")
            time.sleep(0.02)
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = requests.Session()
        if wait_ready:
            self.wait_ready(timeout)

    def url(self, path):
        return self.base + path

    def get(self, path, **kw):
        return self.session.get(self.url(path), timeout=kw.pop("timeout", 30), **kw)

    def post(self, path, **kw):
        return self.session.post(self.url(path), timeout=kw.pop("timeout", 30), **kw)

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ladle serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url("/v2/health/ready"), timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError(f"/v2/health/ready did not turn 200 within {timeout}s:\n{self.log()}")

    def log(self):
        try:
            with open(self.log_path, "rb") as fp:
                return fp.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Stops the server; returns its exit status (asserting it is 0)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"ladle serve did not stop within {timeout}s:\n{self.log()}")
        self.session.close()
        self._log.close()
        rc = self.proc.returncode
        assert rc == 0, f"ladle serve exited with {rc}:\n{self.log()[-6000:]}"
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.kill()
            self.session.close()
            self._log.close()


# --- protocol helpers ------------------------------------------------------------------------

def v2_json_input(name, arr, datatype=None, flat=True):
    arr = np.asarray(arr)
    dt = datatype or np_to_v2(arr.dtype)
    if arr.dtype.kind in "SUO":
        data = [x.decode() if isinstance(x, bytes) else str(x) for x in arr.ravel()]
    else:
        data = arr.ravel().tolist() if flat else arr.tolist()
    return {"name": name, "shape": list(arr.shape), "datatype": dt, "data": data}


def np_to_v2(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "SUO":
        return "BYTES"
    for k, v in V2_DTYPES.items():
        if np.dtype(v) == dtype:
            return k
    raise ValueError(dtype)


def serialize_bytes(arr):
    """Triton's BYTES binary form: per element a 4-byte little-endian length and the bytes."""
    out = b""
    for x in np.asarray(arr, dtype=object).ravel():
        b = x if isinstance(x, bytes) else str(x).encode()
        out += struct.pack("<I", len(b)) + b
    return out


def deserialize_bytes(buf):
    out, off = [], 0
    while off < len(buf):
        (n,) = struct.unpack_from("<I", buf, off)
        off += 4
        out.append(buf[off:off + n])
        off += n
    return out


def binary_request(inputs, outputs=None, binary_outputs=True, request_id=None, parameters=None):
    """Builds a body the way tritonclient.http does: JSON, then the binary tensors in order.
    inputs: list of (name, array, binary?). Returns (body bytes, headers)."""
    js, blobs = {"inputs": []}, []
    for name, arr, binary in inputs:
        arr = np.asarray(arr)
        dt = np_to_v2(arr.dtype)
        t = {"name": name, "shape": list(arr.shape), "datatype": dt}
        if binary:
            raw = serialize_bytes(arr) if dt == "BYTES" else arr.tobytes()
            t["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            t["data"] = v2_json_input(name, arr)["data"]
        js["inputs"].append(t)
    params = dict(parameters or {})
    if request_id is not None:
        js["id"] = request_id
    if outputs:
        js["outputs"] = [{"name": o, "parameters": {"binary_data": binary_outputs}} for o in outputs]
    else:
        params["binary_data_output"] = binary_outputs
    if params:
        js["parameters"] = params
    head = json.dumps(js).encode()
    headers = {"Content-Type": "application/octet-stream"}
    if blobs:
        headers["Inference-Header-Content-Length"] = str(len(head))
    return head + b"".join(blobs), headers


def parse_response(resp):
    """(json header, {output name: numpy array}) from a V2 response, binary or not."""
    body = resp.content
    hl = resp.headers.get("Inference-Header-Content-Length")
    if hl is None:
        js, rest = json.loads(body), b""
    else:
        js, rest = json.loads(body[:int(hl)]), body[int(hl):]
    arrays, off = {}, 0
    for o in js.get("outputs", []):
        shape = o["shape"]
        size = (o.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            raw = rest[off:off + size]
            off += size
            if o["datatype"] == "BYTES":
                arrays[o["name"]] = np.array(deserialize_bytes(raw), dtype=object).reshape(shape)
            else:
                arrays[o["name"]] = np.frombuffer(raw, dtype=V2_DTYPES[o["datatype"]]).reshape(shape)
        elif o["datatype"] == "BYTES":
            arrays[o["name"]] = np.array(o["data"], dtype=object).reshape(shape)
        else:
            arrays[o["name"]] = np.array(o["data"], dtype=V2_DTYPES[o["datatype"]]).reshape(shape)
    assert off == len(rest), f"{len(rest) - off} binary bytes left unread"
    return js, arrays


def raw_http(port, data, timeout=10, read_all=True):
    """Sends raw bytes, returns the raw answer (until the server closes or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
            if not read_all and b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)
    finally:
        s.close()


def status_of(raw):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(m.group(1)) if m else None


def rel_err(out, ref):
    out, ref = np.asarray(out, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if out.size == 0:
        return 0.0
    scale = float(np.abs(ref).max()) or 1.0
    return float(np.abs(out - ref).max()) / scale


def metric(text, name, **labels):
    """The value of one sample in Prometheus text, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = (m.group(2) or "{}")[1:-1]
        if all(part in got.split(",") for part in want.split(",") if part):
            return float(m.group(3))
    return None
