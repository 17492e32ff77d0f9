"""`hour-ledger serve` run as a process of its own, as an operator runs it, and the command
line that runs any `hour-ledger` command."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

STARTUP_SECONDS = 30


def hour_ledger() -> list[str]:
    script = Path(sys.executable).with_name("hour-ledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`hour-ledger serve` in a process of its own; its stdout read line by line."""

    def __init__(self, url: str, cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = (cwd / f"server-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            [*hour_ledger(), "serve", "--port", str(self.port), *args],
            cwd=cwd,
            env={**os.environ, **(env or {}), "HOUR_LEDGER_DATABASE_URL": url},
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_until_healthy(self) -> list[str]:
        """The lines printed until /healthz answers (polled with a deadline)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        printed: list[str] = []
        while time.monotonic() < deadline:
            while not self.lines.empty():
                line = self.lines.get()
                if line is not None:
                    printed.append(line)
            assert self.process.poll() is None, f"the server exited: {printed} {self.stderr()}"
            try:
                if httpx.get(f"{self.base}/healthz", timeout=0.5).status_code == 200:
                    return printed + self._drain()
            except httpx.TransportError:
                pass
            try:  # wait for the next line or half a second, whichever comes first
                line = self.lines.get(timeout=0.5)
                if line is not None:
                    printed.append(line)
            except queue.Empty:
                pass
        raise AssertionError(f"no /healthz within {STARTUP_SECONDS} s: {printed} {self.stderr()}")

    def _drain(self) -> list[str]:
        drained = []
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                drained.append(line)
        return drained

    def stderr(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log.close()
