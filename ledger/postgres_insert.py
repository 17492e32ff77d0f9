"""Stored events inserted into PostgreSQL in one round trip: a PL/pgSQL function that takes the
rows as four arrays (uuid[], bigint[], text[], bytea[], sent in binary) and does what
eventsourcing 9.5's PostgresApplicationRecorder does in its pipelined transaction (BEGIN;
SET LOCAL lock_timeout; LOCK TABLE … IN EXCLUSIVE MODE; NOTIFY; INSERT … RETURNING; COMMIT),
inside the one statement's transaction.

The EXCLUSIVE lock is what keeps the notification log gapless in commit order: no other
writer takes notification ids until this transaction has committed (the library's own
database function, POSTGRES_ENABLE_DB_FUNCTIONS, takes no such lock: it is not used). The
NOTIFY on the library's channel wakes its LISTEN subscriptions as the library's insert does.

`install_insert_function(recorder)` creates the function (once per process and recorder;
`insert_stored_events` does so itself on first use); `insert_stored_events(recorder, events)`
answers the events' notification ids in the order given. A duplicate (originator_id,
originator_version) raises eventsourcing's IntegrityError, as the library's insert does.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier, Literal

FUNCTION = "hour_ledger_insert_events"

_CREATE = """
CREATE OR REPLACE FUNCTION {schema}.{function}(
    ids {id_type}[], versions bigint[], topics text[], states bytea[]
) RETURNS SETOF bigint
LANGUAGE plpgsql
SET lock_timeout = {lock_timeout}
AS $body$
BEGIN
    LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;
    NOTIFY {channel};
    -- The ids in the order of the arrays, whatever order INSERT … RETURNING answers in.
    RETURN QUERY
    WITH inserted AS (
        INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)
        SELECT * FROM unnest(ids, versions, topics, states)
        RETURNING notification_id, originator_id, originator_version
    )
    SELECT inserted.notification_id
    FROM unnest(ids, versions) WITH ORDINALITY AS given(id, version, n)
    JOIN inserted ON inserted.originator_id = given.id AND inserted.originator_version = given.version
    ORDER BY given.n;
END
$body$
"""
_CALL = "SELECT {schema}.{function}(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[])"

# Recorders whose function this process has created.
_installed: weakref.WeakSet[PostgresApplicationRecorder] = weakref.WeakSet()


def install_insert_function(recorder: PostgresApplicationRecorder) -> None:
    """Creates (or replaces) the function beside the recorder's events table. Processes
    starting together take turns (an advisory lock): concurrent CREATE OR REPLACE of one
    function can fail with 'tuple concurrently updated'."""
    datastore = recorder.datastore
    statement = SQL(_CREATE).format(
        schema=Identifier(datastore.schema),
        function=Identifier(FUNCTION),
        id_type=SQL(datastore.originator_id_type),
        lock_timeout=Literal(f"{datastore.lock_timeout}s"),
        table=Identifier(recorder.events_table_name),
        channel=Identifier(recorder.channel_name),
    )
    with datastore.transaction(commit=True) as curs:
        curs.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (FUNCTION,))
        curs.execute(statement)
    _installed.add(recorder)


def insert_stored_events(recorder: PostgresApplicationRecorder, stored_events: Sequence[StoredEvent]) -> list[int]:
    """Inserts the events in one statement, its own transaction: their notification ids,
    in the order given. An empty list inserts nothing and costs nothing."""
    if not stored_events:
        return []
    if recorder not in _installed:
        install_insert_function(recorder)
    datastore = recorder.datastore
    call = SQL(_CALL).format(
        schema=Identifier(datastore.schema),
        function=Identifier(FUNCTION),
        id_type=SQL(datastore.originator_id_type),
    )
    params: tuple[list[Any], ...] = (
        [e.originator_id for e in stored_events],
        [e.originator_version for e in stored_events],
        [e.topic for e in stored_events],
        [e.state for e in stored_events],
    )
    with datastore.get_connection() as conn, conn.cursor() as curs:
        assert conn.autocommit  # the SELECT is its own transaction: the lock ends with it
        curs.execute(call, params, prepare=True)
        return [row[FUNCTION] for row in curs.fetchall()]
