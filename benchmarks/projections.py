"""Read models on PostgreSQL at 100,000 and 1,000,000 events (HOUR_LEDGER_BENCH_SIZES):

- full rebuild, events/s, beside reading the same rows with plain psycopg and decoding them;
- peak RSS of the rebuild (a `hour-ledger projections rebuild` subprocess);
- balance and province-summary latency p50/p99 through the HTTP API (a real server);
- follower lag p99 under sustained writes, woken by LISTEN/NOTIFY in another process.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg

from benchmarks.common import console, percentile, report, scratch_database, served, timed
from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.commands import RecordService
from ledger.demo import VOLUNTEERS_PER_SCALE, demo_id, load_demo
from ledger.persistence import persistence_env
from projections import ReadModels

SIZES = [int(s) for s in os.environ.get("HOUR_LEDGER_BENCH_SIZES", "100000,1000000").split(",")]
EVENTS_PER_SCALE = 7_500  # what one unit of `demo --scale` writes, roughly
REQUESTS = int(os.environ.get("HOUR_LEDGER_BENCH_REQUESTS", "500"))
LAG_SECONDS = float(os.environ.get("HOUR_LEDGER_BENCH_LAG_SECONDS", "20"))
# Up to this many events, also time a rebuild without the bulk path (it is ~10x slower).
PYTHON_REBUILD_MAX = int(os.environ.get("HOUR_LEDGER_BENCH_PYTHON_REBUILD_MAX", "200000"))


def load(url: str, events: int) -> tuple[int, int]:
    scale = max(1, round(events / EVENTS_PER_SCALE))
    env = {**persistence_env(url), "AGGREGATE_CACHE_MAXSIZE": "1000000", "AGGREGATE_CACHE_FASTFORWARD": "n"}
    ledger = HourLedger(env=env)
    with timed() as t:
        load_demo(ledger, scale=scale)
    head = ledger.head_position()
    ledger.close()
    console.print(f"loaded {head:,} events (demo scale {scale}) in {t.seconds:.0f} s: {head / t.seconds:,.0f} events/s")
    return head, scale


def raw_read(url: str) -> float:
    """Events/s reading every stored event in order with plain psycopg and decoding its JSON."""
    count = 0
    with psycopg.connect(url) as conn, timed() as t:
        with conn.cursor(name="raw") as cur:
            cur.itersize = 5000
            cur.execute("SELECT notification_id, originator_id, originator_version, topic, state FROM hourledger_events ORDER BY notification_id")
            for _, _, _, _, state in cur:
                json.loads(state)
                count += 1
    return count / t.seconds


# Runs the command line and reports its own peak RSS (VmHWM) at exit. Not the rusage of the
# child: on Linux a child's ru_maxrss starts from its parent's at fork, and this parent holds
# the loaded demo (1.4 GB at 1M events), which is what the first measurements reported.
PEAK_RSS = """
import atexit, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                sys.stderr.write("peak-kB " + line.split()[1] + "\\n")
atexit.register(peak)
sys.argv = ["hour-ledger"] + sys.argv[1:]
runpy.run_module("api.cli", run_name="__main__")
"""


def rebuild(url: str, bulk: bool = True) -> tuple[float, float]:
    """Events/s and peak RSS (MB) of `hour-ledger projections rebuild` in its own process
    (`--no-bulk`: the Python projections process every event, as a follower does)."""
    ledger = HourLedger(env=persistence_env(url))
    head = ledger.head_position()
    ledger.close()
    env = {**os.environ, "HOUR_LEDGER_DATABASE_URL": url}
    with timed() as t:
        done = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, "projections", "rebuild", "--bulk" if bulk else "--no-bulk"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True,
        )
    peak_kb = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("peak-kB ")]
    return head / t.seconds, (peak_kb[-1] / 1024 if peak_kb else float("nan"))


def api_latency(url: str, scale: int) -> dict[str, float]:
    """p50/p99 (ms) of balance and province summary through a real server."""
    with served(url) as client:
        people = [demo_id(2021, "volunteer", n) for n in range(scale * VOLUNTEERS_PER_SCALE)]
        rng = random.Random(7)
        client.get("/v1/stats/summary", params={"region": "32"})  # first read waits for the follower
        figures = {}
        for name, request in (
            ("balance", lambda: client.get(f"/v1/volunteers/{rng.choice(people)}/balance")),
            ("summary", lambda: client.get("/v1/stats/summary", params={"region": "32"})),
        ):
            times = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                response = request()
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
            figures[f"{name} p50"] = percentile(times, 50)
            figures[f"{name} p99"] = percentile(times, 99)
        health = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            client.get("/healthz")
            health.append((time.perf_counter() - started) * 1000)
        figures["healthz p50"] = percentile(health, 50)
        figures["healthz p99"] = percentile(health, 99)
        return figures


def follower_lag(url: str) -> tuple[float, float, int]:
    """Lag p50/p99 (ms) from a write's commit to its processing by a follower that another
    HourLedger (as in another process) wakes through LISTEN/NOTIFY; and writes made."""
    writer = HourLedger(env=persistence_env(url))
    follower_ledger = HourLedger(env=persistence_env(url))
    committed: dict[int, float] = {}
    processed: list[tuple[int, float]] = []
    lock = threading.Lock()

    def on_batch(name: str, generation: int, position: int, events: int) -> None:
        with lock:
            processed.append((position, time.perf_counter()))

    models = ReadModels(follower_ledger, on_batch=on_batch)
    models.catch_up()
    models.start()
    org = writer.register_organization(SYSTEM, "lag", "3208").aggregate.id
    people = [writer.register_volunteer(SYSTEM, f"lag{i}", "320830", org).aggregate.id for i in range(16)]
    base = datetime(2001, 1, 1, tzinfo=timezone.utc)
    stop = time.monotonic() + LAG_SECONDS
    n = 0
    while time.monotonic() < stop:
        started = base + timedelta(hours=2 * (n // len(people)))
        posted = writer.post(SYSTEM, RecordService(
            id=uuid.uuid4(), volunteer_id=people[n % len(people)], organization_id=org, category="lag",
            started_at=started, ended_at=started + timedelta(minutes=30)))
        committed[posted.position] = time.perf_counter()
        n += 1
    models.wait_for(writer.head_position(), 30)
    models.stop()
    lags = []
    with lock:
        batches = sorted(processed)
    for position, at in committed.items():
        done = next((t for p, t in batches if p >= position), None)
        if done is not None:
            lags.append((done - at) * 1000)
    writer.close()
    follower_ledger.close()
    return percentile(lags, 50), percentile(lags, 99), n


def run() -> None:
    for size in SIZES:
        with scratch_database(f"hour_ledger_bench_{size}") as url:
            head, scale = load(url, size)
            raw = raw_read(url)
            rate, peak = rebuild(url)
            python_rate, python_peak = rebuild(url, bulk=False) if head <= PYTHON_REBUILD_MAX else (None, None)
            latency = api_latency(url, scale)
            lag50, lag99, writes = follower_lag(url)
            report(
                f"Read models on PostgreSQL, {head:,} events",
                [
                    ("full rebuild: events/s", f"{rate:,.0f}", f"{raw:,.0f} (psycopg read + JSON decode)"),
                    ("rebuild peak RSS", f"{peak:,.0f} MB", ""),
                    *([("rebuild --no-bulk (the projections in Python): events/s, peak RSS",
                        f"{python_rate:,.0f}, {python_peak:,.0f} MB", "")] if python_rate else []),
                    ("balance p50 / p99", f"{latency['balance p50']:.1f} / {latency['balance p99']:.1f} ms",
                     f"{latency['healthz p50']:.1f} / {latency['healthz p99']:.1f} ms (GET /healthz)"),
                    ("province summary p50 / p99", f"{latency['summary p50']:.1f} / {latency['summary p99']:.1f} ms", ""),
                    (f"follower lag p50 / p99 ({writes} writes in {LAG_SECONDS:.0f} s)", f"{lag50:.0f} / {lag99:.0f} ms", ""),
                ],
            )
