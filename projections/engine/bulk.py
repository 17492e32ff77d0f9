"""A rebuild's bulk load on PostgreSQL: every read-model table of a new generation computed
from the event log by set-based SQL inside the database, a few steps at once (one per core).

Why: the projections in Python follow the log batch by batch, which a rebuild of a million
events would pay for in Python per event (about 4,000 events/s). Here PostgreSQL parses the
stored JSON and sums, sorts and windows it in bulk; Python only sends statements, so the
rebuild streams whatever the log's size (no event reaches Python).

This module is the machinery; each read model brings its `BulkPlan` (its folder's `bulk.py`):
the staging tables it fills while the log is read, the statements that fill them from each
chunk of parsed events, and the steps that compute its tables from them. Its SQL restates its
Python rule, and its folder's tests hold the two equal.

How it goes: the first step reads the head of the log (every id up to it is committed, so
every later step sees the same events), creates the staging tables and drops the new tables'
indexes; chunks of the log are parsed once (`convert_from(state, 'UTF8')::jsonb`) and every
plan's statements read them; then the plans' phases run, phase by phase, the steps of a phase
side by side; the last transaction records the head as every projection's position, adopts the
primary keys built meanwhile and drops the staging tables. The Python projections carry on from
there (the events recorded meanwhile, the final catch-up inside the generation switch).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from itertools import zip_longest
from typing import TYPE_CHECKING, Any, Protocol

from eventsourcing.utils import get_topic
from psycopg.rows import tuple_row

from projections.engine.sql import GENERATIONS, tracking_name
from projections.engine.store import GenerationChanged
from projections.engine.tables import Table, generation_prefix, physical

if TYPE_CHECKING:
    from projections.engine.postgres import PostgresReadModelStore

# Notification ids per extraction step: the unit of the progress bar and of parallel work.
CHUNK = 50_000

# Staging text sorts and groups by bytes, as the read models' own columns do (not by locale: slow).
TEXT = 'text COLLATE "C"'
# Statements name staging tables `rb_<name>`; the load names them for its generation.
STAGING_NAME = re.compile(r"\brb_([a-z0-9_]+)\b")

Step = Callable[[Any], None]  # a step of work on a cursor, in a transaction of its own
Stage = Callable[[str], None]
Progress = Callable[[int, int], None]

# The parsed events of one chunk of the log, as the plans' extraction statements read them:
# `p.pos` (notification id), `p.id` (originator id, text), `p.topic`, `p.j` (the stored state
# as jsonb: the event's attributes by name) and `p.ts` (its timestamp, timestamptz).
PARSED = "p"


# The stored events, as eventsourcing 9.5's JSON transcoder writes them -----------------------


def microseconds(ts: str) -> str:
    """Microseconds since the epoch of a timestamptz expression (exact: numeric epoch)."""
    return f"(extract(epoch FROM {ts}) * 1000000)::bigint"


def stored_uuid(value: str) -> str:
    """A UUID stored by eventsourcing's transcoder ({"_type_": "uuid_hex", ...}) or as a
    string, as the canonical text `str(UUID)` gives."""
    return (
        f"(CASE jsonb_typeof({value}) WHEN 'object' THEN ({value}->>'_data_')::uuid::text "
        f"WHEN 'string' THEN ({value}#>>'{{}}')::uuid::text END)"
    )


def day_at_offset(ts: str, offset: timedelta) -> str:
    """The calendar day (yyyymmdd) of a timestamptz at a fixed offset from UTC."""
    seconds = int(offset.total_seconds())
    return f"to_char(({ts} AT TIME ZONE 'UTC') + interval '{seconds} seconds', 'YYYYMMDD')::int"


def sql_text(value: str) -> str:
    """A string constant of SQL."""
    return "'" + value.replace("'", "''") + "'"


# What a read model brings ------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """Steps that may run side by side; `stage` is what the progress bar says meanwhile."""

    stage: str
    steps: Sequence[Step]


class BulkPlan(Protocol):
    """A read model's part of a bulk load (its folder's `bulk.py`)."""

    name: str
    # Parameter name -> event class, for the extraction statements' %(name)s.
    topics: Mapping[str, type]

    def staging(self) -> Mapping[str, str]:
        """The staging tables its extraction fills: `rb_<name>` -> columns."""

    def extraction(self, load: BulkLoad) -> Sequence[str]:
        """INSERT statements that read the parsed events of a chunk (`p`, see PARSED)."""

    def phases(self, load: BulkLoad) -> Sequence[Phase]:
        """The steps that compute its tables from the staging tables, phase by phase; the
        plans' phases of the same rank run side by side. Its steps build its tables' indexes
        (`create_indexes`, or `unique_key` and `secondary`)."""


class _Staged:
    """A cursor whose statements name the staging tables as rb_*."""

    def __init__(self, cursor: Any, sql: Callable[[str], str]) -> None:
        self.cursor = cursor
        self.sql = sql

    def execute(self, text: str, params: Any = None) -> Any:
        return self.cursor.execute(self.sql(text), params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)


class BulkLoad:
    """Loads one 'building' generation from the events with the read models' plans.

    The work is split into steps that PostgreSQL runs on `workers` connections at once (one
    backend per core). Staging tables (`rm<generation>_rb_*`, unlogged) carry rows between
    steps; they go with the generation if the rebuild dies half-way (`drop_generation`)."""

    def __init__(
        self, store: PostgresReadModelStore, generation: int, names: Sequence[str], plans: Sequence[BulkPlan],
        workers: int = 0, work_mem: str = "1GB",
    ) -> None:
        self.store = store
        self.generation = generation
        self.names = list(names)
        self.plans = list(plans)
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        # Per step and sort or hash (up to twice that for a hash): the steps are a few, run
        # once. Validated by LedgerSettings (a size such as 1GB), so safe to write into SET.
        self.work_mem = work_mem
        self._keys: list[Table] = []  # primary keys' indexes built, to adopt at the end
        self._keys_lock = threading.Lock()

    def table(self, table: Table) -> str:
        """A read-model table of this generation, as statements must write it."""
        return self.store.qualified(physical(self.generation, table))

    def sql(self, text: str) -> str:
        """A statement with its staging tables (rb_*) named for this generation."""
        return STAGING_NAME.sub(lambda m: self.store.qualified(f"{generation_prefix(self.generation)}rb_{m.group(1)}"), text)

    @contextmanager
    def step(self) -> Iterator[Any]:
        """A transaction of its own on a pooled connection, tuned for bulk work."""
        with self.store.connection() as conn, conn.transaction():
            cur = _Staged(conn.cursor(row_factory=tuple_row), self.sql)
            # Sorts and hashes of millions of rows stay in memory (spilled, an aggregate takes
            # several times as long); the tables are recomputable, so a crash losing the last
            # commits only means running it again.
            cur.execute(f"SET LOCAL work_mem = '{self.work_mem}'")
            cur.execute(f"SET LOCAL maintenance_work_mem = '{self.work_mem}'")
            cur.execute("SET LOCAL synchronous_commit = off")
            yield cur

    def in_parallel(self, steps: Sequence[Step]) -> None:
        """Runs each step in a transaction of its own, `workers` at a time; the first failure
        is raised once the others have finished."""

        def run(step: Step) -> None:
            with self.step() as cur:
                step(cur)

        if self.workers == 1 or len(steps) == 1:
            for step in steps:
                run(step)
            return
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="rebuild") as pool:
            for future in [pool.submit(run, step) for step in steps]:
                future.result()

    def run(self, progress: Progress | None = None, stage: Stage | None = None) -> int:
        """Fills the generation up to the head of the log as the first step saw it; answers
        that position (also recorded as every projection's tracking position)."""
        say = stage or (lambda text: None)
        staging = {name: columns for plan in self.plans for name, columns in plan.staging().items()}
        with self.step() as cur:
            self._check_building(cur)
            # Every id up to the head is committed (ids are allocated under the events
            # table's lock, in commit order), so any later transaction sees them all.
            cur.execute(f"SELECT COALESCE(MAX(notification_id), 0) FROM {self.store.qualified(self.store.events_table)}")
            head = int(cur.fetchone()[0])
            for name, columns in staging.items():
                cur.execute(f"CREATE UNLOGGED TABLE {name} ({columns})")
            self._drop_indexes(cur)

        say("reading the log")
        done, lock = [0], threading.Lock()
        extract = self._extraction()

        def chunk(low: int, high: int) -> Step:
            def read(cur: Any) -> None:
                cur.execute(extract, {"low": low, "high": high, **self._topics()})
                with lock:
                    done[0] += high - low
                    if progress:
                        progress(done[0], head)
            return read

        self.in_parallel([chunk(low, min(head, low + CHUNK)) for low in range(0, head, CHUNK)])
        self.in_parallel([partial(_analyze, name) for name in staging])
        said = ""
        ranks = zip_longest(*(plan.phases(self) for plan in self.plans))
        for phases in ranks:
            present = [phase for phase in phases if phase is not None]
            if present[0].stage != said:
                said = present[0].stage
                say(said)
            self.in_parallel([step for phase in present for step in phase.steps])
        with self.step() as cur:
            self._check_building(cur)
            for name in self.names:
                cur.execute(
                    f"UPDATE {self.store.tracking_table} SET notification_id = %s "
                    "WHERE application_name = %s AND notification_id = 0",
                    (head, tracking_name(name, self.generation)),
                )
                if cur.rowcount != 1:
                    raise GenerationChanged(f"{name}@{self.generation} moved while it was being loaded")
            for table in self._keys:
                self._primary_key(table, cur)
            # The staging tables: those the extraction filled and those the plans' steps made.
            for name in self.store.generation_tables(cur.cursor, self.generation):
                if name.startswith(f"{generation_prefix(self.generation)}rb_"):
                    cur.execute(f"DROP TABLE IF EXISTS {self.store.qualified(name)}")
        return head

    def _topics(self) -> dict[str, str]:
        topics: dict[str, type] = {}
        for plan in self.plans:
            for name, cls in plan.topics.items():
                if topics.setdefault(name, cls) is not cls:
                    raise ValueError(f"topic parameter {name} names two event classes")
        return {name: get_topic(cls) for name, cls in topics.items()}

    def _extraction(self) -> str:
        """One statement per chunk: the events parsed once, every plan's inserts reading them."""
        inserts = [text for plan in self.plans for text in plan.extraction(self)]
        topics = ", ".join(f"%({name})s" for name in self._topics())
        ctes = "".join(f", x{n} AS ({text})" for n, text in enumerate(inserts[:-1]))
        return f"""
            WITH {PARSED} AS MATERIALIZED (
                SELECT e.notification_id AS pos, e.originator_id::text AS id, e.topic,
                       s.j, (s.j->'timestamp'->>'_data_')::timestamptz AS ts
                FROM {self.store.qualified(self.store.events_table)} AS e
                CROSS JOIN LATERAL (SELECT convert_from(e.state, 'UTF8')::jsonb AS j) AS s
                WHERE e.notification_id > %(low)s AND e.notification_id <= %(high)s
                  AND e.topic IN ({topics})
            ){ctes}
            {inserts[-1]}
            """

    def _check_building(self, cur: Any) -> None:
        cur.execute(
            f"SELECT state FROM {self.store.qualified(GENERATIONS)} WHERE generation = %s FOR SHARE", (self.generation,)
        )
        row = cur.fetchone()
        if row is None or row[0] != "building":
            raise GenerationChanged(f"generation {self.generation} is no longer being built")

    # Indexes: built once over the loaded rows, far cheaper than maintained row by row ----------

    def _drop_indexes(self, cur: Any) -> None:
        for table in self.store.tables:
            name = physical(self.generation, table)
            cur.execute(f"ALTER TABLE {self.table(table)} DROP CONSTRAINT {name}_pkey")
            for n in range(len(table.indexes)):
                cur.execute(f"DROP INDEX {self.store.qualified(f'{name}_i{n}')}")

    def create_indexes(self, table: Table, cur: Any) -> None:
        """A table's primary key and secondary indexes, once its rows are loaded."""
        cur.execute(f"ALTER TABLE {self.table(table)} ADD PRIMARY KEY ({', '.join(table.key)})")
        self.secondary(table, cur)

    def unique_key(self, table: Table, cur: Any) -> None:
        """The primary key's index alone: it builds beside the table's other indexes (the
        constraint itself takes a lock that would queue them); the last transaction adopts
        it as the primary key."""
        name = physical(self.generation, table)
        cur.execute(f"CREATE UNIQUE INDEX {name}_pkey ON {self.table(table)} ({', '.join(table.key)})")
        with self._keys_lock:
            self._keys.append(table)

    def _primary_key(self, table: Table, cur: Any) -> None:
        name = physical(self.generation, table)
        cur.execute(f"ALTER TABLE {self.table(table)} ADD CONSTRAINT {name}_pkey PRIMARY KEY USING INDEX {name}_pkey")

    def secondary(self, table: Table, cur: Any) -> None:
        """A table's secondary indexes."""
        for statement in self.store.index_statements(self.generation, table):
            cur.execute(statement)


def _analyze(table: str, cur: Any) -> None:
    cur.execute(f"ANALYZE {table}")
