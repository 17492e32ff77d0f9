"""The read models' SQL, shared by both databases: generations, tracking, batch writes, reads.

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

from projections.schema import (
    ALL_TABLES,
    BAL_ENTRY,
    CUMULATIVE_MEASURES,
    DAY_MEASURES,
    ST_COUNT,
    ST_DAY,
    ST_PAIR,
    Table,
    physical,
)
from projections.store import (
    Changes,
    GenerationChanged,
    Glance,
    Grouping,
    PositionConflict,
    Reader,
    ReadModelStore,
    Spot,
)

GENERATIONS = "rm_generations"
CHUNK = 500


def tracking_name(name: str, generation: int) -> str:
    return f"{name}@{generation}"


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
    def _q(self, name: str) -> str:
        """A table's name as statements must write it."""

    @abstractmethod
    def _column_type(self, table: Table, column: str) -> str: ...

    @abstractmethod
    def _tracking_table(self) -> str: ...

    @abstractmethod
    def _create_tracking_table(self) -> None: ...

    def _snapshot(self, opening: str) -> AbstractContextManager[Any]:
        """A read-only snapshot transaction whose first query is `opening` (no parameters):
        the cursor, holding that query's rows. PostgreSQL sends both in one round trip."""
        return self._opened(opening)

    @contextmanager
    def _opened(self, opening: str) -> Iterator[Any]:
        with self._read() as cur:
            self._execute(cur, opening)
            yield cur

    def _statement(self) -> AbstractContextManager[Any]:
        """A cursor for one statement, which sees one snapshot by itself (PostgreSQL: no
        transaction of ours around it)."""
        return self._read()

    def _sql(self, text: str) -> str:
        return text

    def _lock(self, cur: Any) -> None:
        """Serialises changes of generations (SQLite: the write transaction already does)."""

    def _execute(self, cur: Any, text: str, params: Sequence[Any] = ()) -> None:
        cur.execute(self._sql(text), params)

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
            f"INSERT INTO {self._q(physical(generation, table))} AS cur ({', '.join(cols)}) {source} "
            f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {sets}"
        )

    def _delete(
        self, cur: Any, generation: int, table: Table, keys: list[tuple[Any, ...]], zero_only: bool
    ) -> None:
        where = " AND ".join(f"{c} = ?" for c in table.key)
        if zero_only:
            where += "".join(f" AND {m} = 0" for m in table.measures)
        self._execute_many(cur, f"DELETE FROM {self._q(physical(generation, table))} WHERE {where}", keys)

    def _execute_many(self, cur: Any, text: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            cur.executemany(self._sql(text), rows)

    def _select_in(
        self, cur: Any, generation: int, table: Table, columns: Sequence[str],
        values: Sequence[tuple[Any, ...]], select: Sequence[str],
    ) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        name = self._q(physical(generation, table))
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
            self._execute(cur, f"SELECT {', '.join(select)} FROM {name} WHERE {where}", params)
            out.extend(tuple(r) for r in cur.fetchall())
        return out

    # Generations -------------------------------------------------------------------------

    def setup(self, names: Sequence[str]) -> int:
        self._create_tracking_table()
        with self._write() as cur:
            self._lock(cur)
            self._execute(
                cur,
                f"CREATE TABLE IF NOT EXISTS {self._q(GENERATIONS)} "
                "(generation INTEGER PRIMARY KEY, state TEXT NOT NULL)",
            )
            current = self._current(cur)
            if current is not None:
                return current
            generation = self._next_generation(cur)
            self._create_generation(cur, generation, names, "current")
            return generation

    def _current(self, cur: Any) -> int | None:
        self._execute(cur, f"SELECT generation FROM {self._q(GENERATIONS)} WHERE state = 'current'")
        row = cur.fetchone()
        return int(row[0]) if row else None

    def _next_generation(self, cur: Any) -> int:
        self._execute(cur, f"SELECT COALESCE(MAX(generation), 0) FROM {self._q(GENERATIONS)}")
        return int(cur.fetchone()[0]) + 1

    def _create_generation(self, cur: Any, generation: int, names: Sequence[str], state: str) -> None:
        for table in ALL_TABLES:
            name = physical(generation, table)
            cols = ", ".join(f"{c} {self._column_type(table, c)}" for c in table.column_names)
            self._execute(
                cur,
                f"CREATE TABLE IF NOT EXISTS {self._q(name)} ({cols}, PRIMARY KEY ({', '.join(table.key)}))",
            )
            for statement in self._index_statements(generation, table):
                self._execute(cur, statement)
        self._execute(
            cur, f"INSERT INTO {self._q(GENERATIONS)} (generation, state) VALUES (?, ?)", (generation, state)
        )
        for projection in names:
            self._execute(
                cur,
                f"INSERT INTO {self._tracking_table()} (application_name, notification_id) VALUES (?, 0) "
                "ON CONFLICT (application_name) DO UPDATE SET notification_id = 0",
                (tracking_name(projection, generation),),
            )

    def _index_statements(self, generation: int, table: Table) -> list[str]:
        """Creates the secondary indexes of a table of a generation (`<table>_i<n>`)."""
        name = physical(generation, table)
        return [
            f"CREATE INDEX IF NOT EXISTS {name}_i{n} ON {self._q(name)} ({', '.join(index)})"
            for n, index in enumerate(table.indexes)
        ]

    def _drop_generation(self, cur: Any, generation: int, names: Sequence[str]) -> None:
        for table in ALL_TABLES:
            self._execute(cur, f"DROP TABLE IF EXISTS {self._q(physical(generation, table))}")
        for projection in names:
            self._execute(
                cur,
                f"DELETE FROM {self._tracking_table()} WHERE application_name = ?",
                (tracking_name(projection, generation),),
            )
        self._execute(cur, f"DELETE FROM {self._q(GENERATIONS)} WHERE generation = ?", (generation,))

    def generations(self) -> list[tuple[int, str]]:
        with self._read() as cur:
            self._execute(cur, f"SELECT generation, state FROM {self._q(GENERATIONS)} ORDER BY generation")
            return [(int(g), s) for g, s in cur.fetchall()]

    def generation_state(self, generation: int) -> str | None:
        with self._read() as cur:
            self._execute(
                cur, f"SELECT state FROM {self._q(GENERATIONS)} WHERE generation = ?", (generation,)
            )
            row = cur.fetchone()
            return row[0] if row else None

    def begin_generation(self, names: Sequence[str]) -> int:
        with self._write() as cur:
            self._lock(cur)
            self._execute(cur, f"SELECT generation FROM {self._q(GENERATIONS)} WHERE state = 'building'")
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
            self._execute(
                cur, f"SELECT generation, state FROM {self._q(GENERATIONS)}{self.update_lock}"
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
                self._execute(
                    cur, f"UPDATE {self._q(GENERATIONS)} SET state = 'retired' WHERE generation = ?", (current,)
                )
            self._execute(
                cur, f"UPDATE {self._q(GENERATIONS)} SET state = 'current' WHERE generation = ?", (generation,)
            )
            return current if current is not None else 0

    def analyze(self, generation: int) -> None:
        """Fresh planner statistics after a bulk load (a rebuild), before the switch."""
        with self._write() as cur:
            for table in ALL_TABLES:
                self._execute(cur, f"ANALYZE {self._q(physical(generation, table))}")

    def drop_generation(self, generation: int, names: Sequence[str]) -> None:
        with self._write() as cur:
            self._lock(cur)
            self._drop_generation(cur, generation, names)

    # Tracking and batches ----------------------------------------------------------------

    def _positions(self, cur: Any, generation: int, names: Sequence[str]) -> dict[str, int]:
        wanted = {tracking_name(n, generation): n for n in names}
        marks = ", ".join("?" for _ in wanted)
        self._execute(
            cur,
            f"SELECT application_name, notification_id FROM {self._tracking_table()} "
            f"WHERE application_name IN ({marks})",
            list(wanted),
        )
        found = {wanted[a]: int(p) for a, p in cur.fetchall()}
        return {n: found.get(n, 0) for n in names}

    def positions(self, generation: int, names: Sequence[str]) -> dict[str, int]:
        with self._read() as cur:
            return self._positions(cur, generation, names)

    def commit(
        self, generation: int, state: str, name: str, expected: int, new: int, changes: Changes,
        transaction: Any = None,
    ) -> None:
        if transaction is not None:
            self._commit(transaction, generation, state, name, expected, new, changes)
            return
        with self._write() as cur:
            self._commit(cur, generation, state, name, expected, new, changes)

    def _commit(
        self, cur: Any, generation: int, state: str, name: str, expected: int, new: int, changes: Changes
    ) -> None:
        self._execute(
            cur,
            f"SELECT state FROM {self._q(GENERATIONS)} WHERE generation = ?{self.share_lock}",
            (generation,),
        )
        row = cur.fetchone()
        if row is None or row[0] != state:
            raise GenerationChanged(f"generation {generation} is no longer {state}")
        # First, so that two processes working on one batch queue here and one of them fails.
        self._execute(
            cur,
            f"UPDATE {self._tracking_table()} SET notification_id = ? "
            "WHERE application_name = ? AND notification_id = ?",
            (new, tracking_name(name, generation), expected),
        )
        if cur.rowcount != 1:
            raise PositionConflict(f"{name}@{generation} is no longer at {expected}")
        self._apply(cur, generation, changes)

    def _apply(self, cur: Any, generation: int, changes: Changes) -> None:
        # Two writers of one projection queue on its tracking row first, so the order in
        # which rows are written cannot deadlock.
        for table, keys in changes.deletes.items():
            if keys:
                self._delete(cur, generation, table, list(keys), zero_only=False)
        for table, rows in changes.puts.items():
            if rows:
                cols = table.column_names
                self._upsert(cur, generation, table, [tuple(r[c] for c in cols) for r in rows.values()], additive=False)
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
        select = self._select_nearest if nearest else self._select_in
        if transaction is not None:
            rows = select(transaction, generation, table, columns, list(values), cols)
        else:
            with self._read() as cur:
                rows = select(cur, generation, table, columns, list(values), cols)
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def _select_nearest(
        self, cur: Any, generation: int, table: Table, columns: Sequence[str],
        values: Sequence[tuple[Any, ...]], select: Sequence[str],
    ) -> list[tuple[Any, ...]]:
        """`fetch(nearest=True)`: for each key, the keys just before and after it are each
        one descent of the primary key's index (MAX/MIN under equal leading columns)."""
        name = self._q(physical(generation, table))
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
            self._execute(cur, text, [x for v in chunk for x in v])
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
        self._execute(transaction, self._events_query(len(topics)), [after, stop, *topics, limit])
        return [
            Notification(
                id=int(i), originator_id=self._originator_id(o), originator_version=int(v),
                topic=t, state=bytes(state),
            )
            for i, o, v, t, state in transaction.fetchall()
        ]

    def log_head(self, transaction: Any) -> int:
        self._execute(transaction, self._head_query())
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
        # The snapshot begins and finds the current generation in one round trip.
        with self._snapshot(f"SELECT generation FROM {self._q(GENERATIONS)} WHERE state = 'current'") as cur:
            row = cur.fetchone()
            if row is None:
                raise GenerationChanged("no current generation of the read models")
            yield SqlReader(self, cur, int(row[0]))

    def glance(self, table: Table, key: tuple[Any, ...], names: Sequence[str]) -> Glance:
        """One row by its key, in one statement (a snapshot by itself) that also reads the
        head of the log and how far `names` have read it.

        The current generation is remembered between calls; the statement checks it is still
        current. When it is not (a rebuild switched generations) or its tables are gone, this
        forgets it and raises, and the caller asks again."""
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
            f"(SELECT MIN(notification_id) FROM {self._tracking_table()} WHERE application_name IN ({marks})), "
            f"{', '.join('r.' + c for c in cols)} "
            f"FROM {self._q(GENERATIONS)} AS g "
            f"LEFT JOIN {self._q(physical(generation, table))} AS r ON {match} "
            "WHERE g.generation = ?"
        )
        params = [*(tracking_name(n, generation) for n in names), *key, generation]
        try:
            with self._statement() as cur:
                self._execute(cur, text, params)
                found = cur.fetchone()
        except Exception:
            self._known_current = None
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
    def __init__(self, store: SqlReadModelStore, cur: Any, generation: int) -> None:
        self.store = store
        self.cur = cur
        self.generation = generation

    def _t(self, table: Table) -> str:
        return self.store._q(physical(self.generation, table))

    def _all(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.store._execute(self.cur, text, params)
        return [tuple(r) for r in self.cur.fetchall()]

    def row(self, table: Table, key: tuple[Any, ...]) -> dict[str, Any] | None:
        cols = table.column_names
        where = " AND ".join(f"{c} = ?" for c in table.key)
        rows = self._all(f"SELECT {', '.join(cols)} FROM {self._t(table)} WHERE {where}", key)
        return dict(zip(cols, rows[0], strict=True)) if rows else None

    def entry_at_or_before(self, volunteer_id: str, book: str, us: int, strict: bool = False) -> dict[str, Any] | None:
        cols = BAL_ENTRY.column_names
        rows = self._all(
            f"SELECT {', '.join(cols)} FROM {self._t(BAL_ENTRY)} "
            f"WHERE volunteer_id = ? AND book = ? AND recorded_us {'<' if strict else '<='} ? "
            "ORDER BY recorded_us DESC, seq DESC LIMIT 1",
            (volunteer_id, book, us),
        )
        return dict(zip(cols, rows[0], strict=True)) if rows else None

    def entries(
        self, volunteer_id: str, book: str, after_seq: int, from_us: int, to_us: int, limit: int
    ) -> list[dict[str, Any]]:
        cols = BAL_ENTRY.column_names
        rows = self._all(
            f"SELECT {', '.join(cols)} FROM {self._t(BAL_ENTRY)} "
            "WHERE volunteer_id = ? AND book = ? AND seq > ? AND recorded_us >= ? AND recorded_us <= ? "
            "ORDER BY seq LIMIT ?",
            (volunteer_id, book, after_seq, from_us, to_us, limit),
        )
        return [dict(zip(cols, r, strict=True)) for r in rows]

    @staticmethod
    def _spot(spot: Spot) -> tuple[str, list[Any]]:
        if not spot.prefix:
            return "lvl = ? AND anc = ?", [spot.lvl_lo, spot.anc]
        # Levels listed, not a range: each is one descent of the (lvl, anc, ...) index.
        levels = list(range(spot.lvl_lo, spot.lvl_hi + 1))
        marks = ", ".join("?" for _ in levels)
        return f"lvl IN ({marks}) AND anc >= ? AND anc < ?", [*levels, spot.anc, spot.anc + ":"]

    @staticmethod
    def _where(spot: Spot, grp: str, grp_prefix: bool) -> tuple[str, list[Any]]:
        sql, params = SqlReader._spot(spot)
        if grp_prefix:
            sql += " AND grp >= ? AND grp < ?"
            params += [grp, grp[:-1] + chr(ord(grp[-1]) + 1)]
        else:
            sql += " AND grp = ?"
            params.append(grp)
        return sql, params

    @staticmethod
    def _group(grouping: Grouping) -> str | None:
        return {
            "none": None,
            "anc": "anc",
            "substr": f"SUBSTR(anc, 1, {int(grouping.length)})",
            "grp": "grp",
            "month": "day / 100",
        }[grouping.kind]

    def day_sums(
        self, spot: Spot, grp: str, grp_prefix: bool, first_day: int, last_day: int, grouping: Grouping
    ) -> dict[Any, dict[str, int]]:
        where, params = self._where(spot, grp, grp_prefix)
        sums, sum_params = [], []
        for m in DAY_MEASURES:
            if m in CUMULATIVE_MEASURES:
                sums.append(f"SUM({m})")
            else:
                sums.append(f"SUM(CASE WHEN day >= ? THEN {m} ELSE 0 END)")
                sum_params.append(first_day)
        group = self._group(grouping)
        select = ", ".join(([group] if group else ["NULL"]) + sums)
        text = f"SELECT {select} FROM {self._t(ST_DAY)} WHERE {where} AND day <= ?"
        if group:
            text += f" GROUP BY {group}"
        out: dict[Any, dict[str, int]] = {}
        for row in self._all(text, [*sum_params, *params, last_day]):
            if row[1] is None:  # no rows at all
                continue
            out[row[0]] = {m: int(v or 0) for m, v in zip(DAY_MEASURES, row[1:], strict=True)}
        return out

    @staticmethod
    def _threshold(grouping: Grouping, first_day: int) -> tuple[str, list[Any]]:
        """A pair counts if its previous day is before the start of its period: `first_day`,
        or for a month group the later of `first_day` and the month's first day."""
        if grouping.kind == "month":
            start = "(day / 100) * 100 + 1"
            return f"CASE WHEN {start} > ? THEN {start} ELSE ? END", [first_day, first_day]
        return "?", [max(first_day, 1)]

    def distinct_counts(
        self, measure: str, spot: Spot, first_day: int, last_day: int, grouping: Grouping
    ) -> dict[Any, int]:
        where, params = self._spot(spot)
        group = self._group(grouping)
        threshold, threshold_params = self._threshold(grouping, first_day)
        text = (
            f"SELECT {group or 'NULL'}, SUM(n) FROM {self._t(ST_COUNT)} WHERE measure = ? AND {where} "
            f"AND day >= ? AND day <= ? AND prev_day < {threshold}"
        )
        if group:
            text += f" GROUP BY {group}"
        rows = self._all(text, [measure, *params, first_day, last_day, *threshold_params])
        return {k: int(v) for k, v in rows if v is not None}

    def pair_counts(
        self, measure: str, scope: str, scope_prefix: bool, region: str | None,
        first_day: int, last_day: int, grouping: Grouping,
    ) -> dict[Any, int]:
        if scope_prefix:
            where = "scope >= ? AND scope < ?"
            params: list[Any] = [scope, scope[:-1] + chr(ord(scope[-1]) + 1)]
        else:
            where, params = "scope = ?", [scope]
        if region is not None:
            where += " AND region >= ? AND region < ?"
            params += [region, region + ":"]
        group = {
            "none": None,
            "scope": "scope",
            "substr": f"SUBSTR(region, 1, {int(grouping.length)})",
            "month": "day / 100",
        }[grouping.kind]
        threshold, threshold_params = self._threshold(grouping, first_day)
        text = (
            f"SELECT {group or 'NULL'}, COUNT(*) FROM {self._t(ST_PAIR)} WHERE measure = ? AND {where} "
            f"AND day >= ? AND day <= ? AND prev_day < {threshold}"
        )
        if group:
            text += f" GROUP BY {group}"
        rows = self._all(text, [measure, *params, first_day, last_day, *threshold_params])
        return {k: int(v) for k, v in rows if v}

    def day_span(self, spot: Spot) -> tuple[int, int] | None:
        where, params = self._where(spot, "", False)
        rows = self._all(f"SELECT MIN(day), MAX(day) FROM {self._t(ST_DAY)} WHERE {where}", params)
        if not rows or rows[0][0] is None:
            return None
        return int(rows[0][0]), int(rows[0][1])

    def names(self, table: Table, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        keys = sorted(set(keys))
        if not keys:
            return {}
        cols = table.column_names
        rows = self.store._select_in(self.cur, self.generation, table, table.key, [(k,) for k in keys], cols)
        return {r[0]: dict(zip(cols, r, strict=True)) for r in rows}

    def dump(self, table: Table) -> list[tuple[Any, ...]]:
        cols = table.column_names
        return self._all(f"SELECT {', '.join(cols)} FROM {self._t(table)} ORDER BY {', '.join(table.key)}")
