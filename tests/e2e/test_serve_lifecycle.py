"""Start-up, model lifecycle and shutdown: background loading with failures isolated, model
control modes (none, explicit, poll), version policies, the command line and config file, and
graceful shutdown with requests in flight."""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import numpy as np
import pytest
import requests

from serve_util import Server, add_model, fixture, ladle_bin, parse_response, raw_http, rel_err, v2_json_input

MLP = fixture("mlp_op13")[0]
REC = fixture("recommender_op17")[0]
X = np.ones((1, 30), np.float32)


def infer(srv, model, version=None, x=X):
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
    return srv.post(path, json={"inputs": [v2_json_input("x", x)]})


def index(srv):
    return {(r["name"], r.get("version", "")): (r["state"], r["reason"]) for r in srv.post("/v2/repository/index").json()}


def wait_for(cond, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_failed_models_are_reported_and_isolated(tmp_path):
    d = str(tmp_path)
    add_model(d, "mlp", MLP)
    os.makedirs(f"{d}/broken/1")
    with open(f"{d}/broken/1/model.onnx", "wb") as fp:
        fp.write(b"this is not an onnx file" * 10)
    add_model(d, "badcfg", MLP, config="max_batch: 4\n")
    add_model(d, "badbatch", fixture("resnet_tiny_op17")[0], config="max_batch_size: 4\ninput:\n  - name: nope\n")
    os.makedirs(f"{d}/empty")
    with Server(d) as srv:
        assert srv.get("/v2/health/ready").status_code == 200
        assert infer(srv, "mlp").status_code == 200
        idx = index(srv)
        assert idx[("mlp", "1")][0] == "READY"
        assert idx[("broken", "")][0] == "UNAVAILABLE" and idx[("broken", "")][1]
        assert "unknown key 'max_batch'" in idx[("badcfg", "")][1] and "max_batch_size" in idx[("badcfg", "")][1]
        assert "nope" in idx[("badbatch", "")][1]
        assert "no version folders" in idx[("empty", "")][1]
        r = infer(srv, "broken")
        assert r.status_code == 404 and "not loaded" in r.json()["error"]
        assert "model 'broken'" in srv.log() and "ERROR" in srv.log()
    with Server(d, "--strict-readiness", wait_ready=False) as srv:
        wait_for(lambda: srv.get("/v2/models/mlp/ready").status_code == 200, what="mlp ready")
        time.sleep(0.3)
        r = srv.get("/v2/health/ready")
        assert r.status_code == 503 and srv.get("/v2/health/live").status_code == 200


def test_live_answers_at_once(tmp_path):
    d = str(tmp_path)
    for i in range(20):
        add_model(d, f"m{i:02d}", fixture("text_encoder_tiny_op17")[0])
    with Server(d, wait_ready=False) as srv:
        assert srv.get("/v2/health/live").status_code == 200
        assert srv.get("/v2/health/ready").status_code in (200, 503)
        srv.wait_ready()
        assert len(srv.post("/v2/repository/index", json={"ready": True}).json()) == 20


def test_explicit_mode(tmp_path):
    d = str(tmp_path)
    add_model(d, "mlp", MLP)
    add_model(d, "rec", REC)
    add_model(d, "mlp2", MLP)
    with Server(d, "--model-control-mode", "explicit", "--load-model", "mlp", "--load-model", "ghost") as srv:
        idx = index(srv)
        assert idx[("mlp", "1")][0] == "READY"
        assert idx[("rec", "")] == ("UNAVAILABLE", "not loaded")
        assert "no such folder" in idx[("ghost", "")][1]
        assert srv.get("/v2/models/rec").status_code == 404
        r = srv.post("/v2/repository/models/rec/load")
        assert r.status_code == 200, r.text
        assert srv.get("/v2/models/rec/ready").status_code == 200
        r = srv.post("/v2/repository/models/mlp/unload", json={"parameters": {"unload_dependents": False}})
        assert r.status_code == 200, r.text
        wait_for(lambda: index(srv).get(("mlp", "")) == ("UNAVAILABLE", "unloaded"), what="unloaded")
        r = infer(srv, "mlp")
        assert r.status_code == 404 and "unloaded" in r.json()["error"]
        # load with a configuration override (Triton's JSON form)
        cfg = json.dumps({"max_batch_size": 0, "instance_group": [{"count": 2, "kind": "KIND_CPU"}]})
        r = srv.post("/v2/repository/models/mlp/load", json={"parameters": {"config": cfg}})
        assert r.status_code == 200, r.text
        js = srv.get("/v2/models/mlp/config").json()
        assert js["max_batch_size"] == 0 and js["instance_group"][0]["count"] == 2
        assert infer(srv, "mlp", x=np.ones((70, 30), np.float32)).status_code == 200
        r = srv.post("/v2/repository/models/mlp/load", json={"parameters": {"config": "{\"max_batch\": 1}"}})
        assert r.status_code == 400 and "max_batch" in r.json()["error"]
        assert infer(srv, "mlp").status_code == 200  # a failed reload keeps the loaded version
        r = srv.post("/v2/repository/models/nothere/load")
        assert r.status_code == 404 and "nothere" in r.json()["error"]
        r = srv.post("/v2/repository/models/mlp/load", json={"parameters": {"file:1/model.onnx": "AAAA"}})
        assert r.status_code == 400
        assert srv.post("/v2/repository/models/%2e%2e/load").status_code == 400
        # reload while requests run: no request fails
        stop = threading.Event()
        codes = []

        def hammer():
            s = requests.Session()
            while not stop.is_set():
                codes.append(s.post(srv.url("/v2/models/rec/infer"), json={
                    "inputs": [v2_json_input(n, a) for n, a in fixture("recommender_op17")[1].items()]}).status_code)
        ts = [threading.Thread(target=hammer) for _ in range(4)]
        for t in ts:
            t.start()
        for _ in range(3):
            assert srv.post("/v2/repository/models/rec/load").status_code == 200
        stop.set()
        for t in ts:
            t.join()
        assert codes and set(codes) == {200}
    with Server(d, "--model-control-mode", "explicit", "--load-model", "*") as srv:
        assert len(srv.post("/v2/repository/index", json={"ready": True}).json()) == 3


def test_poll_mode(tmp_path):
    d = str(tmp_path)
    add_model(d, "mlp", MLP)
    with Server(d, "--model-control-mode", "poll", "--repository-poll-secs", "1") as srv:
        assert srv.post("/v2/repository/models/mlp/unload").status_code == 400
        add_model(d, "rec", REC)
        wait_for(lambda: srv.get("/v2/models/rec/ready").status_code == 200, what="new model")
        add_model(d, "mlp", MLP, versions=(2,))
        wait_for(lambda: srv.get("/v2/models/mlp").json().get("versions") == ["2"], what="new version")
        assert infer(srv, "mlp").json()["model_version"] == "2"
        shutil.rmtree(f"{d}/rec")
        wait_for(lambda: srv.get("/v2/models/rec/ready").status_code == 404, what="removed model")


def test_version_policies(tmp_path):
    d = str(tmp_path)
    add_model(d, "all", MLP, versions=(1, 2, 3), config="version_policy:\n  all: {}\n")
    add_model(d, "latest", MLP, versions=(1, 2, 3), config="version_policy: {latest: {num_versions: 2}}\n")
    add_model(d, "specific", MLP, versions=(1, 2, 3), config="version_policy: {specific: {versions: [1, 3]}}\n")
    add_model(d, "plain", MLP, versions=(1, 10, 9))
    with Server(d) as srv:
        assert srv.get("/v2/models/all").json()["versions"] == ["1", "2", "3"]
        assert srv.get("/v2/models/latest").json()["versions"] == ["2", "3"]
        assert srv.get("/v2/models/specific").json()["versions"] == ["1", "3"]
        assert srv.get("/v2/models/plain").json()["versions"] == ["10"]
        assert infer(srv, "all", "2").json()["model_version"] == "2"
        assert infer(srv, "all").json()["model_version"] == "3"
        assert infer(srv, "specific", "2").status_code == 404
        st = srv.get("/v2/models/all/stats").json()["model_stats"]
        assert [s["version"] for s in st] == ["1", "2", "3"]


def run_cli(*args, timeout=30):
    return subprocess.run([ladle_bin(), "serve", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_command_line(tmp_path):
    p = run_cli("--help")
    assert p.returncode == 0 and "--model-repository" in p.stdout and "--exit-timeout-secs" in p.stdout
    p = run_cli("--help-markdown")
    assert p.returncode == 0 and p.stdout.startswith("| option |")
    p = run_cli("--model-repository", tmp_path, "--bogus")
    assert p.returncode == 2 and "unknown option" in p.stderr
    p = run_cli()
    assert p.returncode == 2 and "--model-repository is required" in p.stderr
    p = run_cli("--model-repository", tmp_path / "missing")
    assert p.returncode == 1 and "missing" in p.stderr
    p = run_cli("--model-repository", tmp_path, "--http-port", "99999")
    assert p.returncode == 2 and "--http-port" in p.stderr
    p = run_cli("--model-repository", tmp_path, "--model-control-mode", "sometimes")
    assert p.returncode == 2 and "none|explicit|poll" in p.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = run_cli("--model-repository", tmp_path, "--http-address", "127.0.0.1", "--http-port", port)
        assert p.returncode == 1 and "cannot listen" in p.stderr


def test_config_file(tmp_path):
    d = tmp_path / "repo"
    add_model(str(d), "mlp", MLP)
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("http_threads: 1\ndefault-max-batch-size: 4\nload_model: [mlp]\nmodel_control_mode: explicit\n")
    with Server(str(d), "--config", cfg) as srv:
        assert srv.get("/v2/models/mlp/config").json()["max_batch_size"] == 4
        assert "with 1 I/O thread" in srv.log()
    cfg.write_text("no_such_setting: 1\n")
    p = run_cli("--model-repository", d, "--config", cfg)
    assert p.returncode != 0 and "no_such_setting" in p.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_finishes_requests_in_flight(tmp_path, sig):
    d = str(tmp_path)
    add_model(d, "slow", MLP, config="dynamic_batching:\n  max_queue_delay_microseconds: 1000000\n")
    srv = Server(d)
    results = []

    def send(i):
        try:
            r = requests.post(srv.url("/v2/models/slow/infer"), json={"inputs": [v2_json_input("x", X * i)]}, timeout=30)
            results.append(r.status_code)
        except requests.RequestException as e:
            results.append(repr(e))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    srv.proc.send_signal(sig)
    time.sleep(0.2)
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.url("/v2/health/live"), timeout=5)
    for t in threads:
        t.join()
    assert results == [200] * 8, results
    assert srv.stop() == 0
    assert "finishing requests in flight" in srv.log()


def test_exit_timeout_bounds_shutdown(tmp_path):
    d = str(tmp_path)
    add_model(d, "mlp", MLP)
    srv = Server(d, "--exit-timeout-secs", "1")
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /v2/models/mlp/infer HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{")  # never finished
    time.sleep(0.2)
    t0 = time.time()
    assert srv.stop() == 0
    assert time.time() - t0 < 10
    s.close()
