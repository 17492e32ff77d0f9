"""The lists' tables, in the ledger's own database (the events' SQLite file or PostgreSQL
schema), and every SQL statement the lists run, for both dialects (here, nowhere else).

- `lists_volunteers`, `lists_organizations`, `lists_points`, `lists_keys`: one row per thing,
  keyed by the position of its registration in the log (the order lists are walked in);
  volunteers carry their balances, exchange points their catalogue.
- `lists_grams`: every 1- and 2-gram of each name's search key (`names.py`), by kind of thing;
  its primary key (kind, gram, position) is the name index.
- `lists_transactions`: one row per transaction, keyed by its position, with what the filters
  ask (type, recorded time, volunteers, organisation, exchange point, pickup code, the region
  all its parties share) and the document the API shows; `lists_transaction_volunteers` finds
  a volunteer's transactions.
- `lists_position`: how far the rows have read the log.

A batch's rows and its new position are one transaction, and the position moves by
compare-and-set from the one the batch was computed from: of two followers, the second finds
the position moved (or waits for the first's lock) and writes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg.errors
from psycopg.rows import dict_row, tuple_row
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.persistence import reading
from projections.lists.rules import Changes

NAME = "lists"
TABLES = (
    "lists_volunteers", "lists_organizations", "lists_points", "lists_keys", "lists_grams",
    "lists_transactions", "lists_transaction_volunteers",
)
VOLUNTEER_COLUMNS = (
    "position", "id", "name", "name_key", "region_code", "organization_id", "birth_year", "id_number_hash",
    "registered_us", "earned", "redeemed", "timebank_opened_us", "timebank_balance",
)
ORGANIZATION_COLUMNS = ("position", "id", "name", "name_key", "region_code", "registered_us")
POINT_COLUMNS = (*ORGANIZATION_COLUMNS, "items")
KEY_COLUMNS = ("position", "id", "role", "name", "region_code", "exchange_point_id", "created_us", "revoked_us")
TRANSACTION_COLUMNS = (
    "position", "id", "type", "recorded_us", "volunteer_id", "volunteer_ids", "organization_id",
    "exchange_point_id", "pickup_code", "parties_region", "reversed_by", "document",
)
THINGS = {"volunteer": "lists_volunteers", "organization": "lists_organizations", "exchange_point": "lists_points"}
GRAM_KIND = {"volunteer": "v", "organization": "o", "exchange_point": "p"}
CHUNK = 500  # ids per IN (...) on SQLite


class PositionMovedError(Exception):
    """Another follower (or a rebuild) moved the lists' position first: reload and go on."""


class ListsBusyError(Exception):
    """A rebuild holds the lists' position: their rows are being rewritten."""


def region_range(prefix: str) -> tuple[str, str]:
    """Codes that start with `prefix`, as a range of an index: digits sort before ':'."""
    return prefix, prefix + ":"


class Filters:
    """WHERE clauses and their parameters, in the order they are written."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"


class ListsStore:
    """The SQL of the lists, one subclass per dialect."""

    mark = "?"
    big = "INTEGER"
    text = "TEXT"
    code = "TEXT"  # region codes and grams: compared byte by byte
    position_column = "rowid"
    # Whether a rebuild rewrites every row in one store transaction (see `Lists.rebuild`).
    atomic_rebuild = False

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.datastore = recorder.datastore

    # Names and statements ------------------------------------------------------------------

    def table(self, name: str) -> str:
        return name

    def events_table(self) -> str:
        return self.recorder.events_table_name

    def _q(self, text: str) -> str:
        names = {name.removeprefix("lists_"): self.table(name) for name in (*TABLES, "lists_position")}
        text = text.format(events=self.events_table(), event_position=self.position_column, **names)
        return text if self.mark == "?" else text.replace("?", self.mark)

    def contains(self, column: str) -> str:
        """True when `column` holds the parameter as a substring."""
        return f"instr({column}, ?) > 0"

    def _create_statements(self) -> list[str]:
        big, text, code = self.big, self.text, self.code
        return [
            f"CREATE TABLE IF NOT EXISTS {{position}} (name {text} PRIMARY KEY, position {big} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {{volunteers}} (position {big} PRIMARY KEY, id {text} NOT NULL UNIQUE, "
            f"name {text} NOT NULL, name_key {text} NOT NULL, region_code {code} NOT NULL, organization_id {text}, "
            f"birth_year INTEGER, id_number_hash {text}, registered_us {big} NOT NULL, "
            f"earned {big} NOT NULL DEFAULT 0, redeemed {big} NOT NULL DEFAULT 0, timebank_opened_us {big}, "
            f"timebank_balance {big} NOT NULL DEFAULT 0)",
            "CREATE INDEX IF NOT EXISTS lists_volunteers_region ON {volunteers} (region_code, position)",
            "CREATE INDEX IF NOT EXISTS lists_volunteers_organization ON {volunteers} (organization_id, position)",
            "CREATE INDEX IF NOT EXISTS lists_volunteers_id_number ON {volunteers} (id_number_hash, position) "
            "WHERE id_number_hash IS NOT NULL",
            f"CREATE TABLE IF NOT EXISTS {{organizations}} (position {big} PRIMARY KEY, id {text} NOT NULL UNIQUE, "
            f"name {text} NOT NULL, name_key {text} NOT NULL, region_code {code} NOT NULL, registered_us {big} NOT NULL)",
            "CREATE INDEX IF NOT EXISTS lists_organizations_region ON {organizations} (region_code, position)",
            f"CREATE TABLE IF NOT EXISTS {{points}} (position {big} PRIMARY KEY, id {text} NOT NULL UNIQUE, "
            f"name {text} NOT NULL, name_key {text} NOT NULL, region_code {code} NOT NULL, registered_us {big} NOT NULL, "
            f"items {text} NOT NULL)",
            "CREATE INDEX IF NOT EXISTS lists_points_region ON {points} (region_code, position)",
            f"CREATE TABLE IF NOT EXISTS {{keys}} (position {big} PRIMARY KEY, id {text} NOT NULL UNIQUE, "
            f"role {text} NOT NULL, name {text} NOT NULL, region_code {text}, exchange_point_id {text}, "
            f"created_us {big} NOT NULL, revoked_us {big})",
            f"CREATE TABLE IF NOT EXISTS {{grams}} (kind {code} NOT NULL, gram {code} NOT NULL, "
            f"position {big} NOT NULL, PRIMARY KEY (kind, gram, position))",
            f"CREATE TABLE IF NOT EXISTS {{transactions}} (position {big} PRIMARY KEY, id {text} NOT NULL UNIQUE, "
            f"type {text} NOT NULL, recorded_us {big} NOT NULL, volunteer_id {text}, volunteer_ids {text} NOT NULL, "
            f"organization_id {text}, exchange_point_id {text}, pickup_code {text}, parties_region {code} NOT NULL, "
            f"reversed_by {text}, document {text} NOT NULL)",
            "CREATE INDEX IF NOT EXISTS lists_transactions_point ON {transactions} (exchange_point_id, position)",
            "CREATE INDEX IF NOT EXISTS lists_transactions_type ON {transactions} (type, position)",
            "CREATE INDEX IF NOT EXISTS lists_transactions_pickup ON {transactions} (pickup_code) WHERE pickup_code IS NOT NULL",
            "CREATE INDEX IF NOT EXISTS lists_transactions_recorded ON {transactions} (recorded_us)",
            "CREATE INDEX IF NOT EXISTS lists_transactions_region ON {transactions} (parties_region, position)",
            f"CREATE TABLE IF NOT EXISTS {{transaction_volunteers}} (volunteer_id {text} NOT NULL, "
            f"position {big} NOT NULL, PRIMARY KEY (volunteer_id, position))",
            f"INSERT INTO {{position}} (name, position) VALUES ('{NAME}', 0) ON CONFLICT (name) DO NOTHING",
        ]

    def setup(self) -> None:
        with self.datastore.transaction(commit=True) as cur:
            for statement in self._create_statements():
                cur.execute(self._q(statement))

    # Transactions ----------------------------------------------------------------------------

    @contextmanager
    def writing(self, wait_for_locks: bool = False) -> Iterator[Any]:
        """A store transaction that writes (committed at the end, rolled back on an error).
        Without `wait_for_locks`, a rebuild holding the position makes it fail at once-ish."""
        with self.datastore.transaction(commit=True) as cur:
            yield _raw(cur)

    def ask(self, question: Question) -> Asked:
        """The question's rows, with the log's head and the lists' position read together."""
        with reading(self.datastore) as cur:
            raw = _raw(cur)
            glance = self._fetch(raw, GLANCE, [NAME])[0]
            rows = self._fetch(raw, question.text, question.params)
        return Asked(int(glance["head"] or 0), int(glance["position"] or 0), _shaped(question, rows))

    def _fetch(self, cur: Any, text: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur.execute(self._q(text), list(params))
        return [dict(row) for row in cur.fetchall()]

    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join('?' for _ in values)})", list(values)

    def _chunks(self, values: Collection[Any]) -> Iterator[list[Any]]:
        ordered = sorted(values)
        for start in range(0, len(ordered), CHUNK):
            yield ordered[start : start + CHUNK]

    # The position ------------------------------------------------------------------------------

    def position(self) -> int:
        with reading(self.datastore) as cur:
            rows = self._fetch(cur, "SELECT position FROM {position} WHERE name = ?", [NAME])
        return int(rows[0]["position"]) if rows else 0

    def head(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def move(self, cur: Any, expected: int, end: int) -> None:
        """Moves the position from `expected` to `end` in this transaction (first: it takes the
        row's lock), or raises PositionMovedError when another follower moved it first."""
        cur.execute(self._q("UPDATE {position} SET position = ? WHERE name = ? AND position = ?"), [end, NAME, expected])
        if cur.rowcount != 1:
            raise PositionMovedError(f"the lists' position is no longer {expected}")

    def reset(self, cur: Any) -> None:
        """Every row gone and the position back to 0, in this transaction."""
        cur.execute(self._q("UPDATE {position} SET position = 0 WHERE name = ?"), [NAME])
        for name in TABLES:
            cur.execute(self._q(f"DELETE FROM {{{name.removeprefix('lists_')}}}"))

    def refresh_statistics(self) -> None:
        """Fresh statistics for the planner once many rows were written."""
        with self.datastore.transaction(commit=True) as cur:
            for name in TABLES:
                cur.execute(f"ANALYZE {self.table(name)}")

    # What a batch needs of the stored rows -------------------------------------------------------

    def known(self, cur: Any) -> StoredRows:
        return StoredRows(self, cur)

    # Writing a batch -----------------------------------------------------------------------------

    def write(self, cur: Any, changes: Changes) -> None:
        """The batch's rows (its position was moved first, in the same transaction): new rows
        first, then the changes to rows, which may be new ones."""
        if changes.volunteers:
            self._insert(cur, "volunteers", VOLUNTEER_COLUMNS, [_values(row, VOLUNTEER_COLUMNS) for row in changes.volunteers])
        if changes.organizations:
            self._insert(cur, "organizations", ORGANIZATION_COLUMNS,
                         [_values(row, ORGANIZATION_COLUMNS) for row in changes.organizations])
        if changes.points:
            rows = [_values({**row, "items": json_text(row["items"])}, POINT_COLUMNS) for row in changes.points.values()]
            cur.executemany(
                self._q(_insert("{points}", POINT_COLUMNS) + " ON CONFLICT (id) DO UPDATE SET items = excluded.items"), rows
            )
        if changes.keys:
            self._insert(cur, "keys", KEY_COLUMNS, [_values(row, KEY_COLUMNS) for row in changes.keys])
        if changes.grams:
            self._insert(cur, "grams", ("kind", "gram", "position"), changes.grams)
        if changes.transactions:
            rows = [
                _values({**row, "volunteer_ids": ",".join(row["volunteer_ids"]), "document": json_text(row["document"])},
                        TRANSACTION_COLUMNS)
                for row in changes.transactions
            ]
            self._insert(cur, "transactions", TRANSACTION_COLUMNS, rows)
            self._insert(cur, "transaction_volunteers", ("volunteer_id", "position"),
                         [(vid, row["position"]) for row in changes.transactions for vid in dict.fromkeys(row["volunteer_ids"])])
        if changes.balances:
            self._update(cur, "volunteers", ("earned", "redeemed", "timebank_balance"), "+",
                         [(vid, *deltas) for vid, deltas in changes.balances.items()])
        if changes.timebank_opened:
            self._update(cur, "volunteers", ("timebank_opened_us",), "=", list(changes.timebank_opened.items()))
        if changes.reversed:
            self._update(cur, "transactions", ("reversed_by",), "=", list(changes.reversed.items()))
        if changes.revoked:
            self._update(cur, "keys", ("revoked_us",), "=", list(changes.revoked.items()))

    def _insert(self, cur: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        cur.executemany(self._q(_insert("{" + table + "}", columns)), rows)

    def _update(self, cur: Any, table: str, columns: Sequence[str], how: str, rows: list[tuple[Any, ...]]) -> None:
        """Rows `(id, value, ...)`: each column set to its value (`=`) or increased by it (`+`)."""
        sets = ", ".join(f"{c} = {c} + ?" if how == "+" else f"{c} = ?" for c in columns)
        cur.executemany(self._q(f"UPDATE {{{table}}} SET {sets} WHERE id = ?"), [(*row[1:], row[0]) for row in rows])

    def every_row(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table of the lists, in key order: what a rebuild must give again."""
        with reading(self.datastore) as cur:
            return {
                name: [tuple(row.values()) for row in self._fetch(_raw(cur), f"SELECT * FROM {{{name.removeprefix('lists_')}}} ORDER BY 1, 2")]
                for name in TABLES
            }

    # Status ----------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with reading(self.datastore) as cur:
            return {
                name.removeprefix("lists_"): int(self._fetch(_raw(cur), f"SELECT COUNT(*) AS n FROM {{{name.removeprefix('lists_')}}}")[0]["n"])
                for name in ("lists_volunteers", "lists_organizations", "lists_points", "lists_keys", "lists_transactions")
            }


class StoredRows:
    """What earlier batches stored, read in the batch's own transaction (`rules.Known`)."""

    def __init__(self, store: ListsStore, cur: Any) -> None:
        self.store = store
        self.cur = cur

    def regions(self, ids: Collection[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in self.store._chunks(ids):
            for table in THINGS.values():
                where, params = self.store._in("id", chunk)
                short = table.removeprefix("lists_")
                for row in self.store._fetch(self.cur, f"SELECT id, region_code FROM {{{short}}} WHERE {where}", params):
                    found[row["id"]] = row["region_code"]
        return found

    def transactions(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for chunk in self.store._chunks(ids):
            where, params = self.store._in("id", chunk)
            rows = self.store._fetch(
                self.cur,
                "SELECT id, type, volunteer_ids, organization_id, exchange_point_id, parties_region "
                f"FROM {{transactions}} WHERE {where}",
                params,
            )
            for row in rows:
                found[row["id"]] = {**row, "volunteer_ids": [v for v in row["volunteer_ids"].split(",") if v]}
        return found

    def points(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for chunk in self.store._chunks(ids):
            where, params = self.store._in("id", chunk)
            for row in self.store._fetch(self.cur, f"SELECT {', '.join(POINT_COLUMNS)} FROM {{points}} WHERE {where}", params):
                found[row["id"]] = {**row, "items": json.loads(row["items"])}
        return found


@dataclass(frozen=True)
class Question:
    """A read of the lists: one statement, asked together with the log's head and the lists'
    position (`ListsStore.ask`)."""

    text: str
    params: list[Any]
    json_columns: tuple[str, ...] = ()
    list_columns: tuple[str, ...] = ()  # comma-separated ids
    # Whether a plan for any parameters will do. Not with a range of regions or times: how
    # many rows those select decides between walking the list in order and sorting the few.
    reusable_plan: bool = True


@dataclass(frozen=True)
class Asked:
    head: int
    position: int
    rows: list[dict[str, Any]]


GLANCE = "SELECT (SELECT MAX({event_position}) FROM {events}) AS head, (SELECT position FROM {position} WHERE name = ?) AS position"


def things_question(
    store: ListsStore,
    kind: str,
    after: int,
    limit: int,
    *,
    region: str | None = None,
    name_key: str | None = None,
    query_grams: Sequence[str] = (),
    organization_id: str | None = None,
    id_number_hash: str | None = None,
) -> Question:
    """Volunteers, organisations or exchange points in registration order after `after`."""
    table = "{" + THINGS[kind].removeprefix("lists_") + "}"
    columns = VOLUNTEER_COLUMNS if kind == "volunteer" else POINT_COLUMNS if kind == "exchange_point" else ORGANIZATION_COLUMNS
    selected = ", ".join(f"t.{c}" for c in columns)
    joins: list[str] = []
    params: list[Any] = []
    where = Filters()
    if query_grams:
        # The name index: the first gram's postings in position order, each confirmed by the
        # others' (primary-key look-ups, or a merge of ordered postings) and by the substring.
        source = f"{{grams}} g0 JOIN {table} t ON t.position = g0.position"
        for n, gram in enumerate(query_grams[1:], 1):
            joins.append(f"JOIN {{grams}} g{n} ON g{n}.kind = g0.kind AND g{n}.gram = ? AND g{n}.position = g0.position")
            params.append(gram)
        where.add("g0.kind = ?", GRAM_KIND[kind])
        where.add("g0.gram = ?", query_grams[0])
        where.add("g0.position > ?", after)
        where.add(store.contains("t.name_key"), name_key)
        order = "g0.position"
    else:
        source = f"{table} t"
        where.add("t.position > ?", after)
        order = "t.position"
    if region:
        low, high = region_range(region)
        where.add("t.region_code >= ? AND t.region_code < ?", low, high)
    if organization_id is not None:
        where.add("t.organization_id = ?", organization_id)
    if id_number_hash is not None:
        where.add("t.id_number_hash = ?", id_number_hash)
    text = f"SELECT {selected} FROM {source} {' '.join(joins)} WHERE {where.sql()} ORDER BY {order} LIMIT ?"
    return Question(
        text, [*params, *where.params, limit], json_columns=("items",) if kind == "exchange_point" else (),
        reusable_plan=not region,
    )


def keys_question(after: int, limit: int) -> Question:
    return Question(f"SELECT {', '.join(KEY_COLUMNS)} FROM {{keys}} WHERE position > ? ORDER BY position LIMIT ?", [after, limit])


def transactions_question(
    before: int,
    limit: int,
    *,
    volunteer_id: str | None = None,
    exchange_point_id: str | None = None,
    type: str | None = None,
    from_us: int | None = None,
    to_us: int | None = None,
    region: str | None = None,
    pickup_code: str | None = None,
    with_volunteer_name: bool = False,
) -> Question:
    """Transactions newest first (position descending) before `before`."""
    selected = ", ".join(f"t.{c}" for c in TRANSACTION_COLUMNS)
    joins: list[str] = []
    where = Filters()
    order = "t.position"
    if volunteer_id is not None:
        joins.append("JOIN {transaction_volunteers} tv ON tv.position = t.position")
        where.add("tv.volunteer_id = ?", volunteer_id)
        where.add("tv.position < ?", before)
        order = "tv.position"
    else:
        where.add("t.position < ?", before)
    if with_volunteer_name:
        selected += ", v.name AS volunteer_name"
        joins.append("LEFT JOIN {volunteers} v ON v.id = t.volunteer_id")
    if exchange_point_id is not None:
        where.add("t.exchange_point_id = ?", exchange_point_id)
    if type is not None:
        where.add("t.type = ?", type)
    if from_us is not None:
        where.add("t.recorded_us >= ?", from_us)
    if to_us is not None:
        where.add("t.recorded_us <= ?", to_us)
    if region:
        low, high = region_range(region)
        where.add("t.parties_region >= ? AND t.parties_region < ?", low, high)
    if pickup_code is not None:
        where.add("t.pickup_code = ?", pickup_code)
    text = f"SELECT {selected} FROM {{transactions}} t {' '.join(joins)} WHERE {where.sql()} ORDER BY {order} DESC LIMIT ?"
    return Question(
        text, [*where.params, limit], json_columns=("document",), list_columns=("volunteer_ids",),
        reusable_plan=not region and from_us is None and to_us is None,
    )


def _shaped(question: Question, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        for column in question.json_columns:
            row[column] = json.loads(row[column])
        for column in question.list_columns:
            row[column] = [v for v in row[column].split(",") if v]
    return rows


def _raw(cur: Any) -> Any:
    """The driver's own cursor (eventsourcing wraps SQLite's, hiding `rowcount`)."""
    return getattr(cur, "sqlite_cursor", cur)


def _insert(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"


def _values(row: dict[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
    return tuple(row.get(column) for column in columns)


# What `json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)` writes,
# by orjson (a tenth of a posting's cost in the lists): times and dataclasses go to `str` as
# there; what orjson refuses (integers beyond 64 bits) goes to json.
_AS_JSON_WROTE = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text(value: Any) -> str:
    """A document or a point's items as the lists store them (and read them back with json)."""
    try:
        return orjson.dumps(value, default=str, option=_AS_JSON_WROTE).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class SQLiteListsStore(ListsStore):
    def setup(self) -> None:
        # `CREATE TABLE IF NOT EXISTS` on tables that exist only reads: the transaction's first
        # write then meets SQLite's "database is locked" at once (not after its busy timeout)
        # when another connection wrote meanwhile. Setting up is idempotent: try again.
        for attempt in range(20):
            try:
                super().setup()
                return
            except Exception as error:
                if "locked" not in str(error) or attempt == 19:
                    raise
                time.sleep(0.01 * (attempt + 1))


class PostgresListsStore(ListsStore):
    mark = "%s"
    big = "BIGINT"
    code = 'TEXT COLLATE "C"'
    position_column = "notification_id"
    atomic_rebuild = True

    def table(self, name: str) -> str:
        return f'"{self.datastore.schema}"."{name}"' if self.datastore.schema else name

    def events_table(self) -> str:
        return self.table(self.recorder.events_table_name)

    def contains(self, column: str) -> str:
        return f"strpos({column}, ?) > 0"

    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def _chunks(self, values: Collection[Any]) -> Iterator[list[Any]]:
        if values:
            yield sorted(values)

    def setup(self) -> None:
        # Two processes starting at once on a new schema must not both create the tables.
        with self.datastore.transaction(commit=True) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"hour-ledger-lists:{self.datastore.schema}"])
            for statement in self._create_statements():
                cur.execute(self._q(statement))

    @contextmanager
    def writing(self, wait_for_locks: bool = False) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cur:
            if not wait_for_locks:
                # A rebuild rewrites the rows in one long transaction that holds the position:
                # a follower meanwhile gives up soon and tries again later.
                cur.execute("SET LOCAL lock_timeout = '1s'")
            try:
                yield cur
            except psycopg.errors.LockNotAvailable as error:
                raise ListsBusyError("the lists are being rebuilt") from error

    def _insert(self, cur: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        # COPY: one stream per table and batch. New rows never meet old ones (the position
        # moved by compare-and-set first), so nothing here needs ON CONFLICT.
        with cur.copy(self._q(f"COPY {{{table}}} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)")) as copy:
            copy.set_types([_BINARY_TYPES.get(c, "text") for c in columns])
            for row in rows:
                copy.write_row(row)

    _ARRAY = {"earned": "bigint[]", "redeemed": "bigint[]", "timebank_balance": "bigint[]", "timebank_opened_us": "bigint[]",
              "revoked_us": "bigint[]", "reversed_by": "text[]"}

    def _update(self, cur: Any, table: str, columns: Sequence[str], how: str, rows: list[tuple[Any, ...]]) -> None:
        # One statement for the whole batch: the values as arrays, joined by id.
        sets = ", ".join(f"{c} = t.{c} + d.{c}" if how == "+" else f"{c} = d.{c}" for c in columns)
        arrays = ", ".join(["?::text[]", *(f"?::{self._ARRAY[c]}" for c in columns)])
        cur.execute(
            self._q(f"UPDATE {{{table}}} AS t SET {sets} FROM unnest({arrays}) AS d(id, {', '.join(columns)}) WHERE t.id = d.id"),
            [list(values) for values in zip(*rows)],
        )

    def ask(self, question: Question) -> Asked:
        # The pool's connections are in autocommit mode: each statement is a transaction (and
        # a snapshot) of its own, and the pipeline sends both in one round trip.
        with self.datastore.get_connection() as conn:
            with conn.pipeline():
                glance = conn.cursor(row_factory=tuple_row)
                glance.execute(self._q(GLANCE), [NAME])
                cur = conn.cursor(row_factory=dict_row)
                # psycopg prepares a statement run often; PostgreSQL may then keep one plan for
                # every parameter (`reusable_plan`).
                cur.execute(self._q(question.text), question.params, prepare=None if question.reusable_plan else False)
            head, position = glance.fetchone() or (None, None)
            rows = cur.fetchall()
        return Asked(int(head or 0), int(position or 0), _shaped(question, rows))

    def position(self) -> int:
        with self.datastore.get_connection() as conn:
            row = conn.execute(self._q("SELECT position FROM {position} WHERE name = ?"), [NAME]).fetchone()
        return int(row["position"]) if row else 0


_BINARY_TYPES = {
    "position": "int8", "registered_us": "int8", "earned": "int8", "redeemed": "int8", "timebank_opened_us": "int8",
    "timebank_balance": "int8", "created_us": "int8", "revoked_us": "int8", "recorded_us": "int8", "birth_year": "int4",
}


def lists_store_of(recorder: Any) -> ListsStore:
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresListsStore(recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteListsStore(recorder)
    raise TypeError(f"the lists need a PostgreSQL or SQLite store, not {type(recorder).__name__}")
