"""Write throughput on PostgreSQL: one transaction per save, many per save, and writers in
parallel, beside plain psycopg inserts of rows of the same shape under the same table lock."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import psycopg

from benchmarks.common import report, scratch_database, timed
from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.commands import RecordService
from ledger.persistence import persistence_env

N = int(os.environ.get("HOUR_LEDGER_BENCH_WRITES", "2000"))
BATCH = 250
STATE = b"x" * 400  # about the size of a stored ServiceRecorded event


def raw_inserts(url: str, rows: int, per_transaction: int) -> float:
    """Rows per second: INSERTs into an events-shaped table, each transaction taking the lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE raw_events (originator_id uuid, originator_version bigint, topic text, "
            "state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
        )
        with timed() as t:
            for start in range(0, rows, per_transaction):
                with conn.transaction():
                    conn.execute("LOCK TABLE raw_events IN EXCLUSIVE MODE")
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO raw_events (originator_id, originator_version, topic, state) VALUES (%s, 1, 't', %s)",
                            [(uuid.uuid4(), STATE) for _ in range(min(per_transaction, rows - start))],
                        )
        conn.execute("DROP TABLE raw_events")
    return rows / t.seconds


def service_records(volunteer_ids: list[uuid.UUID], org_id: uuid.UUID, count: int) -> list[RecordService]:
    base = datetime(2000, 1, 1, tzinfo=timezone.utc)
    return [
        RecordService(
            id=uuid.uuid4(), volunteer_id=volunteer_ids[i % len(volunteer_ids)], organization_id=org_id,
            category="elder_care", started_at=base + timedelta(hours=2 * (i // len(volunteer_ids))),
            ended_at=base + timedelta(hours=2 * (i // len(volunteer_ids)), minutes=60),
        )
        for i in range(count)
    ]


def run() -> None:
    with scratch_database("hour_ledger_bench_writes") as url:
        ledger = HourLedger(env=persistence_env(url))
        org = ledger.register_organization(SYSTEM, "bench", "3208").aggregate.id
        volunteers = [ledger.register_volunteer(SYSTEM, f"v{i}", "320830", org).aggregate.id for i in range(64)]

        one_by_one = service_records(volunteers, org, N)
        with timed() as t_single:
            for command in one_by_one:
                ledger.post(SYSTEM, command)
        batched = service_records(volunteers, org, N * 5)
        for c in batched:  # later than the first set, so nothing overlaps
            object.__setattr__(c, "started_at", c.started_at + timedelta(days=3650))
            object.__setattr__(c, "ended_at", c.ended_at + timedelta(days=3650))
        with timed() as t_batch:
            for start in range(0, len(batched), BATCH):
                ledger.post_batch(SYSTEM, batched[start : start + BATCH], atomic=True)
        parallel = service_records(volunteers, org, N)
        for c in parallel:
            object.__setattr__(c, "started_at", c.started_at + timedelta(days=7300))
            object.__setattr__(c, "ended_at", c.ended_at + timedelta(days=7300))
        with timed() as t_parallel, ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda c: ledger.post(SYSTEM, c), parallel))
        ledger.close()

        raw_single = raw_inserts(url, N, 1)
        raw_batch = raw_inserts(url, N * 5, BATCH * 2)

    events_single = 2 * N / t_single.seconds
    events_batch = 2 * N * 5 / t_batch.seconds
    report(
        f"Writes on PostgreSQL ({N} service records one per save, {N * 5} in atomic batches of {BATCH})",
        [
            ("one transaction per save: events/s", f"{events_single:,.0f}", f"{raw_single:,.0f} rows/s, 1 per txn"),
            ("  transactions/s", f"{N / t_single.seconds:,.0f}", ""),
            ("atomic batches: events/s", f"{events_batch:,.0f}", f"{raw_batch:,.0f} rows/s, {BATCH * 2} per txn"),
            ("  transactions/s", f"{N * 5 / t_batch.seconds:,.0f}", ""),
            ("8 threads, one per save: transactions/s", f"{N / t_parallel.seconds:,.0f}", ""),
        ],
    )
