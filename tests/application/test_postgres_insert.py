"""The ledger's PostgreSQL recorder (ledger/postgres_recorder.py) inserts a save's stored events
in one round trip, as the library's insert would have stored them: in the order given, with consecutive notification ids, all or none,
under the table's EXCLUSIVE lock (the log stays gapless in commit order), with the NOTIFY
that wakes the library's LISTEN subscriptions. Its snapshot recorder stores snapshots as the
library's would, all or none."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg import sql

from ledger.application import HourLedger
from ledger.persistence import persistence_env
from tests.conftest import POSTGRES_URL, PostgresSchema, require_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema() -> Iterator[PostgresSchema]:
    require_postgres()
    schema = PostgresSchema()
    try:
        yield schema
    finally:
        schema.drop()


@pytest.fixture
def ledger(schema: PostgresSchema) -> Iterator[HourLedger]:
    app = HourLedger(env=persistence_env(schema.url))
    try:
        yield app
    finally:
        app.close()


def events(count: int, originator: object = None) -> list[StoredEvent]:
    id = originator or uuid4()
    return [
        StoredEvent(originator_id=id, originator_version=v, topic="t:T", state=f'{{"n":{v},"名":"王芳"}}'.encode())
        for v in range(1, count + 1)
    ]


@pytest.mark.parametrize("sizes", [(3, 2), (12, 9)], ids=["scalars", "arrays"])
def test_a_batch_is_stored_in_the_order_given_with_consecutive_positions(ledger: HourLedger, sizes) -> None:
    first = ledger.recorder.insert_events(events(1))
    batch = events(sizes[0]) + events(sizes[1])
    ids = ledger.recorder.insert_events(batch)
    assert ids == list(range(first[0] + 1, first[0] + 1 + len(batch)))
    stored = ledger.recorder.select_notifications(start=ids[0], limit=100)
    assert [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in stored] == [
        (i, e.originator_id, e.originator_version, e.topic, e.state) for i, e in zip(ids, batch)
    ]
    assert ledger.recorder.insert_events([]) == []


def test_a_batch_with_one_taken_version_stores_nothing(ledger: HourLedger) -> None:
    taken = events(1)
    ledger.recorder.insert_events(taken)
    head = ledger.recorder.max_notification_id()
    with pytest.raises(IntegrityError):
        ledger.recorder.insert_events(events(2) + taken)
    assert ledger.recorder.max_notification_id() == head


def test_snapshots_are_stored_as_given_and_a_taken_version_stores_none_of_them(ledger: HourLedger) -> None:
    recorder = ledger.snapshots.recorder  # type: ignore[union-attr]
    first, second = events(3), events(2)
    first[2] = dataclasses.replace(first[2], state=bytes(range(256)) * 200)  # any bytes, as long as a long history
    recorder.insert_events(first + second)
    for written in (first, second):
        stored = recorder.select_events(written[0].originator_id)
        assert [(e.originator_version, e.topic, e.state) for e in stored] == [
            (e.originator_version, e.topic, e.state) for e in written
        ]
    with pytest.raises(IntegrityError):
        recorder.insert_events(events(1) + second[:1])
    assert recorder.insert_events([]) is None


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own: NOTIFY channels are per database, and other tests' ledgers in
    other schemas of the shared one notify on the same channel name."""
    require_postgres()
    name = f"test_{uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_the_librarys_listeners_are_notified(database: str) -> None:
    ledger = HourLedger(env=persistence_env(database))
    try:
        with psycopg.connect(database, autocommit=True) as listener:
            listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(ledger.recorder.channel_name)))
            assert list(listener.notifies(timeout=0.2)) == []  # nobody else writes here
            ledger.recorder.insert_events(events(1))
            heard = list(listener.notifies(timeout=10, stop_after=1))
    finally:
        ledger.close()
    assert [n.channel for n in heard] == [ledger.recorder.channel_name]


def test_an_insert_waits_for_the_tables_lock(ledger: HourLedger, schema: PostgresSchema) -> None:
    """A writer holding a lock that conflicts with EXCLUSIVE keeps the insert waiting: it
    takes the lock that serialises commits in notification-id order."""
    table = sql.Identifier(schema.name, ledger.recorder.events_table_name)
    done: list[list[int]] = []
    with psycopg.connect(POSTGRES_URL) as holder, psycopg.connect(POSTGRES_URL, autocommit=True) as watcher:
        holder.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(table))
        writer = threading.Thread(target=lambda: done.append(ledger.recorder.insert_events(events(1))))
        writer.start()
        waiting = False
        for _ in range(200):  # until the writer's backend is seen waiting for the lock (≤ 10 s)
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                ("%hour_ledger_insert_%",),
            ).fetchone()
            if row and row[0]:
                waiting = True
                break
            watcher.execute("SELECT pg_sleep(0.05)")
        assert waiting and not done
        holder.commit()
        writer.join(timeout=30)
    assert done and len(done[0]) == 1
