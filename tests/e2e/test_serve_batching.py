"""The scheduler: concurrent requests from many connections merge into batches and each client
gets its own answer; requests whose non-batch dims differ never share a run; preferred batch
sizes, a full queue (503 + Retry-After), deadlines passing in the queue (timeout without
running), several instances, models that do not batch, and a per-model memory limit."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from serve_util import Server, add_model, fixture, metric, parse_response, rel_err, v2_json_input

MLP = fixture("mlp_op13")[0]
TEXT = fixture("text_encoder_tiny_op17")[0]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("repo"))
    add_model(d, "mlp", MLP)
    add_model(d, "mlp_wait", MLP, config="dynamic_batching:\n  max_queue_delay_microseconds: 20000\n")
    add_model(d, "text_wait", TEXT, config="dynamic_batching:\n  max_queue_delay_microseconds: 100000\n")
    add_model(d, "slow", MLP, config=(
        "max_batch_size: 8\n"
        "dynamic_batching:\n"
        "  max_queue_delay_microseconds: 1000000\n"
        "  max_queue_size: 2\n"))
    add_model(d, "deadline", MLP, config=(
        "dynamic_batching:\n"
        "  max_queue_delay_microseconds: 500000\n"
        "  default_queue_policy:\n"
        "    default_timeout_microseconds: 1000\n"
        "    allow_timeout_override: true\n"))
    add_model(d, "preferred", MLP, config=(
        "max_batch_size: 16\n"
        "dynamic_batching:\n"
        "  preferred_batch_size: [4]\n"
        "  max_queue_delay_microseconds: 5000000\n"))
    add_model(d, "two", MLP, config="instance_group:\n  - count: 2\n    kind: KIND_CPU\n")
    add_model(d, "nobatch", MLP, config="max_batch_size: 0\n")
    add_model(d, "noauto", MLP, config="max_batch_size: 8\n")
    add_model(d, "capped", MLP, config=(
        "max_batch_size: 100000\n"
        "dynamic_batching:\n"
        "  max_queue_delay_microseconds: 500000\n"
        "parameters:\n"
        "  memory_limit_mb: 1\n"))
    s = Server(d)
    yield s
    s.stop()


def x_for(k, rows=1):
    rng = np.random.RandomState(k)
    return rng.randn(rows, 30).astype(np.float32)


def call(base, model, x, session=None, name="x", **extra):
    body = {"inputs": [v2_json_input(name, x)], **extra}
    r = (session or requests).post(f"{base}/v2/models/{model}/infer", json=body, timeout=60)
    return r


def stats(srv, model):
    return srv.get(f"/v2/models/{model}/stats").json()["model_stats"][0]


def test_many_clients_each_get_their_own_answer(srv):
    keys = list(range(64 * 10))
    # reference: one at a time
    base_s = requests.Session()
    ref = {}
    for k in keys[:64]:
        r = call(srv.base, "mlp", x_for(k), base_s)
        assert r.status_code == 200
        ref[k] = parse_response(r)[1]["logits"]

    def client(ks):
        s = requests.Session()
        out = []
        for k in ks:
            r = call(srv.base, "mlp", x_for(k % 64), s)
            out.append((k, r.status_code, parse_response(r)[1]["logits"] if r.status_code == 200 else r.text))
        return out

    before = stats(srv, "mlp")
    with ThreadPoolExecutor(64) as ex:
        results = sum(ex.map(client, [keys[i::64] for i in range(64)]), [])
    assert len(results) == len(keys)
    for k, code, got in results:
        assert code == 200, got
        assert rel_err(got, ref[k % 64]) < 1e-5, k
    after = stats(srv, "mlp")
    assert after["inference_count"] - before["inference_count"] == len(keys)


def test_batches_merge_and_metrics_show_it(srv):
    def client(k):
        s = requests.Session()
        for j in range(5):
            r = call(srv.base, "mlp_wait", x_for(k * 10 + j, rows=1 + (k % 3)), s)
            assert r.status_code == 200, r.text
            got = parse_response(r)[1]["logits"]
            assert got.shape == (1 + (k % 3), 2)
            ref = call(srv.base, "nobatch", x_for(k * 10 + j, rows=1 + (k % 3)), s)
            assert rel_err(got, parse_response(ref)[1]["logits"]) < 1e-5
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(client, range(16)))
    m = srv.get("/metrics").text
    inf = metric(m, "ladle_inference_count_total", model="mlp_wait", version="1")
    exe = metric(m, "ladle_execution_count_total", model="mlp_wait", version="1")
    assert inf == sum(5 * (1 + k % 3) for k in range(16))
    assert exe < inf / 2, (inf, exe)
    st = stats(srv, "mlp_wait")
    assert max(b["batch_size"] for b in st["batch_stats"]) > 3


def test_different_shapes_never_share_a_run(srv):
    _, ins, _ = fixture("text_encoder_tiny_op17")
    ids = ins["ids"]
    variants = {5: ids[:1, :5], 12: ids[:1, :12], 8: ids[1:, :8]}
    ref = {}
    for k, v in variants.items():
        r = call(srv.base, "text_wait", v, name="ids")
        assert r.status_code == 200, r.text
        ref[k] = parse_response(r)[1]["logits"]
    before = stats(srv, "text_wait")["execution_count"]
    jobs = [k for k in variants for _ in range(6)]
    with ThreadPoolExecutor(len(jobs)) as ex:
        res = list(ex.map(lambda k: (k, call(srv.base, "text_wait", variants[k], name="ids")), jobs))
    for k, r in res:
        assert r.status_code == 200, r.text
        assert rel_err(parse_response(r)[1]["logits"], ref[k]) < 1e-5
    execs = stats(srv, "text_wait")["execution_count"] - before
    assert 3 <= execs < len(jobs)  # merged within a shape, never across


def test_full_queue_answers_503_with_retry_after(srv):
    results = {}

    def send(i):
        results[i] = call(srv.base, "slow", x_for(i))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # both queued, waiting for the 1 s batching delay
    t0 = time.time()
    r = call(srv.base, "slow", x_for(9))
    assert time.time() - t0 < 0.5
    assert r.status_code == 503 and r.headers.get("Retry-After") == "1"
    assert "queue is full" in r.json()["error"] and "max_queue_size 2" in r.json()["error"]
    for t in threads:
        t.join()
    assert results[0].status_code == 200 and results[1].status_code == 200
    m = srv.get("/metrics").text
    assert metric(m, "ladle_request_failure_total", model="slow", version="1", reason="queue_full") == 1


def test_deadline_passing_in_queue_is_a_timeout(srv):
    before = stats(srv, "deadline")
    t0 = time.time()
    r = call(srv.base, "deadline", x_for(1))  # default timeout 1 ms, batching delay 500 ms
    assert r.status_code == 504, r.text
    assert "timed out" in r.json()["error"] and time.time() - t0 < 5
    r = call(srv.base, "deadline", x_for(1), parameters={"timeout": 5000000})  # override: 5 s
    assert r.status_code == 200, r.text
    after = stats(srv, "deadline")
    assert after["execution_count"] - before["execution_count"] == 1  # the timed-out one never ran
    m = srv.get("/metrics").text
    assert metric(m, "ladle_request_failure_total", model="deadline", version="1", reason="timeout") == 1


def test_preferred_batch_size_runs_without_waiting(srv):
    t0 = time.time()
    with ThreadPoolExecutor(4) as ex:
        res = list(ex.map(lambda k: call(srv.base, "preferred", x_for(k)), range(4)))
    assert all(r.status_code == 200 for r in res)
    assert time.time() - t0 < 3.0  # the delay is 5 s: a batch of 4 runs at once
    st = stats(srv, "preferred")
    assert [(b["batch_size"], b["compute_infer"]["count"]) for b in st["batch_stats"]] == [(4, 1)]


def test_instances_and_no_batching(srv):
    cfg = srv.get("/v2/models/two/config").json()
    assert cfg["instance_group"][0]["count"] == 2
    with ThreadPoolExecutor(8) as ex:
        res = list(ex.map(lambda k: call(srv.base, "two", x_for(k, 3)), range(32)))
    assert all(r.status_code == 200 for r in res)
    cfg = srv.get("/v2/models/nobatch/config").json()
    assert cfg["max_batch_size"] == 0 and "dynamic_batching" not in cfg
    r = call(srv.base, "nobatch", x_for(1, 100))  # no max_batch_size limit on a non-batching model
    assert r.status_code == 200 and parse_response(r)[1]["logits"].shape == (100, 2)
    cfg = srv.get("/v2/models/noauto/config").json()  # Triton's rule: no dynamic_batching key, no merging
    assert cfg["max_batch_size"] == 8 and "dynamic_batching" not in cfg
    r = call(srv.base, "noauto", x_for(1, 9))
    assert r.status_code == 400 and "max_batch_size 8" in r.json()["error"]


def test_memory_limit_refuses_big_runs_and_splits_merged_batches(srv):
    """memory_limit_mb: 1 on the 30-64-64-2 MLP holds about 1,000 rows (its intermediates and
    GEMM scratch). A request past it gets 413 naming the limit and the model keeps serving; four
    600-row requests merged into one 2,400-row batch are run again in smaller batches instead of
    all failing; every answer is torch's."""
    _, ins, outs = fixture("mlp_op13")
    golden_x, golden_y = ins["x"], outs["logits"]  # 2 rows from torch

    def rows(n):
        reps = n // 2
        return np.tile(golden_x, (reps, 1)), np.tile(golden_y, (reps, 1))

    cfg = srv.get("/v2/models/capped/config").json()
    assert cfg["parameters"]["memory_limit_mb"] == {"string_value": "1"}
    x, y = rows(4000)
    r = call(srv.base, "capped", x)
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert "memory limit" in err and "memory_limit_mb is 1" in err and "Gemm" in err
    x, y = rows(800)
    r = call(srv.base, "capped", x)
    assert r.status_code == 200, r.text
    assert rel_err(parse_response(r)[1]["logits"], y) < 1e-5
    x, y = rows(600)
    with ThreadPoolExecutor(4) as ex:
        res = list(ex.map(lambda _: call(srv.base, "capped", x), range(4)))
    for r in res:
        assert r.status_code == 200, r.text
        assert rel_err(parse_response(r)[1]["logits"], y) < 1e-5
    st = stats(srv, "capped")
    assert st["inference_stats"]["success"]["count"] == 5
    assert st["inference_stats"]["fail"]["count"] == 1
