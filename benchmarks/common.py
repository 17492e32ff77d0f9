"""What every benchmark needs: a scratch PostgreSQL database, a timer, and a report table
(printed, and kept in `REPORTED` for `python -m benchmarks --record`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

SERVER = os.environ.get("HOUR_LEDGER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
# A table too wide for 80 columns stays readable when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 160)


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A database created for the benchmark and dropped after it: its URL."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{SERVER}/{name}"
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class Timer:
    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Timer]:
    timer = Timer()
    started = time.perf_counter()
    try:
        yield timer
    finally:
        timer.seconds = time.perf_counter() - started


# Every table `report` printed in this process, in order: what `--record` writes down.
REPORTED: list[tuple[str, list[tuple[str, ...]]]] = []


def report(title: str, rows: Sequence[tuple[str, ...]]) -> None:
    """Prints a table of figures, each beside the raw baseline measured in the same run: rows
    of (measure, Hour Ledger, raw baseline), or of (measure, Hour Ledger, target, raw
    baseline) for figures an issue set targets for."""
    REPORTED.append((title, list(rows)))
    table = Table(title=title, title_justify="left")
    table.add_column("measure")
    table.add_column("Hour Ledger", justify="right")
    if rows and len(rows[0]) == 4:
        table.add_column("target", justify="right")
    table.add_column("raw baseline", justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(url: str, *args: str, env: dict[str, str] | None = None) -> Iterator[httpx.Client]:
    """`hour-ledger serve` on the store at `url` in a process of its own, and a client holding
    its first admin key (or an auditor key made for it when keys exist already)."""
    with served_process(url, *args, env=env) as (client, _):
        yield client


@contextmanager
def served_process(
    url: str, *args: str, env: dict[str, str] | None = None, secret: str | None = None
) -> Iterator[tuple[httpx.Client, int]]:
    """As `served`, with the server's process id (to read its memory); with `secret`, the
    client holds that key instead."""
    port = free_port()
    environment = {**os.environ, **(env or {}), "HOUR_LEDGER_DATABASE_URL": url}
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), *args], env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert server.stdout is not None
        # Read what the server prints in a thread (or its pipe fills and it stalls): the first
        # admin key, if it made one, is printed before it starts answering.
        printed: list[str] = []
        threading.Thread(target=lambda: [printed.append(line) for line in server.stdout], daemon=True).start()  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        secret = secret or next((line.strip() for line in printed if line.startswith("hl_")), None)
        if secret is None:  # keys exist already: make one
            out = subprocess.run([sys.executable, "-m", "api.cli", "api-keys", "create", "--role", "auditor", "--name", "bench"],
                                 env=environment, capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"hour-ledger api-keys create: {out.stderr.strip()}")
            secret = out.stdout.strip().splitlines()[-1]
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        yield client, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)
