"""`ladle schedule` end to end: the real server on short intervals and on a real cron minute,
retries with backoff, timeouts, no overlapping runs, history in SQLite, --list, graceful stop."""

import os
import signal
import sqlite3
import subprocess
import tempfile
import time
from datetime import datetime, timezone

import pytest

from conftest import ladle_path


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory(prefix="ladle-sched-") as d:
        yield d


def history(db):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    return [dict(r) for r in con.execute("SELECT * FROM ladle_schedule_runs ORDER BY id")]


def serve(tmp, yaml_text, seconds):
    path = os.path.join(tmp, "jobs.yaml")
    with open(path, "w") as f:
        f.write(yaml_text)
    p = subprocess.Popen([ladle_path(), "schedule", "--jobs", path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    return path, err


def test_intervals_retries_timeouts_and_history(tmp):
    marker = os.path.join(tmp, "ticks")
    path, log = serve(tmp, f"""
history: {tmp}/h.db
jobs:
  - name: tick
    every: 1s
    command: ["sh", "-c", "echo tick >> {marker}"]
  - name: flaky
    every: 1h
    command: "echo trying; exit 3"
    retries: 2
    retry_backoff: 1s
  - name: slow
    every: 2s
    command: ["sleep", "30"]
    timeout: 1s
""", 6.5)
    rows = history(f"{tmp}/h.db")
    ticks = [r for r in rows if r["job"] == "tick"]
    assert len([r for r in ticks if r["status"] == "ok"]) >= 4
    assert open(marker).read().count("tick") == len([r for r in ticks if r["status"] == "ok"])
    # 'every' runs land on whole multiples of the interval
    assert all(r["scheduled_for"].endswith("Z") for r in ticks)
    # slow: each run stopped at its timeout, never overlapping
    slow = [r for r in rows if r["job"] == "slow"]
    assert slow and all(r["status"] in ("timeout", "interrupted") for r in slow)
    assert any(r["status"] == "timeout" for r in slow)
    assert all(r["seconds"] < 15 for r in slow)
    assert "tick: ok" in log


def test_failing_job_is_retried_with_backoff_and_reported(tmp):
    # every 6s: the first tick comes within 6s, its retries 1s and 2s later, before the next tick
    path, log = serve(tmp, f"""
history: {tmp}/h.db
jobs:
  - name: broken
    every: 6s
    command: "echo oops >&2; exit 3"
    retries: 2
    retry_backoff: 1s
""", 11)
    rows = [r for r in history(f"{tmp}/h.db") if r["job"] == "broken"]
    first = [r for r in rows if r["status"] == "failed"][:3]
    assert [r["attempt"] for r in first] == [1, 2, 3]
    assert all(r["exit_code"] == 3 and "oops" in r["output"] for r in first)
    assert first[0]["scheduled_for"] == first[2]["scheduled_for"], "retries belong to one tick"
    assert "retry 1 of 2" in log and "failed (exit 3) after 3 attempt(s)" in log


def test_list_and_bad_files(tmp):
    path = os.path.join(tmp, "jobs.yaml")
    with open(path, "w") as f:
        f.write("jobs:\n  - name: nightly\n    schedule: '30 2 * * *'\n    command: [true]\n")
    out = subprocess.run([ladle_path(), "schedule", "--jobs", path, "--list"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    line = [l for l in out.stdout.splitlines() if l.startswith("nightly")][0]
    assert "30 2 * * *" in line and "T02:30:00Z" in line
    for bad, why in [("jobs:\n  - name: x\n    schedule: '61 * * * *'\n    command: [true]\n", "minute"),
                     ("jobs:\n  - name: x\n    every: soon\n    command: [true]\n", "duration"),
                     ("jobs:\n  - name: x\n    every: 1m\n", "command"),
                     ("jobs:\n  - name: x\n    every: 1m\n    command: [true]\n    retires: 3\n", "retires"),
                     ("jobs: [\n", "YAML")]:
        with open(path, "w") as f:
            f.write(bad)
        out = subprocess.run([ladle_path(), "schedule", "--jobs", path, "--list"], capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 1 and why in out.stderr, (bad, out.stderr)


def test_cron_every_minute_runs_on_the_minute(tmp):
    """A `*/1 * * * *` job runs at the next whole minute, recorded in the history."""
    now = datetime.now(timezone.utc)
    wait = 60 - now.second + 4
    path, log = serve(tmp, f"""
history: {tmp}/h.db
jobs:
  - name: minutely
    schedule: "*/1 * * * *"
    command: [true]
""", wait)
    rows = [r for r in history(f"{tmp}/h.db") if r["job"] == "minutely"]
    assert len(rows) >= 1 and rows[0]["status"] == "ok"
    assert rows[0]["scheduled_for"].endswith(":00Z")
    started = datetime.strptime(rows[0]["started_at"], "%Y-%m-%dT%H:%M:%SZ")
    sched = datetime.strptime(rows[0]["scheduled_for"], "%Y-%m-%dT%H:%M:%SZ")
    assert 0 <= (started - sched).total_seconds() <= 2
