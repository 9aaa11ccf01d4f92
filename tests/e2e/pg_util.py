"""A real PostgreSQL server for tests: initdb into a temporary directory and start it on a free
loopback port, as an unprivileged user (the `postgres` system user when the tests run as root).
Nothing is mocked; the server is stopped and its directory removed afterwards."""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

PG_BIN_CANDIDATES = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
                     "/usr/lib/postgresql/14/bin", "/usr/lib/postgresql/13/bin"]


def pg_bin():
    for d in PG_BIN_CANDIDATES:
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    raise RuntimeError("PostgreSQL server binaries not found (scripts/setup.sh installs postgresql)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self):
        self.bin = pg_bin()
        self.dir = tempfile.mkdtemp(prefix="ladle-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.user_cmd = []
        if os.getuid() == 0:  # initdb refuses root: run the server as the postgres user
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.user_cmd = ["runuser", "-u", "postgres", "--"]
        self._run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "ladle",
                   "--auth=trust", "-E", "UTF8", "--no-sync"])
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l",
                   os.path.join(self.dir, "log"), "-w", "-t", "60", "-o",
                   f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c max_connections=50", "start"])
        self.uri = f"postgresql://ladle@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd):
        subprocess.run(self.user_cmd + cmd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, cwd=self.dir, timeout=120)

    def psql(self, sql):
        """Runs SQL and returns the rows as lists of strings (tab-separated, unaligned)."""
        out = subprocess.run(["psql", self.uri, "-X", "-q", "-A", "-t", "-F", "\t", "-v",
                              "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True,
                             text=True, timeout=120).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def stop(self):
        try:
            self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate",
                       "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
