"""`python -m projections.cli follow` in a child process, as an operator runs it: its lines
read as they come; optionally frozen mid-batch (SIGSTOP), so that a test can kill it there."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.paths import PROJECT


def small_pool(url: str) -> str:
    """Child processes keep to a few PostgreSQL connections."""
    return url + "&pool_size=2&max_overflow=4" if url.startswith("postgresql") else url


# Loaded by the child through PYTHONPATH: freezes the follower (SIGSTOP) inside the write
# transaction of its Nth batch, after the batch's rows are written and before the commit, so
# that the test's SIGKILL lands mid-batch for certain.
FREEZE = """
import os, signal, sys
from projections.engine.sql import SqlReadModelStore

_write_changes = SqlReadModelStore.write_changes
_calls = [0]

def _write_then_freeze(self, cur, generation, changes):
    _write_changes(self, cur, generation, changes)
    _calls[0] += 1
    if _calls[0] == int(os.environ["FREEZE_IN_BATCH"]):
        print("frozen inside a transaction", flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)

SqlReadModelStore.write_changes = _write_then_freeze
"""


class Follower:
    """`python -m projections.cli follow` in a child process; its lines arrive in a queue."""

    def __init__(self, url: str, *args: str, freeze_in_batch: int = 0, hooks: Path | None = None) -> None:
        env = {**os.environ, "HOUR_LEDGER_DATABASE_URL": small_pool(url), "PYTHONUNBUFFERED": "1"}
        if freeze_in_batch and hooks is not None:
            hooks.mkdir(exist_ok=True)
            (hooks / "sitecustomize.py").write_text(FREEZE)
            env.update(FREEZE_IN_BATCH=str(freeze_in_batch), PYTHONPATH=f"{hooks}{os.pathsep}{PROJECT}")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "projections.cli", "follow", "--verbose", *args],
            cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def expect(self, predicate, timeout: float = 30) -> str:
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError("the follower exited:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if predicate(line):
                return line

    def stop(self, sig: int) -> int:
        self.process.send_signal(sig)
        # Generous: on a loaded 2-core machine closing the pool and the listener takes a while.
        return self.process.wait(timeout=90)


def position_line(line: str) -> int | None:
    parts = line.split()
    return int(parts[2]) if len(parts) >= 3 and parts[1] == "position" else None
