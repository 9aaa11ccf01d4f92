"""Shared helpers for ladle's end-to-end tests: where the binary is, the golden fixtures, and a
runner that never lets a hung or crashing process pass unnoticed.

Run from the repository root:  python3 -m pytest tests/e2e
The binary is build/ladle unless LADLE_BIN names another (e.g. LADLE_BIN=build-asan/ladle).
"""

import json
import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
LARGE = os.path.join(FIXTURES, "large")


def ladle_path():
    path = os.environ.get("LADLE_BIN") or os.path.join(REPO, "build", "ladle")
    return path if os.path.isabs(path) else os.path.join(REPO, path)


def fixture_dirs():
    """Every golden fixture directory: tests/fixtures/*/ and, when generated, tests/fixtures/large/*/."""
    found = []
    for root, label in ((FIXTURES, ""), (LARGE, "large/")):
        if not os.path.isdir(root):
            continue
        for name in sorted(os.listdir(root)):
            d = os.path.join(root, name)
            if os.path.isfile(os.path.join(d, "meta.json")):
                found.append((label + name, d))
    return found


def load_meta(d):
    with open(os.path.join(d, "meta.json")) as fp:
        return json.load(fp)


def pytest_configure(config):
    config.addinivalue_line("markers", "large: a full-size fixture from tests/fixtures/large (on demand)")


class Ladle:
    def __init__(self, path):
        self.path = path

    def run(self, *args, timeout=120):
        """Runs `ladle ARGS...`; returns the CompletedProcess (text stdout/stderr)."""
        try:
            return subprocess.run([self.path, *map(str, args)], capture_output=True, text=True,
                                  errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.fail(f"ladle {' '.join(map(str, args))} did not finish within {timeout}s")


@pytest.fixture(scope="session")
def ladle():
    path = ladle_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"ladle binary not found at {path}: build it (cmake --build build) or set LADLE_BIN")
    return Ladle(path)
