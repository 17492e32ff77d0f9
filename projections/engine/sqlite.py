"""SQLite dialect of the read-model store: the same file as the events (the ledger's own
connection pool), write batches in `BEGIN IMMEDIATE` transactions, reads in snapshot
transactions. SQLite has no notifications: followers poll, and wake early when the ledger in
their own process saves (`HourLedger.on_saved`). No bulk load: a rebuild's projections process
every event."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import PersistenceError
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore, SQLiteTrackingRecorder

from projections.engine.sql import SqlReadModelStore
from projections.engine.tables import Table


class SQLiteReadModelStore(SqlReadModelStore, SQLiteTrackingRecorder):
    kind = "sqlite"
    database_errors = (PersistenceError, sqlite3.Error)

    def __init__(self, datastore: SQLiteDatastore, events: SQLiteApplicationRecorder, tables: Sequence[Table]) -> None:
        SQLiteTrackingRecorder.__init__(self, datastore)
        self.tables = tuple(tables)
        self.events_table = events.events_table_name
        self.events = events

    def _events_query(self, topics: int) -> str:
        marks = ", ".join("?" for _ in range(topics))
        return (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table} "
            f"WHERE rowid > ? AND rowid <= ? AND topic IN ({marks}) ORDER BY rowid LIMIT ?"
        )

    def _head_query(self) -> str:
        return f"SELECT MAX(rowid) FROM {self.events_table}"

    def _originator_id(self, value: Any) -> Any:
        return self.events.convert_originator_id(value)

    def qualified(self, name: str) -> str:
        return name

    @property
    def tracking_table(self) -> str:
        return "tracking"  # eventsourcing's SQLiteTrackingRecorder names it so

    def _column_type(self, table: Table, column: str) -> str:
        return "INTEGER" if table.kind(column) == "int" else "TEXT"

    def _create_tracking_table(self) -> None:
        SQLiteTrackingRecorder.create_table(self)

    def _tables_like_query(self) -> str:
        return "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '\\'"

    @contextmanager
    def _write(self) -> Iterator[Any]:
        # The pool's writer lock keeps this process's writers (the ledger's too) in turn;
        # IMMEDIATE takes the database's write lock at once, so no read-then-write upgrade fails.
        with self.datastore.get_connection(commit=True) as conn:
            cur = conn.cursor().sqlite_cursor
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                conn.rollback()
                raise
            else:
                conn.commit()
            finally:
                cur.close()

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self.datastore.get_connection(commit=False) as conn:
            cur = conn.cursor().sqlite_cursor
            cur.execute("BEGIN")
            try:
                yield cur
            finally:
                conn.rollback()
                cur.close()
