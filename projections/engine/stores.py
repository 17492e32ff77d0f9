"""The read-model store for a ledger: the dialect of the database its events are in."""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from projections.engine.store import ReadModelStore
from projections.engine.tables import Table


def open_store(recorder: ApplicationRecorder, tables: Sequence[Table]) -> ReadModelStore:
    """The store of `tables` in the same database (file or schema) as the ledger's events."""
    if isinstance(recorder, PostgresApplicationRecorder):
        from projections.engine.postgres import PostgresReadModelStore

        return PostgresReadModelStore(recorder.datastore, recorder, tables)
    if isinstance(recorder, SQLiteApplicationRecorder):
        from projections.engine.sqlite import SQLiteReadModelStore

        return SQLiteReadModelStore(recorder.datastore, recorder, tables)
    raise TypeError(f"read models need a PostgreSQL or SQLite store, not {type(recorder).__name__}")
