"""A PostgreSQL cluster of a test's own: `initdb` and `pg_ctl` (run as the `postgres` user) in
a temporary directory, on a free port, that the test may stop (fast or immediate) and start
again while the service runs against it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

BIN = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip() or "/usr/lib/postgresql/15/bin") if shutil.which("pg_config") else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_problem() -> str | None:
    if BIN is None or not (BIN / "initdb").exists():
        return "PostgreSQL's initdb and pg_ctl are not on this machine (pg_config --bindir)"
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return "a private cluster needs root (to run initdb and pg_ctl as the postgres user)"
    return None


def require_cluster() -> None:
    problem = cluster_problem()
    if problem is None:
        return
    if os.environ.get("HOUR_LEDGER_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"HOUR_LEDGER_REQUIRE_POSTGRES=1 but {problem}")
    pytest.skip(problem)


class PrivateCluster:
    def __init__(self) -> None:
        require_cluster()
        assert BIN is not None
        self.directory = Path(tempfile.mkdtemp(prefix="hour-ledger-cluster-", dir="/tmp"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.port = free_port()
        shutil.chown(self.directory, "postgres", "postgres")
        self._as_postgres(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres?connect_timeout=2"

    def _as_postgres(self, *command: str) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command[0]} failed: {done.stdout}{done.stderr}"

    def start(self) -> float:
        """Starts the server and waits until it accepts connections; answers when (monotonic)."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off -c max_connections=100"
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        return time.monotonic()

    def stop(self, mode: str = "fast") -> float:
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        return time.monotonic()

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except AssertionError:
            pass  # already stopped
        shutil.rmtree(self.directory, ignore_errors=True)
