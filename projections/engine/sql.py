"""The read-model stores' SQL, shared by both databases: generations, tracking, batch writes,
reads.

Written once in the SQL that SQLite and PostgreSQL both speak (placeholders are `?` here; the
PostgreSQL dialect turns them into `%s`). The dialect modules add what differs: connections
and transactions, qualified names, column types, bulk statements, locks, notifications.

Tracking records live in the table of eventsourcing's tracking recorder (the dialect classes
subclass `PostgresTrackingRecorder` / `SQLiteTrackingRecorder`), one row per projection and
generation (`<projection>@<generation>`), moved by compare-and-set in the transaction that
writes the projection's rows.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from eventsourcing.persistence import Notification

from projections.engine.changes import Changes
from projections.engine.store import Batch, GenerationChanged, Glance, PositionConflict, Reader, ReadModelStore
from projections.engine.tables import Table, generation_prefix, physical

GENERATIONS = "rm_generations"
CHUNK = 500


def tracking_name(name: str, generation: int) -> str:
    return f"{name}@{generation}"


def like_prefix(prefix: str) -> str:
    """A LIKE pattern (escape character `\\`) for the names that start with `prefix`."""
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


class SqlReadModelStore(ReadModelStore):
    share_lock = ""  # PostgreSQL: " FOR SHARE" (a switch waits for writers of the old generation)
    update_lock = ""

    # Dialect -----------------------------------------------------------------------------

    @abstractmethod
    def _write(self) -> AbstractContextManager[Any]:
        """A write transaction: a DB-API cursor (rows as tuples)."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Any]:
        """A read-only transaction seeing one snapshot."""

    @abstractmethod
    def qualified(self, name: str) -> str:
        """A table's name as statements must write it (with its schema, where there is one)."""

    @property
    @abstractmethod
    def tracking_table(self) -> str:
        """The tracking recorder's table, as statements must write it."""

    @abstractmethod
    def _column_type(self, table: Table, column: str) -> str: ...

    @abstractmethod
    def _create_tracking_table(self) -> None: ...

    @abstractmethod
    def _tables_like_query(self) -> str:
        """Selects the names of this store's tables that are LIKE ? (escape character `\\`)."""

    def _snapshot(self, opening: str) -> AbstractContextManager[Any]:
        """A read-only snapshot transaction whose first query is `opening` (no parameters):
        the cursor, holding that query's rows. PostgreSQL sends both in one round trip."""
        return self._opened(opening)

    @contextmanager
    def _opened(self, opening: str) -> Iterator[Any]:
        with self._read() as cur:
            self.execute(cur, opening)
            yield cur

    def _statement(self) -> AbstractContextManager[Any]:
        """A cursor for one statement, which sees one snapshot by itself (PostgreSQL: no
        transaction of ours around it)."""
        return self._read()

    def _sql(self, text: str) -> str:
        return text

    def _lock(self, cur: Any) -> None:
        """Serialises changes of generations (SQLite: the write transaction already does)."""

    def execute(self, cur: Any, text: str, params: Sequence[Any] = ()) -> None:
        """Runs a statement written with `?` placeholders on a cursor of this store."""
        cur.execute(self._sql(text), params)

    def _execute_many(self, cur: Any, text: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            cur.executemany(self._sql(text), rows)

    def index_statements(self, generation: int, table: Table) -> list[str]:
        """The statements that create a table's secondary indexes in a generation (`<table>_i<n>`)."""
        name = physical(generation, table)
        return [
            f"CREATE INDEX IF NOT EXISTS {name}_i{n} ON {self.qualified(name)} ({', '.join(index)})"
            for n, index in enumerate(table.indexes)
        ]

    def _upsert(self, cur: Any, generation: int, table: Table, rows: list[tuple[Any, ...]], additive: bool) -> None:
        cols = table.column_names
        values = ", ".join("?" for _ in cols)
        self._execute_many(cur, self._upsert_sql(generation, table, f"VALUES ({values})", additive), rows)

    def _upsert_sql(self, generation: int, table: Table, source: str, additive: bool) -> str:
        cols = table.column_names
        rest = [c for c in cols if c not in table.key]
        if additive:
            sets = ", ".join(f"{c} = cur.{c} + excluded.{c}" for c in rest)
        else:
            sets = ", ".join(f"{c} = excluded.{c}" for c in rest)
        return (
            f"INSERT INTO {self.qualified(physical(generation, table))} AS cur ({', '.join(cols)}) {source} "
            f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {sets}"
        )

    def _delete(
        self, cur: Any, generation: int, table: Table, keys: list[tuple[Any, ...]], zero_only: bool
    ) -> None:
        where = " AND ".join(f"{c} = ?" for c in table.key)
        if zero_only:
            where += "".join(f" AND {m} = 0" for m in table.measures)
        self._execute_many(cur, f"DELETE FROM {self.qualified(physical(generation, table))} WHERE {where}", keys)

    def select_in(
        self, cur: Any, generation: int, table: Table, columns: Sequence[str],
        values: Sequence[tuple[Any, ...]], select: Sequence[str],
    ) -> list[tuple[Any, ...]]:
        """The `select` columns of the rows whose `columns` equal one of `values`."""
        out: list[tuple[Any, ...]] = []
        name = self.qualified(physical(generation, table))
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            if len(columns) == 1:
                marks = ", ".join("?" for _ in chunk)
                where = f"{columns[0]} IN ({marks})"
                params: list[Any] = [v[0] for v in chunk]
            else:
                row = "(" + ", ".join("?" for _ in columns) + ")"
                where = f"({', '.join(columns)}) IN (VALUES {', '.join(row for _ in chunk)})"
                params = [x for v in chunk for x in v]
            self.execute(cur, f"SELECT {', '.join(select)} FROM {name} WHERE {where}", params)
            out.extend(tuple(r) for r in cur.fetchall())
        return out

    # Generations -------------------------------------------------------------------------

    def setup(self, names: Sequence[str]) -> int:
        self._create_tracking_table()
        with self._write() as cur:
            self._lock(cur)
            self.execute(
                cur,
                f"CREATE TABLE IF NOT EXISTS {self.qualified(GENERATIONS)} "
                "(generation INTEGER PRIMARY KEY, state TEXT NOT NULL)",
            )
            current = self._current(cur)
            if current is not None:
                return current
            generation = self._next_generation(cur)
            self._create_generation(cur, generation, names, "current")
            return generation

    def _current(self, cur: Any) -> int | None:
        self.execute(cur, f"SELECT generation FROM {self.qualified(GENERATIONS)} WHERE state = 'current'")
        row = cur.fetchone()
        return int(row[0]) if row else None

    def _next_generation(self, cur: Any) -> int:
        self.execute(cur, f"SELECT COALESCE(MAX(generation), 0) FROM {self.qualified(GENERATIONS)}")
        return int(cur.fetchone()[0]) + 1

    def _create_generation(self, cur: Any, generation: int, names: Sequence[str], state: str) -> None:
        for table in self.tables:
            name = physical(generation, table)
            cols = ", ".join(f"{c} {self._column_type(table, c)}" for c in table.column_names)
            self.execute(
                cur,
                f"CREATE TABLE IF NOT EXISTS {self.qualified(name)} ({cols}, PRIMARY KEY ({', '.join(table.key)}))",
            )
            for statement in self.index_statements(generation, table):
                self.execute(cur, statement)
        self.execute(
            cur, f"INSERT INTO {self.qualified(GENERATIONS)} (generation, state) VALUES (?, ?)", (generation, state)
        )
        for projection in names:
            self.execute(
                cur,
                f"INSERT INTO {self.tracking_table} (application_name, notification_id) VALUES (?, 0) "
                "ON CONFLICT (application_name) DO UPDATE SET notification_id = 0",
                (tracking_name(projection, generation),),
            )

    def generation_tables(self, cur: Any, generation: int) -> list[str]:
        """The names of every table of a generation in the database, whatever they are: the
        read models' tables as declared now or by an older version, and staging tables."""
        self.execute(cur, self._tables_like_query(), (like_prefix(generation_prefix(generation)),))
        return sorted(str(row[0]) for row in cur.fetchall())

    def _drop_generation(self, cur: Any, generation: int, names: Sequence[str]) -> None:
        for name in self.generation_tables(cur, generation):
            self.execute(cur, f"DROP TABLE IF EXISTS {self.qualified(name)}")
        for projection in names:
            self.execute(
                cur,
                f"DELETE FROM {self.tracking_table} WHERE application_name = ?",
                (tracking_name(projection, generation),),
            )
        self.execute(cur, f"DELETE FROM {self.qualified(GENERATIONS)} WHERE generation = ?", (generation,))

    def generations(self) -> list[tuple[int, str]]:
        with self._read() as cur:
            self.execute(cur, f"SELECT generation, state FROM {self.qualified(GENERATIONS)} ORDER BY generation")
            return [(int(g), s) for g, s in cur.fetchall()]

    def generation_state(self, generation: int) -> str | None:
        with self._read() as cur:
            self.execute(
                cur, f"SELECT state FROM {self.qualified(GENERATIONS)} WHERE generation = ?", (generation,)
            )
            row = cur.fetchone()
            return row[0] if row else None

    def begin_generation(self, names: Sequence[str]) -> int:
        with self._write() as cur:
            self._lock(cur)
            self.execute(cur, f"SELECT generation FROM {self.qualified(GENERATIONS)} WHERE state = 'building'")
            for (stale,) in cur.fetchall():
                self._drop_generation(cur, int(stale), names)
            generation = self._next_generation(cur)
            self._create_generation(cur, generation, names, "building")
            return generation

    def switch_generation(
        self, generation: int, names: Sequence[str], final: Callable[[Any], None] | None = None
    ) -> int | None:
        with self._write() as cur:
            self._lock(cur)
            # Locks the rows that writers of any generation share-lock first (PostgreSQL):
            # from here the current generation cannot move until this transaction ends.
            self.execute(
                cur, f"SELECT generation, state FROM {self.qualified(GENERATIONS)}{self.update_lock}"
            )
            states = {int(g): s for g, s in cur.fetchall()}
            if states.get(generation) != "building":
                raise GenerationChanged(f"generation {generation} is no longer being built")
            current = next((g for g, s in states.items() if s == "current"), None)
            if final is not None:
                final(cur)
            if current is not None:
                if current > generation:
                    raise GenerationChanged(f"generation {current} is newer than {generation}")
                ours = self._positions(cur, generation, names)
                theirs = self._positions(cur, current, names)
                if any(ours[n] < theirs[n] for n in names):
                    return None
                self.execute(
                    cur, f"UPDATE {self.qualified(GENERATIONS)} SET state = 'retired' WHERE generation = ?", (current,)
                )
            self.execute(
                cur, f"UPDATE {self.qualified(GENERATIONS)} SET state = 'current' WHERE generation = ?", (generation,)
            )
            return current if current is not None else 0

    def analyze(self, generation: int) -> None:
        """Fresh planner statistics after a bulk load (a rebuild), before the switch."""
        with self._write() as cur:
            for table in self.tables:
                self.execute(cur, f"ANALYZE {self.qualified(physical(generation, table))}")

    def drop_generation(self, generation: int, names: Sequence[str]) -> None:
        with self._write() as cur:
            self._lock(cur)
            self._drop_generation(cur, generation, names)

    # Tracking and batches ----------------------------------------------------------------

    def _positions(self, cur: Any, generation: int, names: Sequence[str]) -> dict[str, int]:
        wanted = {tracking_name(n, generation): n for n in names}
        marks = ", ".join("?" for _ in wanted)
        self.execute(
            cur,
            f"SELECT application_name, notification_id FROM {self.tracking_table} "
            f"WHERE application_name IN ({marks})",
            list(wanted),
        )
        found = {wanted[a]: int(p) for a, p in cur.fetchall()}
        return {n: found.get(n, 0) for n in names}

    def positions(self, generation: int, names: Sequence[str]) -> dict[str, int]:
        with self._read() as cur:
            return self._positions(cur, generation, names)

    def commit(
        self, generation: int, state: str, batches: Sequence[Batch], new: int, transaction: Any = None
    ) -> None:
        if transaction is not None:
            self._commit(transaction, generation, state, batches, new)
            return
        with self._write() as cur:
            self._commit(cur, generation, state, batches, new)

    def _commit(self, cur: Any, generation: int, state: str, batches: Sequence[Batch], new: int) -> None:
        # The read models' projections in one transaction: one check of the generation and one
        # commit a round, not one each (a round's fixed cost is most of a small round's).
        self.execute(
            cur,
            f"SELECT state FROM {self.qualified(GENERATIONS)} WHERE generation = ?{self.share_lock}",
            (generation,),
        )
        row = cur.fetchone()
        if row is None or row[0] != state:
            raise GenerationChanged(f"generation {generation} is no longer {state}")
        for name, expected, _ in batches:
            # First, so that two processes working on one batch queue here and one of them fails.
            self.execute(
                cur,
                f"UPDATE {self.tracking_table} SET notification_id = ? "
                "WHERE application_name = ? AND notification_id = ?",
                (new, tracking_name(name, generation), expected),
            )
            if cur.rowcount != 1:
                raise PositionConflict(f"{name}@{generation} is no longer at {expected}")
        for _, _, changes in batches:
            self.write_changes(cur, generation, changes)

    def write_changes(self, cur: Any, generation: int, changes: Changes) -> None:
        """Writes a batch's rows in the transaction of `cur` (which has moved its position)."""
        # Two writers of one projection queue on its tracking row first, so the order in
        # which rows are written cannot deadlock.
        for table, keys in changes.deletes.items():
            if keys:
                self._delete(cur, generation, table, list(keys), zero_only=False)
        for table, rows in changes.puts.items():
            if rows:
                values_of = table.values_of
                self._upsert(cur, generation, table, [values_of(r) for r in rows.values()], additive=False)
        for table, sums in changes.adds.items():
            touched = [(k, v) for k, v in sums.items() if any(v)]
            if not touched:
                continue
            self._upsert(cur, generation, table, [k + tuple(v) for k, v in touched], additive=True)
            # A row can come to all zeros only by taking away: a negative delta, or a positive
            # one on a column that may hold negative values.
            signed = [table.measures.index(m) for m in table.signed]
            maybe_zero = [k for k, v in touched if min(v) < 0 or any(v[i] > 0 for i in signed)]
            self._delete(cur, generation, table, maybe_zero, zero_only=True)

    def fetch(
        self, generation: int, table: Table, columns: Sequence[str], values: Sequence[tuple[Any, ...]],
        transaction: Any = None, nearest: bool = False,
    ) -> list[dict[str, Any]]:
        if not values:
            return []
        cols = table.column_names
        if nearest and tuple(columns) != table.key:
            raise ValueError(f"nearest rows are found by the key of {table.name}, not by {columns}")
        select = self._select_nearest if nearest else self.select_in
        if transaction is not None:
            rows = select(transaction, generation, table, columns, list(values), cols)
        else:
            # No snapshot needed: this store's follower is the only writer of these rows.
            with self._statement() as cur:
                rows = select(cur, generation, table, columns, list(values), cols)
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def _select_nearest(
        self, cur: Any, generation: int, table: Table, columns: Sequence[str],
        values: Sequence[tuple[Any, ...]], select: Sequence[str],
    ) -> list[tuple[Any, ...]]:
        """`fetch(nearest=True)`: for each key, the keys just before and after it are each
        one descent of the primary key's index (MAX/MIN under equal leading columns)."""
        name = self.qualified(physical(generation, table))
        *lead, last = columns
        same = " AND ".join(f"u.{c} = k.{c}" for c in lead)
        wanted = ", ".join(f"k.{c}" for c in lead)
        match = " AND ".join(f"t.{c} = w.{c}" for c in columns)
        row = "(" + ", ".join("?" for _ in columns) + ")"
        out: dict[tuple[Any, ...], None] = {}  # each row once (a row can be found from two keys)
        distinct = sorted(set(values))
        for start in range(0, len(distinct), CHUNK):
            chunk = distinct[start : start + CHUNK]
            text = (
                f"WITH k({', '.join(columns)}) AS (VALUES {', '.join(row for _ in chunk)}) "
                f"SELECT {', '.join('t.' + c for c in select)} FROM ("
                f"SELECT {wanted}, k.{last} AS {last} FROM k "
                f"UNION SELECT {wanted}, (SELECT MAX(u.{last}) FROM {name} AS u WHERE {same} AND u.{last} < k.{last}) FROM k "
                f"UNION SELECT {wanted}, (SELECT MIN(u.{last}) FROM {name} AS u WHERE {same} AND u.{last} > k.{last}) FROM k"
                f") AS w JOIN {name} AS t ON {match}"
            )
            self.execute(cur, text, [x for v in chunk for x in v])
            out.update(dict.fromkeys(tuple(r) for r in cur.fetchall()))
        return list(out)

    # The events, read inside a transaction of ours ----------------------------------------

    @abstractmethod
    def _events_query(self, topics: int) -> str:
        """Selects id, originator id, version, topic and state after ?, up to ?, of the
        topics (as many ? as `topics`), in order, LIMIT ?."""

    @abstractmethod
    def _head_query(self) -> str: ...

    @abstractmethod
    def _originator_id(self, value: Any) -> Any: ...

    def read_log(
        self, transaction: Any, after: int, stop: int, topics: Sequence[str], limit: int
    ) -> list[Notification]:
        self.execute(transaction, self._events_query(len(topics)), [after, stop, *topics, limit])
        return [
            Notification(
                id=int(i), originator_id=self._originator_id(o), originator_version=int(v),
                topic=t, state=bytes(state),
            )
            for i, o, v, t, state in transaction.fetchall()
        ]

    def log_head(self, transaction: Any) -> int:
        self.execute(transaction, self._head_query())
        row = transaction.fetchone()
        return int(row[0] or 0) if row else 0

    # Reading -----------------------------------------------------------------------------

    _known_current: int | None = None  # the current generation when last seen: `glance`

    @contextmanager
    def reading(self, generation: int | None = None) -> Iterator[Reader]:
        if generation is not None:
            with self._read() as cur:
                yield SqlReader(self, cur, generation)
            return
        current: int | None = None
        try:
            # The snapshot begins and finds the current generation in one round trip.
            with self._snapshot(f"SELECT generation FROM {self.qualified(GENERATIONS)} WHERE state = 'current'") as cur:
                row = cur.fetchone()
                if row is None:
                    raise GenerationChanged("no current generation of the read models")
                current = int(row[0])
                yield SqlReader(self, cur, current)
        except self.database_errors as error:
            # A rebuild that switched generations meanwhile may have dropped the tables read.
            if current is not None and self.moved(current):
                raise GenerationChanged(f"generation {current} is no longer current") from error
            raise

    def glance(self, table: Table, key: tuple[Any, ...], names: Sequence[str]) -> Glance:
        """One row by its key, in one statement (a snapshot by itself) that also reads the
        head of the log and how far `names` have read it.

        The current generation is remembered between calls; the statement checks it is still
        current. When it is not (a rebuild switched generations) or its tables are gone, this
        forgets it and raises GenerationChanged, and the caller asks again."""
        generation = self._known_current
        if generation is None:
            with self._statement() as cur:
                generation = self._current(cur)
            if generation is None:
                raise GenerationChanged("no current generation of the read models")
        cols = table.column_names
        match = " AND ".join(f"r.{c} = ?" for c in table.key)
        marks = ", ".join("?" for _ in names)
        text = (
            f"SELECT g.state, ({self._head_query()}), "
            f"(SELECT MIN(notification_id) FROM {self.tracking_table} WHERE application_name IN ({marks})), "
            f"{', '.join('r.' + c for c in cols)} "
            f"FROM {self.qualified(GENERATIONS)} AS g "
            f"LEFT JOIN {self.qualified(physical(generation, table))} AS r ON {match} "
            "WHERE g.generation = ?"
        )
        params = [*(tracking_name(n, generation) for n in names), *key, generation]
        try:
            with self._statement() as cur:
                self.execute(cur, text, params)
                found = cur.fetchone()
        except BaseException as error:
            self._known_current = None
            if isinstance(error, self.database_errors) and self.moved(generation):
                raise GenerationChanged(f"generation {generation} is no longer current") from error
            raise
        if found is None or found[0] != "current":
            self._known_current = None
            raise GenerationChanged(f"generation {generation} is no longer current")
        self._known_current = generation
        values = found[3:]
        present = values[cols.index(table.key[0])] is not None
        return Glance(
            generation, int(found[1] or 0), int(found[2] or 0),
            dict(zip(cols, values, strict=True)) if present else None,
        )


class SqlReader(Reader):
    """A `Reader` on a cursor of a `SqlReadModelStore`, inside its snapshot transaction."""

    def __init__(self, store: SqlReadModelStore, cur: Any, generation: int) -> None:
        self.store = store
        self.cur = cur
        self.generation = generation

    def table(self, table: Table) -> str:
        return self.store.qualified(physical(self.generation, table))

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.store.execute(self.cur, text, params)
        return [tuple(r) for r in self.cur.fetchall()]

    def rows_in(self, table: Table, columns: Sequence[str], values: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        if not values:
            return []
        cols = table.column_names
        found = self.store.select_in(self.cur, self.generation, table, columns, sorted(set(values)), cols)
        return [dict(zip(cols, r, strict=True)) for r in found]
