"""Inserting stored events into PostgreSQL (issue 11, item 4): eventsourcing's insert (a
pipelined transaction: BEGIN, SET LOCAL, LOCK TABLE, NOTIFY, INSERT of a composite array,
COMMIT) beside the ledger's one round trip (ledger/postgres_recorder.py: a PL/pgSQL function
taking the table lock, given scalars for a few events, four binary arrays for more), one thread, batches of 1 to 256 events of 535 bytes (the demo's average),
in milliseconds per batch and microseconds per event: p50 of HOUR_LEDGER_BENCH_INSERTS."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from uuid import uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

from benchmarks.common import console, percentile, report, scratch_database
from ledger.application import HourLedger
from ledger.persistence import persistence_env

BATCHES = (1, 4, 32, 256, 1000)
INSERTS = int(os.environ.get("HOUR_LEDGER_BENCH_INSERTS", "300"))
STATE = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-01T06:55:41.318420+00:00"},' + b'"x":"' + b"y" * 450 + b'"}'


def batch(size: int) -> list[StoredEvent]:
    return [StoredEvent(originator_id=uuid4(), originator_version=1, topic="bench:Event", state=STATE) for _ in range(size)]


def p50_ms(insert: Callable[[Sequence[StoredEvent]], object], size: int) -> float:
    times = []
    for _ in range(max(20, INSERTS // max(1, size // 4))):
        events = batch(size)
        started = time.perf_counter()
        insert(events)
        times.append(time.perf_counter() - started)
    return percentile(times, 50) * 1000


def run() -> None:
    with scratch_database("hour_ledger_bench_inserts") as url:
        ledger = HourLedger(env=persistence_env(url))
        recorder = ledger.recorder
        library_insert = PostgresApplicationRecorder.insert_events.__wrapped__  # type: ignore[attr-defined]
        rows = []
        for size in BATCHES:
            library = p50_ms(lambda events: library_insert(recorder, events), size)
            mine = p50_ms(recorder.insert_events, size)
            rows.append((f"batch of {size}: ms per batch", f"{mine:.2f}", f"{library:.2f}"))
            rows.append((f"batch of {size}: µs per event", f"{mine * 1000 / size:.0f}", f"{library * 1000 / size:.0f}"))
        ledger.close()
    console.print("one thread, p50; Hour Ledger = ledger/postgres_recorder.py, baseline = eventsourcing's insert_events")
    report("Inserting stored events into PostgreSQL", rows)
