"""PostgreSQL dialect of the read-model store: the events' schema (POSTGRES_SCHEMA) and the
ledger's connection pool, bulk writes (a JSON parameter taken apart by one statement per table
per batch), snapshot reads (REPEATABLE READ, begun by one statement), single-statement
reads (autocommit: a statement sees a snapshot of its own), LISTEN on the channel
eventsourcing's `PostgresApplicationRecorder` NOTIFYs in every transaction that inserts events,
and the bulk load of a rebuild (`bulk.py`)."""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import orjson
import psycopg
from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresTrackingRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from projections.engine.bulk import BulkLoad, BulkPlan
from projections.engine.sql import SqlReadModelStore
from projections.engine.tables import Table, physical

TRACKING_TABLE = "rm_tracking"
BEGIN_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"


class PostgresReadModelStore(SqlReadModelStore, PostgresTrackingRecorder):
    kind = "postgres"
    share_lock = " FOR SHARE"
    update_lock = " FOR UPDATE"
    supports_notifications = True
    rebuild_batch_size = 5_000
    database_errors = (PersistenceError, psycopg.Error)

    def __init__(
        self, datastore: PostgresDatastore, events: PostgresApplicationRecorder, tables: Sequence[Table]
    ) -> None:
        PostgresTrackingRecorder.__init__(self, datastore, tracking_table_name=TRACKING_TABLE)
        self.tables = tuple(tables)
        self.schema = datastore.schema
        self.channel = events.channel_name
        self.events_table = events.events_table_name
        # One advisory lock per schema serialises changes of generations.
        self.lock_key = zlib.crc32(f"hour-ledger-read-models:{self.schema}".encode())

    def qualified(self, name: str) -> str:
        return f'"{self.schema}"."{name}"'

    @property
    def tracking_table(self) -> str:
        return self.qualified(TRACKING_TABLE)

    def _column_type(self, table: Table, column: str) -> str:
        return "BIGINT" if table.kind(column) == "int" else 'TEXT COLLATE "C"'

    def _array_type(self, table: Table, column: str) -> str:
        return "bigint[]" if table.kind(column) == "int" else "text[]"

    def _create_tracking_table(self) -> None:
        # Two processes starting at once on a new schema must not both create the table.
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (self.lock_key,))
            try:
                PostgresTrackingRecorder.create_table(self)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self.lock_key,))

    def _tables_like_query(self) -> str:
        schema = self.schema.replace("'", "''")
        return (
            "SELECT tablename FROM pg_catalog.pg_tables "
            f"WHERE schemaname = '{schema}' AND tablename LIKE ? ESCAPE '\\'"
        )

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def _events_query(self, topics: int) -> str:
        marks = ", ".join("?" for _ in range(topics))
        return (
            f"SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {self.qualified(self.events_table)} WHERE notification_id > ? AND notification_id <= ? "
            f"AND topic IN ({marks}) ORDER BY notification_id LIMIT ?"
        )

    def _head_query(self) -> str:
        return f"SELECT MAX(notification_id) FROM {self.qualified(self.events_table)}"

    def _originator_id(self, value: Any) -> Any:
        return value

    def _lock(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))

    def connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """A connection of the ledger's pool (autocommit: transactions are the caller's)."""
        return self.datastore.get_connection()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self.datastore.get_connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=tuple_row)
            # A read model can always be recomputed from the events, and its rows and position
            # commit together: losing the last commits in a server crash only means redoing them.
            cur.execute("SET LOCAL synchronous_commit = off")
            yield cur

    @contextmanager
    def _read(self, opening: str | None = None) -> Iterator[Any]:
        # One statement begins the snapshot (not BEGIN, then SET TRANSACTION); the pool's
        # connections are in autocommit mode, so the transaction is ours to end. An `opening`
        # query (no parameters) goes in the same round trip: the cursor holds its rows.
        with self.datastore.get_connection() as conn:
            cur = conn.cursor(row_factory=tuple_row)
            try:
                cur.execute(BEGIN_SNAPSHOT + (f"; {opening}" if opening else ""))
                if opening:
                    cur.nextset()
                yield cur
            finally:
                # COMMIT, not ROLLBACK: the snapshot wrote nothing, so the two do the same, but
                # psycopg answers a ROLLBACK by deallocating the connection's prepared statements.
                try:
                    cur.execute("COMMIT")
                except psycopg.Error:  # a broken connection: the pool discards it
                    pass

    def _snapshot(self, opening: str) -> AbstractContextManager[Any]:
        return self._read(opening)

    @contextmanager
    def _statement(self) -> Iterator[Any]:
        # Autocommit: one statement is its own transaction, and sees one snapshot.
        with self.datastore.get_connection() as conn:
            yield conn.cursor(row_factory=tuple_row)

    def bulk_load(
        self, generation: int, names: Sequence[str], plans: Sequence[BulkPlan],
        progress: Callable[[int, int], None] | None = None, stage: Callable[[str], None] | None = None,
        work_mem: str = "1GB",
    ) -> int | None:
        return BulkLoad(self, generation, names, plans, work_mem=work_mem).run(progress, stage)

    def analyze(self, generation: int) -> None:
        # VACUUM too: a rebuild updates rollup rows many times over (the Python path), and it
        # sets the visibility map for index-only scans; outside a transaction, a table per
        # connection and core at once.
        def vacuum(table: Table) -> None:
            with self.datastore.get_connection() as conn:
                conn.execute(f"VACUUM (ANALYZE) {self.qualified(physical(generation, table))}")

        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            list(pool.map(vacuum, self.tables))

    # Rows go as one JSON array of arrays (orjson, one C call), taken apart by one statement per
    # table per batch: one round trip whatever the rows, a statement prepared once (its text
    # does not depend on the count), and no staging table (a temporary table's TRUNCATE and
    # ON COMMIT DELETE ROWS rewrite catalog rows: measured 3 ms a batch per table). psycopg's
    # binary arrays cost more: their dumper is Python, value by value. Read as `jsonb`, parsed
    # once: `->>` on `json` parses the row's text again for each column (a row of 12 columns
    # took 32 us to insert that way, 14 as jsonb).

    def _rows(self, table: Table, columns: Sequence[str]) -> str:
        """The rows of the JSON parameter as a relation with the columns' names and types."""
        picks = ", ".join(
            f"(r->>{i})::bigint AS {c}" if table.kind(c) == "int" else f'(r->>{i}) COLLATE "C" AS {c}'
            for i, c in enumerate(columns)
        )
        return f"SELECT {picks} FROM jsonb_array_elements(%s::jsonb) AS r"

    @staticmethod
    def _json(rows: Sequence[tuple[Any, ...]]) -> str:
        return orjson.dumps(rows).decode()

    def _upsert(self, cur: Any, generation: int, table: Table, rows: list[tuple[Any, ...]], additive: bool) -> None:
        if not rows:
            return
        cols = table.column_names
        cur.execute(self._upsert_sql(generation, table, self._rows(table, cols), additive), (self._json(rows),))

    def _delete(
        self, cur: Any, generation: int, table: Table, keys: list[tuple[Any, ...]], zero_only: bool
    ) -> None:
        if not keys:
            return
        match = " AND ".join(f"t.{c} = k.{c}" for c in table.key)
        if zero_only:
            match += "".join(f" AND t.{m} = 0" for m in table.measures)
        cur.execute(
            f"DELETE FROM {self.qualified(physical(generation, table))} AS t "
            f"USING ({self._rows(table, table.key)}) AS k WHERE {match}",
            (self._json(keys),),
        )

    def _unnest(self, table: Table, columns: Sequence[str]) -> str:
        return "unnest(" + ", ".join(f"%s::{self._array_type(table, c)}" for c in columns) + ")"

    @staticmethod
    def _arrays(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
        return [[row[i] for row in rows] for i in range(width)]

    def select_in(
        self, cur: Any, generation: int, table: Table, columns: Sequence[str],
        values: Sequence[tuple[Any, ...]], select: Sequence[str],
    ) -> list[tuple[Any, ...]]:
        if not values:
            return []
        match = " AND ".join(f"t.{c} = k.{c}" for c in columns)
        distinct = sorted(set(values))
        text = (
            f"SELECT {', '.join('t.' + c for c in select)} FROM {self.qualified(physical(generation, table))} AS t "
            f"JOIN {self._unnest(table, columns)} AS k({', '.join(columns)}) ON {match}"
        )
        cur.execute(text, self._arrays(distinct, len(columns)))
        return [tuple(r) for r in cur.fetchall()]

    def _select_nearest(
        self, cur: Any, generation: int, table: Table, columns: Sequence[str],
        values: Sequence[tuple[Any, ...]], select: Sequence[str],
    ) -> list[tuple[Any, ...]]:
        """One statement, two descents of the primary key's index per key: the first two rows
        at or after it (its own and the next, or the next two: one more than needed), and the
        last row before it. Written as keyset steps over whole keys, which only the primary
        key's index answers: the planner must not pick st_pair's index by scope and day for
        the tables of a rebuild, which have no statistics yet. Planned afresh every time
        (never a generic plan made when the tables were nearly empty); the keys go as binary
        arrays (thousands of them per batch: the text ones cost more than the lookups)."""
        if not values:
            return []
        name = self.qualified(physical(generation, table))
        *lead, _ = columns
        cols = ", ".join("t." + c for c in select)
        key = "(" + ", ".join(f"t.{c}" for c in columns) + ")"
        wanted = "(" + ", ".join(f'k.{c} COLLATE "C"' if table.kind(c) == "text" else f"k.{c}" for c in columns) + ")"
        keys = ", ".join(f"%b::{self._array_type(table, c)}" for c in columns)

        def step(op: str, order: str, limit: int) -> str:
            by = ", ".join(f"t.{c} {order}" for c in columns)
            return f"(SELECT {cols} FROM {name} AS t WHERE {key} {op} {wanted} ORDER BY {by} LIMIT {limit})"

        same = " AND ".join(f"n.{c} = k.{c}" for c in lead)
        text = (
            f"SELECT n.* FROM unnest({keys}) AS k({', '.join(columns)}) "
            f"CROSS JOIN LATERAL ({step('>=', 'ASC', 2)} UNION ALL {step('<', 'DESC', 1)}) AS n WHERE {same}"
        )
        cur.execute(text, self._arrays(sorted(set(values)), len(columns)), prepare=False)
        return list(dict.fromkeys(tuple(r) for r in cur.fetchall()))  # a row can be near two keys

    # Notifications ------------------------------------------------------------------------

    def listen(self, wake: threading.Event, stopping: threading.Event) -> None:
        """LISTENs on the events table's channel (NOTIFY is sent by every inserting
        transaction; PostgreSQL delivers it on commit). Reconnects after errors."""
        while not stopping.is_set():
            try:
                with self.datastore.get_connection() as conn:
                    conn.execute(SQL("LISTEN {0}").format(Identifier(self.channel)))
                    wake.set()  # anything recorded while not listening
                    while not stopping.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            wake.set()
            except Exception:  # noqa: BLE001 - keep listening; followers also poll
                stopping.wait(1.0)
