"""The ledger's PostgreSQL recorders: eventsourcing's own, with their retries bounded in time.

eventsourcing retries a failed statement ten times, 0.2 s apart, and each attempt may wait for
a pooled connection: a request caught by a database going away could wait twenty seconds and
more for its 503. Here each call retries only while `RETRY_WITHIN` lasts, and each attempt
waits for a connection at most the pool's timeout (the URL's `connect_timeout`, 2 s by
default): a request is answered within about three seconds whatever the database does.
(`persistence_env` names `LedgerPostgresFactory` as eventsourcing's PERSISTENCE_MODULE.)

A save is one round trip: a PL/pgSQL function takes the library's table lock (so that the
order of notification ids is the order of commits, which followers rely on), notifies the
listeners and inserts every event, in the one implicit transaction of a single statement. The
library's own pipeline holds the lock across two round trips; its optional database function
(`POSTGRES_ENABLE_DB_FUNCTIONS`) takes no lock at all, and a follower reading to the head was
measured missing rows with it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

T = TypeVar("T")

RETRY_WITHIN = 0.8  # seconds for the retries of one call; an attempt may add a pool wait (2 s)
RETRY_PAUSE = 0.1
FEW_EVENTS = 8  # up to this many events a save sends scalars, beyond it arrays


def within_bound(call: Callable[[], T], store_down: Callable[[], bool]) -> T:
    """`call()`, again after a connection failure while the bound allows; at once an error
    while the service has seen the database down (a call that waited on another's failure,
    for a lock or a connection, does not wait again)."""
    deadline = time.monotonic() + RETRY_WITHIN
    while True:
        if store_down():
            raise OperationalError("the database was seen down a moment ago")
        try:
            return call()
        except (InterfaceError, OperationalError):
            pause = RETRY_PAUSE * random.uniform(0.8, 1.2)
            if time.monotonic() + pause >= deadline:
                raise
            time.sleep(pause)


# The library's statements themselves, without its retry decorators.
_select_events = PostgresAggregateRecorder.select_events.__wrapped__  # type: ignore[attr-defined]
_select_notifications = PostgresApplicationRecorder.select_notifications.__wrapped__  # type: ignore[attr-defined]
_max_notification_id = PostgresApplicationRecorder.max_notification_id.__wrapped__  # type: ignore[attr-defined]


def as_columns(stored_events: Sequence[StoredEvent]) -> tuple[list[Any], list[int], list[str], list[bytes]]:
    """The stored events as four columns, the arrays both recorders insert in one statement."""
    return (
        [e.originator_id for e in stored_events],
        [e.originator_version for e in stored_events],
        [e.topic for e in stored_events],
        [e.state for e in stored_events],
    )


def never_down() -> bool:
    return False


class BoundedRetries:
    """What both recorders share: how they learn that the service saw the database down."""

    store_down: Callable[[], bool] = staticmethod(never_down)

    def watch_with(self, store_down: Callable[[], bool]) -> None:
        self.store_down = store_down


class LedgerPostgresRecorder(BoundedRetries, PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        names = {
            "schema": Identifier(self.datastore.schema),
            "table": Identifier(self.events_table_name),
            "function": Identifier(f"hour_ledger_insert_{self.events_table_name}"),
            "channel": Identifier(self.channel_name),
            "id_type": SQL(self.datastore.originator_id_type),
        }
        self.sql_create_statements.append(SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}("
            "ids {id_type}[], versions bigint[], topics text[], states bytea[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $$ "
            "BEGIN "
            f"SET LOCAL lock_timeout = '{int(self.datastore.lock_timeout)}s'; "
            "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "RETURN QUERY INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(ids, versions, topics, states) RETURNING notification_id; "
            "END $$"
        ).format(**names))
        self.function = SQL("{schema}.{function}").format(**names)
        self.column_types = (self.datastore.originator_id_type, "bigint", "text", "bytea")
        self.calls_by_size: dict[int, bytes] = {}
        self.call_with_arrays: bytes | None = None

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        return within_bound(lambda: self.insert_in_one_round_trip(stored_events), self.store_down)

    def insert_in_one_round_trip(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        """The events' notification ids, in order; IntegrityError if any version is taken."""
        columns = as_columns(stored_events)
        # Rows as tuples: the library's connections make a dict of each row in Python, and a
        # batch answers a thousand of them.
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            if len(stored_events) <= FEW_EVENTS:
                params: list[Any] = [value for column in columns for value in column]
                curs.execute(self.call_for_few(len(stored_events), conn), params, prepare=True)
            else:
                curs.execute(self.call_for_many(conn), columns, prepare=True)
            return [id for (id,) in curs.fetchall()]

    def call_for_few(self, size: int, conn: Connection[Any]) -> bytes:
        """The function's call for `size` events, the arrays built by the server from scalar
        parameters: psycopg dumps a few scalars in C faster than it dumps a few arrays."""
        call = self.calls_by_size.get(size)
        if call is None:
            scalars = SQL(", ").join([SQL("%b")] * size)
            arrays = SQL(", ").join([SQL("ARRAY[{0}]::{1}[]").format(scalars, SQL(t)) for t in self.column_types])
            composed = SQL("SELECT n AS notification_id FROM {0}({1}) AS n").format(self.function, arrays)
            # Rendered once: psycopg would render a composed query anew on every execution.
            call = self.calls_by_size[size] = composed.as_bytes(conn)
        return call

    def call_for_many(self, conn: Connection[Any]) -> bytes:
        """The function's call with four binary arrays: for many events, far cheaper than
        as many scalars (1,000 events: 4 ms of CPU against 22)."""
        if self.call_with_arrays is None:
            arrays = SQL(", ").join([SQL("%b::{0}[]").format(SQL(t)) for t in self.column_types])
            composed = SQL("SELECT n AS notification_id FROM {0}({1}) AS n").format(self.function, arrays)
            self.call_with_arrays = composed.as_bytes(conn)
        return self.call_with_arrays

    def select_events(self, originator_id: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        return within_bound(lambda: _select_events(self, originator_id, **kwargs), self.store_down)

    def select_notifications(self, start: int | None, limit: int, stop: int | None = None,
                             topics: Sequence[str] = (), *, inclusive_of_start: bool = True) -> Sequence[Notification]:
        return within_bound(lambda: _select_notifications(
            self, start, limit, stop, topics, inclusive_of_start=inclusive_of_start), self.store_down)

    def max_notification_id(self) -> int | None:
        return within_bound(lambda: _max_notification_id(self), self.store_down)


class LedgerSnapshotRecorder(BoundedRetries, PostgresAggregateRecorder):
    """Snapshots: read before the events on every load of a snapshotted aggregate.

    Written as four binary arrays, like the events: the library sends an array of its
    composite type as text, which psycopg escapes field by field (a volunteer's snapshot holds
    every period it served: a batch's dozen snapshots took 84 ms of CPU that way)."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.insert_with_arrays = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[])"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            id_type=SQL(self.datastore.originator_id_type),
        )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if stored_events:
            within_bound(lambda: self.insert_in_one_round_trip(stored_events), self.store_down)
        return None

    def insert_in_one_round_trip(self, stored_events: Sequence[StoredEvent]) -> None:
        columns = as_columns(stored_events)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.insert_with_arrays, columns)

    def select_events(self, originator_id: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        return within_bound(lambda: _select_events(self, originator_id, **kwargs), self.store_down)


class LedgerPostgresFactory(PostgresFactory):
    aggregate_recorder_class = LedgerSnapshotRecorder
    application_recorder_class = LedgerPostgresRecorder
