"""HTTP benchmark of `ladle serve`, side by side in one run with the seeds' canonical Python
server (FastAPI + uvicorn + torch, bench/http/fastapi_app.py) and nginx returning a fixed body of
the same size (the ceiling for HTTP on this machine). wrk drives every server.

  * the 30->64->64->2 MLP over V2 JSON and over the binary extension at 1, 8 and 64 connections
    (FastAPI: JSON; nginx: the same response bodies, fixed);
  * resnet18 (binary extension) at 16 connections with dynamic batching on and off.

    /usr/bin/python3 bench/http/run.py [--seconds 10] [--markdown bench/http/RESULTS.md]

Needs wrk, nginx (nginx-light), python3-fastapi, python3-uvicorn, python3-torch
(LADLE_SETUP_EXTRAS=1 scripts/setup.sh) and, for resnet18, tests/fixtures/large/resnet18_op17
(bench/models.sh resnet18). The ladle binary is build/ladle unless --ladle or LADLE_BIN.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MLP = os.path.join(REPO, "tests", "fixtures", "mlp_op13", "model.onnx")
RESNET = os.path.join(REPO, "tests", "fixtures", "large", "resnet18_op17", "model.onnx")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def wait_http(url, timeout=60, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited early ({proc.returncode}) for {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer 200 within {timeout}s")


def post(url, body, headers):
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read(), dict(r.headers)


def lua_string(b):
    return '"' + "".join("\\%d" % c for c in b) + '"'


def write_lua(path, body, headers):
    with open(path, "w") as fp:
        fp.write('wrk.method = "POST"\n')
        for k, v in headers.items():
            fp.write(f'wrk.headers["{k}"] = "{v}"\n')
        fp.write(f"wrk.body = {lua_string(body)}\n")


def wrk(url, script, conns, seconds, timeout_s=10):
    threads = min(2, conns)
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", f"--timeout={timeout_s}s", "--latency", "-s",
           script, url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout_s + 60).stdout

    def lat(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": float(rps.group(1)) if rps else 0.0, "p50_ms": lat(50), "p99_ms": lat(99),
            "requests": int(total.group(1)) if total else 0,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "errors": errors.group(0) if errors else "",
            "raw": out}


class Proc:
    def __init__(self, cmd, log_path, env=None):
        self.log_path = log_path
        self.fp = open(log_path, "wb")
        self.p = subprocess.Popen(cmd, stdout=self.fp, stderr=subprocess.STDOUT, env=env)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
        self.fp.close()


def start_ladle(ladle, repo, tmp, name):
    proc = Proc([ladle, "serve", "--model-repository", repo, "--http-address", "127.0.0.1", "--http-port", "0"],
                os.path.join(tmp, name + ".log"))
    deadline = time.time() + 60
    port = None
    while port is None and time.time() < deadline:
        with open(proc.log_path, errors="replace") as fp:
            m = re.search(r"listening on \S+ port (\d+)", fp.read())
        if m:
            port = int(m.group(1))
        elif proc.p.poll() is not None:
            raise SystemExit(f"ladle serve exited: {open(proc.log_path).read()}")
        else:
            time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/v2/health/ready", proc=proc.p)
    return proc, base


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NGINX_CONF = """worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/ngx-body;
  proxy_temp_path {tmp}/ngx-proxy;
  fastcgi_temp_path {tmp}/ngx-fcgi;
  uwsgi_temp_path {tmp}/ngx-uwsgi;
  scgi_temp_path {tmp}/ngx-scgi;
  keepalive_requests 100000000;
  open_file_cache max=16;
  server {{
    listen 127.0.0.1:{port};
    # static files answer POST with 405: error_page turns that into the file, as GET would get it
    location = /json {{ default_type application/json; return 200 '{json_body}'; }}
    location = /binary {{ default_type application/octet-stream; alias {tmp}/binary_body; error_page 405 =200 $uri; }}
  }}
}}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ladle", default=os.environ.get("LADLE_BIN") or os.path.join(REPO, "build", "ladle"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conns", default="1,8,64")
    ap.add_argument("--resnet", default=RESNET)
    ap.add_argument("--skip-resnet", action="store_true")
    ap.add_argument("--skip-mlp", action="store_true")
    ap.add_argument("--resnet-instances", type=int, default=0,
                    help="instances of resnet18 (0: one per core, each with one intra-op thread)")
    ap.add_argument("--resnet-max-batch", type=int, default=4,
                    help="max_batch_size of resnet18 (the runtime's per-image cost grows past small batches)")
    ap.add_argument("--resnet-rounds", type=int, default=3, help="alternating rounds of batching off/on")
    ap.add_argument("--markdown", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            raise SystemExit(f"{tool} is not installed (LADLE_SETUP_EXTRAS=1 scripts/setup.sh)")
    conns = [int(c) for c in args.conns.split(",")]
    tmp = tempfile.mkdtemp(prefix="ladle-http-bench-")
    os.chmod(tmp, 0o755)  # nginx's workers run as another user when started by root
    procs = []
    results = []
    try:
        # --- model repository
        repo = os.path.join(tmp, "models")
        os.makedirs(os.path.join(repo, "mlp", "1"))
        shutil.copy(MLP, os.path.join(repo, "mlp", "1", "model.onnx"))
        ladle, lbase = start_ladle(args.ladle, repo, tmp, "ladle-mlp")
        procs.append(ladle)

        # --- request bodies (the same JSON for every server)
        x = np.random.RandomState(0).randn(1, 30).astype(np.float32)
        json_body = json.dumps({"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP32",
                                            "data": x.ravel().tolist()}]}).encode()
        head = json.dumps({"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP32",
                                       "parameters": {"binary_data_size": 120}}],
                           "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}).encode()
        bin_body = head + x.tobytes()
        bin_headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(head))}
        json_headers = {"Content-Type": "application/json"}
        write_lua(os.path.join(tmp, "json.lua"), json_body, json_headers)
        write_lua(os.path.join(tmp, "binary.lua"), bin_body, bin_headers)
        json_resp, _ = post(lbase + "/v2/models/mlp/infer", json_body, json_headers)
        bin_resp, bin_resp_headers = post(lbase + "/v2/models/mlp/infer", bin_body, bin_headers)

        # --- FastAPI + uvicorn + torch
        fport = free_port()
        fast = Proc([sys.executable, os.path.join(HERE, "fastapi_app.py"), MLP, str(fport)],
                    os.path.join(tmp, "fastapi.log"))
        procs.append(fast)
        fbase = f"http://127.0.0.1:{fport}"
        wait_http(fbase + "/v2/health/ready", proc=fast.p)
        fresp, _ = post(fbase + "/v2/models/mlp/infer", json_body, json_headers)
        fl = np.array(json.loads(fresp)["outputs"][0]["data"], np.float32)
        ll = np.array(json.loads(json_resp)["outputs"][0]["data"], np.float32)
        assert np.allclose(fl, ll, rtol=1e-4, atol=1e-5), (fl, ll)

        # --- nginx: fixed bodies of the same size as ladle's answers
        nport = free_port()
        with open(os.path.join(tmp, "json_body"), "wb") as fp:
            fp.write(json_resp)
        with open(os.path.join(tmp, "binary_body"), "wb") as fp:
            fp.write(bin_resp)
        with open(os.path.join(tmp, "nginx.conf"), "w") as fp:
            assert b"'" not in json_resp
            fp.write(NGINX_CONF.format(tmp=tmp, port=nport, workers=os.cpu_count() or 1,
                                       json_body=json_resp.decode()))
        ngx = Proc([shutil.which("nginx") or "/usr/sbin/nginx", "-c", os.path.join(tmp, "nginx.conf"), "-p", tmp],
                   os.path.join(tmp, "nginx.log"))
        procs.append(ngx)
        nbase = f"http://127.0.0.1:{nport}"
        wait_http(nbase + "/json", proc=ngx.p)

        # --- the runs: per connection count, the servers back to back
        plan = []
        for c in conns:
            plan += [("ladle", "V2 JSON", lbase + "/v2/models/mlp/infer", "json.lua", c),
                     ("fastapi+torch", "V2 JSON", fbase + "/v2/models/mlp/infer", "json.lua", c),
                     ("nginx (fixed body)", "V2 JSON", nbase + "/json", "json.lua", c),
                     ("ladle", "binary", lbase + "/v2/models/mlp/infer", "binary.lua", c),
                     ("nginx (fixed body)", "binary", nbase + "/binary", "binary.lua", c)]
        for server, proto, url, script, c in ([] if args.skip_mlp else plan):
            wrk(url, os.path.join(tmp, script), c, 2)  # warm-up
            r = wrk(url, os.path.join(tmp, script), c, args.seconds)
            r.update(model="mlp", server=server, protocol=proto, conns=c)
            results.append(r)
            log(f"mlp {proto:8s} {server:20s} c={c:3d}  {r['rps']:10.0f} req/s  p50 {r['p50_ms']:.3f} ms  "
                f"p99 {r['p99_ms']:.3f} ms  non-2xx {r['non2xx']} {r['errors']}")
        with urllib.request.urlopen(lbase + "/metrics") as mr:
            metrics = mr.read().decode()
        inf = re.search(r'^ladle_inference_count_total\{model="mlp",version="1"\} (\d+)', metrics, re.M)
        exe = re.search(r'^ladle_execution_count_total\{model="mlp",version="1"\} (\d+)', metrics, re.M)
        mlp_batching = (int(inf.group(1)), int(exe.group(1))) if inf and exe else None
        for p in (fast, ngx, ladle):
            p.stop()
        procs.clear()

        # --- resnet18 with dynamic batching on and off
        resnet_rows = []
        if not args.skip_resnet:
            if not os.path.exists(args.resnet):
                log(f"resnet18 skipped: {args.resnet} is missing (bench/models.sh resnet18)")
            else:
                rrepo = os.path.join(tmp, "resnet")
                mb = args.resnet_max_batch
                for name, cfg in (("resnet_batching", f"max_batch_size: {mb}\ndynamic_batching: {{}}\n"),
                                  ("resnet_single", f"max_batch_size: {mb}\n")):
                    os.makedirs(os.path.join(rrepo, name, "1"))
                    shutil.copy(args.resnet, os.path.join(rrepo, name, "1", "model.onnx"))
                    inst = args.resnet_instances or (os.cpu_count() or 1)
                    threads = max(1, (os.cpu_count() or 1) // inst)
                    with open(os.path.join(rrepo, name, "config.yaml"), "w") as fp:
                        fp.write(cfg + f"instance_group: [{{count: {inst}}}]\n"
                                 f"parameters: {{intra_op_thread_count: {threads}}}\n")
                rl, rbase = start_ladle(args.ladle, rrepo, tmp, "ladle-resnet")
                procs.append(rl)
                with urllib.request.urlopen(rbase + "/v2/models/resnet_single") as mr:
                    meta = json.loads(mr.read())
                img = np.random.RandomState(1).randn(1, 3, 224, 224).astype(np.float32)
                rhead = json.dumps({"inputs": [{"name": meta["inputs"][0]["name"], "shape": [1, 3, 224, 224],
                                                "datatype": "FP32", "parameters": {"binary_data_size": img.nbytes}}],
                                    "outputs": [{"name": meta["outputs"][0]["name"],
                                                 "parameters": {"binary_data": True}}]}).encode()
                rheaders = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(rhead))}
                write_lua(os.path.join(tmp, "resnet.lua"), rhead + img.tobytes(), rheaders)
                post(rbase + "/v2/models/resnet_single/infer", rhead + img.tobytes(), rheaders)  # raises unless 200
                # the machine is shared: alternate the two configurations over several rounds and
                # add them up, so a burst of outside load does not decide the comparison
                rounds = max(1, args.resnet_rounds)
                acc = {n: {"requests": 0, "seconds": 0.0, "p50": [], "p99": [], "non2xx": 0}
                       for n in ("resnet_single", "resnet_batching")}
                for name in ("resnet_single", "resnet_batching"):
                    wrk(f"{rbase}/v2/models/{name}/infer", os.path.join(tmp, "resnet.lua"), 16, 3, timeout_s=60)
                order = []
                for k in range(rounds):
                    order += ["resnet_single", "resnet_batching"] if k % 2 == 0 else ["resnet_batching", "resnet_single"]
                for name in order:
                    secs = max(args.seconds, 10)
                    r = wrk(f"{rbase}/v2/models/{name}/infer", os.path.join(tmp, "resnet.lua"), 16, secs, timeout_s=60)
                    a = acc[name]
                    a["requests"] += r["requests"]
                    a["seconds"] += secs
                    a["p50"].append(r["p50_ms"])
                    a["p99"].append(r["p99_ms"])
                    a["non2xx"] += r["non2xx"]
                    log(f"resnet18 {name:16s} round: {r['rps']:.1f} req/s  p50 {r['p50_ms']:.0f} ms  p99 {r['p99_ms']:.0f} ms")
                for name in ("resnet_single", "resnet_batching"):
                    a = acc[name]
                    with urllib.request.urlopen(rbase + f"/v2/models/{name}/stats") as sr:
                        st = json.loads(sr.read())["model_stats"][0]
                    r = {"model": "resnet18", "server": "ladle", "protocol": "binary", "conns": 16,
                         "batching": "on" if name == "resnet_batching" else "off",
                         "rps": a["requests"] / a["seconds"], "p50_ms": float(np.median(a["p50"])),
                         "p99_ms": float(max(a["p99"])), "non2xx": a["non2xx"], "rounds": rounds,
                         "inferences": st["inference_count"], "executions": st["execution_count"]}
                    resnet_rows.append(r)
                    log(f"resnet18 batching {r['batching']:3s}  {r['rps']:8.1f} req/s  p50 {r['p50_ms']:.1f} ms  "
                        f"p99 {r['p99_ms']:.1f} ms  non-2xx {r['non2xx']}  {r['inferences']} inferences / "
                        f"{r['executions']} executions")
                rl.stop()
                procs.clear()
        write_markdown(args, results, resnet_rows, mlp_batching)
        if args.json:
            with open(args.json, "w") as fp:
                json.dump({"mlp": [{k: v for k, v in r.items() if k != "raw"} for r in results],
                           "resnet": [{k: v for k, v in r.items() if k != "raw"} for r in resnet_rows]}, fp, indent=1)
    finally:
        for p in procs:
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def write_markdown(args, results, resnet_rows, mlp_batching):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fp:
            cpu = next((l.split(":", 1)[1].strip() for l in fp if l.startswith("model name")), "")
    except OSError:
        pass
    lines = ["# `ladle serve` over HTTP: results", "",
             f"Command: `/usr/bin/python3 bench/http/run.py --seconds {args.seconds}` "
             f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; "
             f"wrk, the servers and everything else share those cores. "
             f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}. "
             f"Load average at the end: {os.getloadavg()[0]:.1f}.", "",
             "## MLP 30→64→64→2, one row per request", "",
             "| protocol | conns | server | requests/s | p50 ms | p99 ms | non-2xx |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['protocol']} | {r['conns']} | {r['server']} | {r['rps']:.0f} | {r['p50_ms']:.3f} | "
                     f"{r['p99_ms']:.3f} | {r['non2xx']} |")
    lines.append("")
    for c in sorted({r["conns"] for r in results}):
        get = {(r["server"], r["protocol"]): r for r in results if r["conns"] == c}
        la, fa, ng = get.get(("ladle", "V2 JSON")), get.get(("fastapi+torch", "V2 JSON")), get.get(("nginx (fixed body)", "V2 JSON"))
        if la and fa and ng and fa["rps"] and ng["rps"]:
            lines.append(f"- {c} connection(s), V2 JSON: ladle = {la['rps'] / fa['rps']:.1f}× FastAPI, "
                         f"{la['rps'] / ng['rps']:.2f}× nginx's fixed response.")
    if mlp_batching:
        lines.append(f"- ladle's /metrics after the MLP runs: {mlp_batching[0]} inferences in {mlp_batching[1]} "
                     f"executions (dynamic batching merged concurrent requests).")
    if resnet_rows:
        lines += ["", f"## resnet18, 16 connections, binary extension ({resnet_rows[0]['rounds']} alternating rounds each)", "",
                  f"Batching off: `max_batch_size: {args.resnet_max_batch}` without `dynamic_batching` (requests run "
                  "one by one); on: the same with `dynamic_batching: {}`. Both with "
                  f"{args.resnet_instances or os.cpu_count()} instance(s) sharing the cores; wrk's timeout 60 s.", "",
                  "| dynamic batching | requests/s | p50 ms | p99 ms | non-2xx | inferences / executions |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in resnet_rows:
            lines.append(f"| {r['batching']} | {r['rps']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['non2xx']} | "
                         f"{r['inferences']} / {r['executions']} |")
    lines.append("")
    with open(args.markdown, "w") as fp:
        fp.write("\n".join(lines))
    log(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
