"""The audit tree on PostgreSQL at HOUR_LEDGER_BENCH_SIZES events (SPEC §6, issue 9):

- leafing the whole log from scratch, events/s, beside reading the same rows with plain
  psycopg and decoding their JSON;
- `audit verify` of the whole log, seconds (the command, in its own process);
- inclusion and consistency proofs through the HTTP API (a real server), p50/p99;
- what a follower of the tree in the writing process costs the writes: single postings from
  4 threads for a while with the follower off, then on.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone


from benchmarks.common import console, percentile, report, scratch_database, served, timed
from benchmarks.projections import load, raw_read
from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.commands import RecordService
from ledger.config import LedgerSettings
from ledger.persistence import persistence_env
from projections.audit.log import AuditLog

SIZES = [int(s) for s in os.environ.get("HOUR_LEDGER_BENCH_SIZES", "100000,1000000").split(",")]
REQUESTS = int(os.environ.get("HOUR_LEDGER_BENCH_REQUESTS", "500"))
WRITE_SECONDS = float(os.environ.get("HOUR_LEDGER_BENCH_WRITE_SECONDS", "15"))


def settings(url: str, directory: str) -> LedgerSettings:
    return LedgerSettings(database_url=url, signing_key_file=os.path.join(directory, "signing-key"))


def leafing(url: str, directory: str) -> tuple[float, int]:
    """Events/s appending the whole log to an empty tree."""
    ledger = HourLedger(env=persistence_env(url), settings=settings(url, directory))
    try:
        audit = AuditLog(ledger)
        head = ledger.head_position()
        with timed() as t:
            size = audit.catch_up()
        audit.sign_checkpoint()
        return head / t.seconds, size
    finally:
        ledger.close()


def verify_seconds(url: str, directory: str) -> float:
    env = {**os.environ, "HOUR_LEDGER_DATABASE_URL": url, "HOUR_LEDGER_SIGNING_KEY_FILE": os.path.join(directory, "signing-key")}
    with timed() as t:
        done = subprocess.run([sys.executable, "-m", "api.cli", "audit", "verify"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return t.seconds


def proof_latency(url: str, directory: str, size: int) -> dict[str, float]:
    key_file = {"HOUR_LEDGER_SIGNING_KEY_FILE": os.path.join(directory, "signing-key")}
    with served(url, "--no-projections", env=key_file) as client:
        tree = int(client.post("/v1/audit/checkpoints").json()["tree_size"])
        rng = random.Random(9)
        figures: dict[str, float] = {}
        for name, request in (
            ("inclusion", lambda: client.get("/v1/audit/proofs/inclusion", params={"position": rng.randint(1, size), "tree_size": tree})),
            ("consistency", lambda: client.get("/v1/audit/proofs/consistency", params={"from": rng.randint(1, tree), "to": tree})),
            ("healthz", lambda: client.get("/healthz")),
        ):
            times = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                response = request()
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code in (200, 404), response.text  # a position in a gap: 404
            figures[f"{name} p50"], figures[f"{name} p99"] = percentile(times, 50), percentile(times, 99)
        return figures


def write_rate(url: str, directory: str, follow: bool) -> float:
    """Single postings per second from 4 threads, with or without the tree's follower in
    the same process (signing every second, to count that too)."""
    ledger = HourLedger(env=persistence_env(url), settings=settings(url, directory))
    audit = AuditLog(ledger)
    audit.catch_up()
    if follow:
        audit.start(sign_every=1.0)
    org = ledger.register_organization(SYSTEM, "bench", "3208").aggregate.id
    people = [ledger.register_volunteer(SYSTEM, f"bench{i}", "320830", org).aggregate.id for i in range(64)]
    base = datetime(1990 if follow else 1980, 1, 1, tzinfo=timezone.utc)
    count = [0] * 4
    stop = time.monotonic() + WRITE_SECONDS

    def post(worker: int) -> None:
        n = 0
        while time.monotonic() < stop:
            person = people[worker * 16 + n % 16]
            started = base + timedelta(hours=2 * (n // 16))
            ledger.post(SYSTEM, RecordService(id=uuid.uuid4(), volunteer_id=person, organization_id=org, category="bench",
                                              started_at=started, ended_at=started + timedelta(minutes=30)))
            n += 1
        count[worker] = n

    threads = [threading.Thread(target=post, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    audit.stop()
    ledger.close()
    return sum(count) / WRITE_SECONDS


def run() -> None:
    for size in SIZES:
        with scratch_database(f"hour_ledger_bench_audit_{size}") as url, tempfile.TemporaryDirectory() as directory:
            head, _ = load(url, size)
            raw = raw_read(url)
            rate, leaves = leafing(url, directory)
            seconds = verify_seconds(url, directory)
            latency = proof_latency(url, directory, head)
            without = write_rate(url, directory, follow=False)
            with_tree = write_rate(url, directory, follow=True)
            report(
                f"Audit tree on PostgreSQL, {leaves:,} events",
                [
                    ("leafing the whole log: events/s", f"{rate:,.0f}", f"{raw:,.0f} (psycopg read + JSON decode)"),
                    ("audit verify of the whole log", f"{seconds:.1f} s ({leaves / seconds:,.0f} events/s)", ""),
                    ("inclusion proof p50 / p99", f"{latency['inclusion p50']:.1f} / {latency['inclusion p99']:.1f} ms",
                     f"{latency['healthz p50']:.1f} / {latency['healthz p99']:.1f} ms (GET /healthz)"),
                    ("consistency proof p50 / p99", f"{latency['consistency p50']:.1f} / {latency['consistency p99']:.1f} ms", ""),
                    ("postings/s, 4 threads, with the tree's follower", f"{with_tree:,.0f}",
                     f"{without:,.0f} without it ({(1 - with_tree / without) * 100:+.0f} % cost)"),
                ],
            )
    console.print("audit benchmarks done")
