"""What serving people and monitors costs, on PostgreSQL with the demo data set (scale
HOUR_LEDGER_BENCH_OPS_SCALE, default 10: ~75,000 events), through a real `hour-ledger serve`:

- p50/p99 of a balance and of `GET /healthz` with the access log on, beside the same with
  `--no-access-log` (the raw baseline: the request metrics and local time stay in both);
- `/readyz` and a `/metrics` scrape, beside `/healthz`;
- a Chinese error (`Accept-Language: zh-CN`) beside the English one;
- a province breakdown by county and a volunteer's statement as CSV and XLSX, beside the JSON.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import httpx

from benchmarks.common import console, percentile, report, scratch_database, served
from benchmarks.projections import load
from ledger.demo import demo_id

SCALE = int(os.environ.get("HOUR_LEDGER_BENCH_OPS_SCALE", "10"))
REQUESTS = int(os.environ.get("HOUR_LEDGER_BENCH_REQUESTS", "500"))


def latencies(call: Callable[[], httpx.Response], count: int = REQUESTS) -> tuple[float, float]:
    """(p50, p99) in ms; every answer must be a success or the problem asked for."""
    for _ in range(20):  # warm the connections
        call()
    found = []
    for _ in range(count):
        started = time.perf_counter()
        answer = call()
        found.append((time.perf_counter() - started) * 1000)
        assert answer.status_code < 500 or answer.status_code == 503, answer.text
    return percentile(found, 50), percentile(found, 99)


def shown(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.1f} / {pair[1]:.1f} ms"


def run() -> None:
    with scratch_database("hour_ledger_bench_operations") as url:
        head, _ = load(url, SCALE * 7_500)
        person = demo_id(2021, "volunteer", 0)
        figures: dict[str, tuple[float, float]] = {}
        for switch in ("--access-log", "--no-access-log"):
            with served(url, switch) as http:
                # Let the followers catch up before timing reads.
                deadline = time.monotonic() + 300
                while http.get("/readyz").status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.5)
                figures[f"balance {switch}"] = latencies(lambda: http.get(f"/v1/volunteers/{person}/balance"))
                figures[f"healthz {switch}"] = latencies(lambda: http.get("/healthz"))
                if switch == "--access-log":
                    figures["readyz"] = latencies(lambda: http.get("/readyz"))
                    figures["metrics"] = latencies(lambda: http.get("/metrics"), REQUESTS // 5)
                    bad = {"id": "x", "type": "gift"}
                    figures["error en"] = latencies(lambda: http.post("/v1/transactions", json=bad))
                    figures["error zh"] = latencies(
                        lambda: http.post("/v1/transactions", json=bad, headers={"Accept-Language": "zh-CN"})
                    )
                    breakdown = {"by": "region", "level": "county", "region": "32"}
                    for fmt in ("json", "csv", "xlsx"):
                        figures[f"breakdown {fmt}"] = latencies(
                            lambda: http.get("/v1/stats/breakdown", params={**breakdown, "format": fmt}), REQUESTS // 5
                        )
                        figures[f"statement {fmt}"] = latencies(
                            lambda: http.get(f"/v1/volunteers/{person}/statement", params={"format": fmt}), REQUESTS // 5
                        )
        report(
            f"Serving people and monitors on PostgreSQL, {head:,} events ({REQUESTS} requests each)",
            [
                ("balance p50 / p99, access log on", shown(figures["balance --access-log"]),
                 shown(figures["balance --no-access-log"]) + " (--no-access-log)"),
                ("GET /healthz p50 / p99, access log on", shown(figures["healthz --access-log"]),
                 shown(figures["healthz --no-access-log"]) + " (--no-access-log)"),
                ("GET /readyz p50 / p99", shown(figures["readyz"]), shown(figures["healthz --access-log"]) + " (/healthz)"),
                ("GET /metrics p50 / p99", shown(figures["metrics"]), shown(figures["healthz --access-log"]) + " (/healthz)"),
                ("a 422 in Chinese p50 / p99", shown(figures["error zh"]), shown(figures["error en"]) + " (English)"),
                ("county breakdown as CSV / XLSX, p50", f"{figures['breakdown csv'][0]:.1f} / {figures['breakdown xlsx'][0]:.1f} ms",
                 f"{figures['breakdown json'][0]:.1f} ms (JSON)"),
                ("statement as CSV / XLSX, p50", f"{figures['statement csv'][0]:.1f} / {figures['statement xlsx'][0]:.1f} ms",
                 f"{figures['statement json'][0]:.1f} ms (JSON, one page)"),
            ],
        )
    console.print("operations benchmarks done")
