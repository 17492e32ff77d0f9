"""Load and soak: mixed traffic against a served API on PostgreSQL for a while (10 minutes by
default, HOUR_LEDGER_BENCH_SOAK_SECONDS), 8 clients: postings (service records, deposits,
redemptions), balance reads, statements and statistics. Each minute: requests/s, p99 by kind
and the server's resident memory; at the end, memory against minute 2 (a leak shows there).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from benchmarks.common import console, percentile, report, scratch_database, served_process

SECONDS = float(os.environ.get("HOUR_LEDGER_BENCH_SOAK_SECONDS", "600"))
CLIENTS = 8
PEOPLE = 200


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def world(http: httpx.Client) -> tuple[str, list[str], str]:
    org = http.post("/v1/organizations", json={"name": "盱眙县志愿服务队", "region_code": "320830"}).json()["id"]
    people = []
    for i in range(PEOPLE):
        person = http.post("/v1/volunteers", json={"name": f"志愿者{i}", "region_code": "320830001001", "organization_id": org}).json()["id"]
        http.post(f"/v1/volunteers/{person}/timebank")
        people.append(person)
    point = http.post("/v1/exchange-points", json={"name": "兑换点", "region_code": "320830"}).json()["id"]
    http.put(f"/v1/exchange-points/{point}/items/tea", json={"name": "茶", "price_minutes": 1, "stock": 1_000_000})
    return org, people, point


def run() -> None:
    with scratch_database("hour_ledger_bench_soak") as url, served_process(url) as (http, server_pid):
        org, people, point = world(http)
        latencies: dict[tuple[int, str], list[float]] = defaultdict(list)
        errors: dict[int, int] = defaultdict(int)
        lock = threading.Lock()
        started = time.monotonic()
        stop = started + SECONDS
        slots = iter(range(10**9))
        slots_lock = threading.Lock()

        def next_slot() -> int:
            with slots_lock:
                return next(slots)

        def client(seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(base_url=str(http.base_url), headers=dict(http.headers), timeout=30) as mine:
                while (now := time.monotonic()) < stop:
                    person = rng.choice(people)
                    kind = rng.choices(["posting", "balance", "statement", "statistics"], [4, 4, 1, 1])[0]
                    if kind == "posting":
                        slot = next_slot()
                        began = datetime(2001, 1, 1, tzinfo=timezone.utc) + timedelta(hours=slot)
                        body = rng.choice([
                            {"type": "service_record", "volunteer_id": person, "organization_id": org, "category": "elder care",
                             "started_at": began.isoformat(), "ended_at": (began + timedelta(minutes=30)).isoformat()},
                            {"type": "timebank_deposit", "volunteer_id": person, "organization_id": org, "minutes": 1,
                             "served_at": began.isoformat()},
                            {"type": "redemption", "exchange_point_id": point, "volunteer_id": person, "items": [{"sku": "tea", "quantity": 1}]},
                        ])
                        call = lambda: mine.post("/v1/transactions", json={"id": str(uuid.uuid4()), **body})  # noqa: B023,E731
                    elif kind == "balance":
                        call = lambda: mine.get(f"/v1/volunteers/{person}/balance")  # noqa: B023,E731
                    elif kind == "statement":
                        call = lambda: mine.get(f"/v1/volunteers/{person}/statement", params={"limit": 20})  # noqa: B023,E731
                    else:
                        call = lambda: mine.get("/v1/stats/summary", params={"region": "3208"})  # noqa: E731
                    at = time.perf_counter()
                    answer = call()
                    spent = (time.perf_counter() - at) * 1000
                    minute = int((now - started) // 60)
                    with lock:
                        latencies[(minute, kind)].append(spent)
                        if answer.status_code >= 500 or (answer.status_code >= 400 and answer.status_code != 409):
                            errors[answer.status_code] += 1

        memory: dict[int, float] = {}
        threads = [threading.Thread(target=client, args=(seed,)) for seed in range(CLIENTS)]
        for thread in threads:
            thread.start()
        while time.monotonic() < stop:
            minute = int((time.monotonic() - started) // 60)
            memory[minute] = rss_mb(server_pid)
            time.sleep(min(5.0, max(0.0, stop - time.monotonic())))  # sampling the server's memory
        for thread in threads:
            thread.join()
        rows = []
        minutes = sorted({m for m, _ in latencies})
        for minute in minutes:
            count = sum(len(latencies[(minute, k)]) for k in ("posting", "balance", "statement", "statistics"))
            p99 = {k: percentile(latencies[(minute, k)], 99) for k in ("posting", "balance") if latencies[(minute, k)]}
            rows.append((
                f"minute {minute + 1}",
                f"{count / 60:,.0f} req/s, p99 posting {p99.get('posting', 0):.0f} ms, balance {p99.get('balance', 0):.0f} ms",
                f"RSS {memory.get(minute, float('nan')):,.0f} MB",
            ))
        second = memory.get(1, memory.get(0, float("nan")))
        last = memory.get(max(memory), float("nan"))
        rows.append(("RSS at the end against minute 2", f"{last:,.0f} MB", f"{second:,.0f} MB ({(last / second - 1) * 100:+.1f} %)"))
        rows.append(("errors (5xx, or 4xx other than 409)", str(dict(errors)), ""))
        report(f"Soak: {SECONDS / 60:.0f} minutes of mixed traffic, {CLIENTS} clients, PostgreSQL", rows)
    console.print("soak done")
