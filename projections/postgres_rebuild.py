"""A rebuild's bulk load on PostgreSQL: every read-model table of a new generation computed
from the event log by set-based SQL inside the database, a few steps at once (one per core).

Why: the projections in Python (`balances.py`, `stats.py`) follow the log batch by batch,
which a rebuild of a million events would pay for in Python per event (about 4,000 events/s).
Here PostgreSQL parses the stored JSON and sums, sorts and windows it in bulk; Python only
sends statements, so the rebuild streams whatever the log's size (no event reaches Python).

The rules are the projections' own, restated in SQL: the two must give identical tables,
and the tests hold them to it (a follower's tables against a bulk rebuild's, on scenarios that
exercise every rule). The load reaches the head of the log as its first step read it (every id
up to it is committed, so every later step sees the same events) and records that position for
every projection in its last transaction; the Python projections carry on from there (the
events recorded meanwhile, the final catch-up inside the generation switch).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any

from eventsourcing.utils import get_topic
from psycopg.rows import tuple_row

from ledger.exchange_point import ExchangePoint
from ledger.organization import Organization
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.volunteer import Volunteer
from projections.dims import ALL_LEVELS, EXACT, LENGTH_OF_LEVEL, ROLLUP_LEVELS, UNAFFILIATED
from projections.schema import (
    ALL_TABLES,
    BAL_ENTRY,
    BAL_TXN,
    BAL_VOLUNTEER,
    DAY_MEASURES,
    ST_COUNT,
    ST_DAY,
    ST_FACT,
    ST_ORG,
    ST_PAIR,
    ST_POINT,
    ST_VOLUNTEER,
    Table,
    physical,
)
from projections.sql_store import GENERATIONS, tracking_name
from projections.stats import ACTIVE, BENEFICIARY, DEPOSIT, REDEMPTION, REVERSAL, SERVICE_RECORD, WITHDRAWAL
from projections.store import GenerationChanged

# Notification ids per extraction step: the unit of the progress bar and of parallel work.
CHUNK = 50_000

# Staging text sorts and groups by bytes, as the read models' own columns do (not by locale: slow).
TEXT = 'text COLLATE "C"'
STAGING = ("txn", "leg", "vol", "open", "bal_txn", "entry", "fact", "star", "key", "contrib")
STAGING_NAME = re.compile(r"\brb_(" + "|".join(sorted(STAGING, key=len, reverse=True)) + r")\b")


Stage = Callable[[str], None]
Progress = Callable[[int, int], None]


def staging_table(generation: int, name: str) -> str:
    return f"rm{generation}_rb_{name}"


def _us(ts: str) -> str:
    """Microseconds since the epoch of a timestamptz expression (exact: numeric epoch)."""
    return f"(extract(epoch FROM {ts}) * 1000000)::bigint"


def _day(ts: str) -> str:
    """The China Standard Time day (yyyymmdd) of a timestamptz: a fixed UTC+8, as dims.day_of."""
    return f"to_char(({ts} AT TIME ZONE 'UTC') + interval '8 hours', 'YYYYMMDD')::int"


def _uuid(value: str) -> str:
    """A UUID stored by eventsourcing's transcoder ({"_type_": "uuid_hex", ...}) or as a
    string, as the canonical text `str(UUID)` gives."""
    return (
        f"(CASE jsonb_typeof({value}) WHEN 'object' THEN ({value}->>'_data_')::uuid::text "
        f"WHEN 'string' THEN ({value}#>>'{{}}')::uuid::text END)"
    )


def _region_keys(region: str, max_level: int, alias: str = "k") -> tuple[str, str]:
    """A LATERAL join with the rows of `dims.region_keys(region, max_level)`, and the condition
    that keeps the right ones: (0, ''), the enclosing regions down to max_level, and
    (10 + level, the code itself)."""
    level = "CASE length({r}) " + " ".join(f"WHEN {n} THEN {lvl}" for lvl, n in LENGTH_OF_LEVEL.items()) + " END"
    rows = ["(0, '')"] + [f"({lvl}, left({{r}}, {LENGTH_OF_LEVEL[lvl]}))" for lvl in range(1, max_level + 1)]
    rows.append(f"({EXACT} + {level}, {{r}})")
    needs = " ".join(f"WHEN {lvl} THEN {LENGTH_OF_LEVEL[lvl]}" for lvl in range(1, max_level + 1))
    values = ", ".join(rows).format(r=region)
    join = f"CROSS JOIN LATERAL (VALUES {values}) AS {alias}(lvl, anc)"
    condition = f"({alias}.lvl = 0 OR {alias}.lvl >= {EXACT} OR length({region}) >= CASE {alias}.lvl {needs} END)"
    return join, condition


def _star_level(earned: str, thresholds: Sequence[int]) -> str:
    if not thresholds:
        return "0"
    return "(" + " + ".join(f"({earned} >= {int(t)})::int" for t in thresholds) + ")"


class _Staged:
    """A cursor whose statements name the staging tables as rb_*."""

    def __init__(self, cursor: Any, sql: Callable[[str], str]) -> None:
        self.cursor = cursor
        self.sql = sql

    def execute(self, text: str, params: Any = None) -> Any:
        return self.cursor.execute(self.sql(text), params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)


def _analyze(table: str, cur: Any) -> None:
    cur.execute(f"ANALYZE {table}")


class PostgresRebuild:
    """Loads one 'building' generation from the events; see the module's docstring.

    The work is split into steps that PostgreSQL runs on `workers` connections at once (one
    backend per core): chunks of the log, then balances beside statistics, then indexes.
    Staging tables (`rm<generation>_rb_*`, unlogged) carry rows between steps; they go with
    the generation if the rebuild dies half-way (`drop_generation`)."""

    def __init__(
        self, store: Any, generation: int, names: Sequence[str], thresholds: Sequence[int], workers: int = 0,
        work_mem: str = "1GB",
    ) -> None:
        self.store = store
        self.generation = generation
        self.names = list(names)
        self.thresholds = tuple(thresholds)
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        # Per step and sort or hash (up to twice that for a hash): the steps are a few, run
        # once. Validated by LedgerSettings (a size such as 1GB), so safe to write into SET.
        self.work_mem = work_mem

    def t(self, table: Table) -> str:
        return self.store._q(physical(self.generation, table))

    def sql(self, text: str) -> str:
        """A statement with its staging tables (rb_*) named for this generation."""
        return STAGING_NAME.sub(lambda m: self.store._q(staging_table(self.generation, m.group(1))), text)

    @contextmanager
    def step(self) -> Iterator[Any]:
        """A transaction of its own on a pooled connection, tuned for bulk work."""
        with self.store.datastore.get_connection() as conn, conn.transaction():
            cur = _Staged(conn.cursor(row_factory=tuple_row), self.sql)
            # Sorts and hashes of millions of rows stay in memory (spilled, an aggregate takes
            # several times as long); the tables are recomputable, so a crash losing the last
            # commits only means running it again.
            cur.execute(f"SET LOCAL work_mem = '{self.work_mem}'")
            cur.execute(f"SET LOCAL maintenance_work_mem = '{self.work_mem}'")
            cur.execute("SET LOCAL synchronous_commit = off")
            yield cur

    def in_parallel(self, steps: Sequence[Callable[[Any], None]]) -> None:
        """Runs each step in a transaction of its own, `workers` at a time; the first failure
        is raised once the others have finished."""

        def run(step: Callable[[Any], None]) -> None:
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
        with self.step() as cur:
            self._check_building(cur)
            # Every id up to the head is committed (ids are allocated under the events
            # table's lock, in commit order), so any later transaction sees them all.
            cur.execute(f"SELECT COALESCE(MAX(notification_id), 0) FROM {self.store._q(self.store.events_table)}")
            head = int(cur.fetchone()[0])
            self._stage_tables(cur)
            self._drop_indexes(cur)

        say("reading the log")
        done, lock = [0], threading.Lock()

        def chunk(low: int, high: int) -> Callable[[Any], None]:
            def extract(cur: Any) -> None:
                self._extract(cur, low, high)
                with lock:
                    done[0] += high - low
                    if progress:
                        progress(done[0], head)
            return extract

        self.in_parallel([chunk(low, min(head, low + CHUNK)) for low in range(0, head, CHUNK)])
        self.in_parallel([partial(_analyze, f"rb_{name}") for name in ("txn", "leg", "vol", "open")])
        say("summing")
        # Longest first within a phase, so that the workers finish at about the same time.
        # A table's indexes are built by the step that fills it where nothing else writes it.
        self.in_parallel([self._balances, self._facts])
        self.in_parallel([
            partial(self._days, (EXACT,)),
            partial(self._pairs, "c:"), partial(self._pairs, "o:"), partial(self._pairs, ""),
            partial(self._days, (0, 1, 2, 3)), partial(self._pairs, BENEFICIARY), self._statistic_rows,
        ])
        say("indexing")
        self.in_parallel([
            partial(self._counts, ACTIVE), partial(self._unique_key, ST_PAIR), partial(self._secondary, ST_PAIR),
            partial(self._unique_key, ST_DAY), partial(self._counts, BENEFICIARY),
        ])
        self.in_parallel([partial(self._unique_key, ST_COUNT)])
        with self.step() as cur:
            self._check_building(cur)
            for name in self.names:
                cur.execute(
                    f"UPDATE {self.store._tracking_table()} SET notification_id = %s "
                    "WHERE application_name = %s AND notification_id = 0",
                    (head, tracking_name(name, self.generation)),
                )
                if cur.rowcount != 1:
                    raise GenerationChanged(f"{name}@{self.generation} moved while it was being loaded")
            for table in (ST_PAIR, ST_DAY, ST_COUNT):
                self._primary_key(table, cur)
            for name in STAGING:
                cur.execute(f"DROP TABLE IF EXISTS {self.store._q(staging_table(self.generation, name))}")
        return head

    def _check_building(self, cur: Any) -> None:
        cur.execute(
            f"SELECT state FROM {self.store._q(GENERATIONS)} WHERE generation = %s FOR SHARE", (self.generation,)
        )
        row = cur.fetchone()
        if row is None or row[0] != "building":
            raise GenerationChanged(f"generation {self.generation} is no longer being built")

    # Indexes: built once over the loaded rows, far cheaper than maintained row by row ----------

    def _drop_indexes(self, cur: Any) -> None:
        for table in ALL_TABLES:
            name = physical(self.generation, table)
            cur.execute(f"ALTER TABLE {self.t(table)} DROP CONSTRAINT {name}_pkey")
            for n in range(len(table.indexes)):
                cur.execute(f"DROP INDEX {self.store._q(f'{name}_i{n}')}")

    def _create_indexes(self, table: Table, cur: Any) -> None:
        cur.execute(f"ALTER TABLE {self.t(table)} ADD PRIMARY KEY ({', '.join(table.key)})")
        self._secondary(table, cur)

    def _unique_key(self, table: Table, cur: Any) -> None:
        """The primary key's index alone: it builds beside the table's other indexes (the
        constraint itself takes a lock that would queue them); `_primary_key` adopts it."""
        name = physical(self.generation, table)
        cur.execute(f"CREATE UNIQUE INDEX {name}_pkey ON {self.t(table)} ({', '.join(table.key)})")

    def _primary_key(self, table: Table, cur: Any) -> None:
        name = physical(self.generation, table)
        cur.execute(f"ALTER TABLE {self.t(table)} ADD CONSTRAINT {name}_pkey PRIMARY KEY USING INDEX {name}_pkey")

    def _secondary(self, table: Table, cur: Any) -> None:
        for statement in self.store._index_statements(self.generation, table):
            cur.execute(statement)

    # Extraction: the stored JSON, once, into typed staging tables -------------------------

    def _stage_tables(self, cur: Any) -> None:
        cur.execute(
            f"CREATE UNLOGGED TABLE rb_txn (pos bigint, tid {TEXT}, type {TEXT}, vid {TEXT}, org {TEXT}, "
            f"category {TEXT}, point {TEXT}, beneficiary {TEXT}, minutes bigint, items bigint, day int, "
            f"recorded_day int, recorded_us bigint, reverses {TEXT}, settled_by {TEXT})"
        )
        cur.execute(
            f"CREATE UNLOGGED TABLE rb_leg (pos bigint, ord bigint, tid {TEXT}, type {TEXT}, reverses {TEXT}, "
            f"vid {TEXT}, book {TEXT}, minutes bigint, recorded_us bigint)"
        )
        cur.execute(
            f"CREATE UNLOGGED TABLE rb_vol (vid {TEXT}, region {TEXT}, org {TEXT}, registered_us bigint, "
            "registered_day int)"
        )
        cur.execute(f"CREATE UNLOGGED TABLE rb_open (vid {TEXT}, opened_us bigint, opened_day int)")

    def _extract(self, cur: Any, low: int, high: int) -> None:
        ts = "p.ts"
        c, d = "p.j->'content'", "p.j->'details'"
        kind = "p.j->>'type'"
        started, served = f"({c}->>'started_at')::timestamptz", f"({c}->>'served_at')::timestamptz"
        day_by_kind = (
            f"CASE {kind} WHEN '{SERVICE_RECORD}' THEN {_day(started)} "
            f"WHEN '{DEPOSIT}' THEN {_day(served)} ELSE {_day(ts)} END"
        )
        topics = {
            "posted": get_topic(Transaction.Posted),
            "volunteer": get_topic(Volunteer.Registered),
            "opened": get_topic(TimebankAccount.Opened),
            "org": get_topic(Organization.Registered),
            "point": get_topic(ExchangePoint.Registered),
        }
        cur.execute(
            f"""
            WITH p AS MATERIALIZED (
                SELECT e.notification_id AS pos, e.originator_id::text AS id, e.topic,
                       s.j, (s.j->'timestamp'->>'_data_')::timestamptz AS ts
                FROM {self.store._q(self.store.events_table)} AS e
                CROSS JOIN LATERAL (SELECT convert_from(e.state, 'UTF8')::jsonb AS j) AS s
                WHERE e.notification_id > %(low)s AND e.notification_id <= %(high)s
                  AND e.topic IN (%(posted)s, %(volunteer)s, %(opened)s, %(org)s, %(point)s)
            ), txn AS (
                INSERT INTO rb_txn
                SELECT p.pos, p.id, {kind}, {c}->>'volunteer_id',
                       CASE WHEN {kind} IN ('{SERVICE_RECORD}', '{DEPOSIT}') THEN {c}->>'organization_id' END,
                       CASE WHEN {kind} = '{SERVICE_RECORD}' THEN {c}->>'category' END,
                       CASE WHEN {kind} = '{REDEMPTION}' THEN {c}->>'exchange_point_id' END,
                       NULLIF({c}->>'beneficiary_id', ''),
                       ({d}->>'minutes')::bigint,
                       CASE WHEN {kind} = '{REDEMPTION}' THEN (
                           SELECT COALESCE(SUM((line->>'quantity')::bigint), 0)
                           FROM jsonb_array_elements(COALESCE({d}->'lines', '[]'::jsonb)) AS line
                       ) ELSE 0 END,
                       {day_by_kind}, {_day(ts)}, {_us(ts)}, {c}->>'reverses', {d}->>'settled_by'
                FROM p WHERE p.topic = %(posted)s
            ), legs AS (
                INSERT INTO rb_leg
                SELECT p.pos, leg.ord, p.id, {kind}, {c}->>'reverses',
                       split_part(leg.value->>'account', ':', 2), split_part(leg.value->>'account', ':', 3),
                       (leg.value->>'minutes')::bigint, {_us(ts)}
                FROM p CROSS JOIN LATERAL jsonb_array_elements(p.j->'legs') WITH ORDINALITY AS leg(value, ord)
                WHERE p.topic = %(posted)s AND leg.value->>'account' ~ '^volunteer:[^:]*:(service|timebank)$'
            ), vol AS (
                INSERT INTO rb_vol
                SELECT p.id, p.j->>'region_code', COALESCE({_uuid("p.j->'organization_id'")}, '{UNAFFILIATED}'),
                       {_us(ts)}, {_day(ts)}
                FROM p WHERE p.topic = %(volunteer)s
            ), opened AS (
                INSERT INTO rb_open
                SELECT {_uuid("p.j->'volunteer_id'")}, {_us(ts)}, {_day(ts)} FROM p WHERE p.topic = %(opened)s
            ), org AS (
                INSERT INTO {self.t(ST_ORG)} (org, name, region)
                SELECT p.id, p.j->>'name', p.j->>'region_code' FROM p WHERE p.topic = %(org)s
            )
            INSERT INTO {self.t(ST_POINT)} (point, name, region)
            SELECT p.id, p.j->>'name', p.j->>'region_code' FROM p WHERE p.topic = %(point)s
            """,
            {"low": low, "high": high, **topics},
        )

    # Balances and statements (balances.py) ---------------------------------------------

    def _balances(self, cur: Any) -> None:
        # The transactions whose reversal takes back redeemed rather than earned minutes are
        # known by their type: service records and redemptions that moved a service book.
        cur.execute(
            "CREATE UNLOGGED TABLE rb_bal_txn AS "
            f"SELECT DISTINCT tid, type FROM rb_leg WHERE book = 'service' AND type IN ('{SERVICE_RECORD}', '{REDEMPTION}')"
        )
        cur.execute(f"INSERT INTO {self.t(BAL_TXN)} (transaction_id, type) SELECT tid, type FROM rb_bal_txn")
        cur.execute(
            f"""
            CREATE UNLOGGED TABLE rb_entry AS
            SELECT l.*,
                   CASE WHEN l.book = 'service' AND k.kind IS DISTINCT FROM '{REDEMPTION}' THEN l.minutes ELSE 0 END AS d_earned,
                   CASE WHEN l.book = 'service' AND k.kind = '{REDEMPTION}' THEN -l.minutes ELSE 0 END AS d_redeemed
            FROM rb_leg AS l
            LEFT JOIN rb_bal_txn AS o ON l.type = '{REVERSAL}' AND o.tid = l.reverses
            CROSS JOIN LATERAL (SELECT CASE WHEN l.type = '{REVERSAL}' THEN o.type ELSE l.type END AS kind) AS k
            """
        )
        cur.execute(
            f"""
            INSERT INTO {self.t(BAL_ENTRY)} (volunteer_id, book, seq, transaction_id, type, minutes,
                balance_after, earned_after, redeemed_after, recorded_us)
            SELECT vid, book, row_number() OVER (PARTITION BY vid, book ORDER BY pos, ord), tid, type, minutes,
                   CASE WHEN book = 'service' THEN earned_after - redeemed_after
                        ELSE SUM(minutes) OVER (PARTITION BY vid, book ORDER BY pos, ord) END,
                   earned_after, redeemed_after, recorded_us
            FROM (
                SELECT e.*,
                       SUM(d_earned) OVER w AS earned_after,
                       SUM(d_redeemed) OVER w AS redeemed_after
                FROM rb_entry AS e
                WINDOW w AS (PARTITION BY vid ORDER BY pos, ord)
            ) AS x
            """
        )
        cur.execute(
            f"""
            INSERT INTO {self.t(BAL_VOLUNTEER)} (volunteer_id, registered_us, earned, redeemed,
                timebank_opened_us, timebank_balance, service_seq, timebank_seq)
            SELECT ids.vid, COALESCE(v.registered_us, 0), COALESCE(t.earned, 0), COALESCE(t.redeemed, 0),
                   o.opened_us, COALESCE(t.timebank, 0), COALESCE(t.service_seq, 0), COALESCE(t.timebank_seq, 0)
            FROM (SELECT vid FROM rb_vol UNION SELECT vid FROM rb_open UNION SELECT vid FROM rb_entry) AS ids
            LEFT JOIN rb_vol AS v ON v.vid = ids.vid
            LEFT JOIN rb_open AS o ON o.vid = ids.vid
            LEFT JOIN (
                SELECT vid, SUM(d_earned) AS earned, SUM(d_redeemed) AS redeemed,
                       SUM(minutes) FILTER (WHERE book = 'timebank') AS timebank,
                       COUNT(*) FILTER (WHERE book = 'service') AS service_seq,
                       COUNT(*) FILTER (WHERE book = 'timebank') AS timebank_seq
                FROM rb_entry GROUP BY vid
            ) AS t ON t.vid = ids.vid
            """
        )
        for table in (BAL_ENTRY, BAL_TXN, BAL_VOLUNTEER):
            self._create_indexes(table, cur)

    # Statistics (stats.py) ------------------------------------------------------------

    def _facts(self, cur: Any) -> None:
        """What the statistics are summed from: rb_fact, rb_star, rb_key."""
        counted = ", ".join(f"'{k}'" for k in (SERVICE_RECORD, DEPOSIT, WITHDRAWAL, REDEMPTION))
        # The unreversed transactions that count in a figure, with their volunteer's region.
        cur.execute(
            f"""
            CREATE UNLOGGED TABLE rb_fact AS
            SELECT t.tid, t.type AS kind, t.vid, t.pos, t.day, t.recorded_day, t.minutes,
                   CASE t.type WHEN '{WITHDRAWAL}' THEN COALESCE(NULLIF(t.settled_by, ''), v.org)
                               WHEN '{REDEMPTION}' THEN NULL ELSE t.org END AS org,
                   t.category, t.point, t.items, t.beneficiary, v.region AS v_region, v.org AS v_org
            FROM rb_txn AS t JOIN rb_vol AS v ON v.vid = t.vid
            WHERE t.type IN ({counted})
              AND NOT EXISTS (SELECT 1 FROM rb_txn AS r WHERE r.type = '{REVERSAL}' AND r.reverses = t.tid)
            """
        )
        cur.execute("ANALYZE rb_fact")
        # Star levels: the running total of each volunteer's service records in recorded order.
        level = _star_level("earned", self.thresholds)
        cur.execute(
            f"""
            CREATE UNLOGGED TABLE rb_star AS
            SELECT vid, recorded_day, level, before FROM (
                SELECT vid, recorded_day, level, lag(level, 1, 0) OVER (PARTITION BY vid ORDER BY pos) AS before
                FROM (
                    SELECT vid, recorded_day, pos, {level} AS level
                    FROM (SELECT vid, recorded_day, pos, SUM(minutes) OVER (PARTITION BY vid ORDER BY pos) AS earned
                          FROM rb_fact WHERE kind = '{SERVICE_RECORD}') AS running
                ) AS levels
            ) AS steps
            WHERE level <> before
            """
        )
        self._region_keys(cur)
        self._contributions(cur)
        for table in (ST_ORG, ST_POINT):  # filled while the log was read
            self._create_indexes(table, cur)

    def _statistic_rows(self, cur: Any) -> None:
        """st_fact and st_volunteer."""
        cur.execute(
            f"""
            INSERT INTO {self.t(ST_FACT)} (transaction_id, kind, volunteer_id, pos, day, recorded_day,
                minutes, org, category, point, items, beneficiary)
            SELECT tid, kind, vid, pos, day, recorded_day, minutes, org, category, point, items, beneficiary
            FROM rb_fact
            """
        )
        earned = "COALESCE(s.earned, 0)"
        cur.execute(
            f"""
            INSERT INTO {self.t(ST_VOLUNTEER)} (volunteer_id, region, org, registered_day, earned, star)
            SELECT v.vid, v.region, v.org, v.registered_day, {earned}, {_star_level(earned, self.thresholds)}
            FROM rb_vol AS v
            LEFT JOIN (SELECT vid, SUM(minutes) AS earned FROM rb_fact WHERE kind = '{SERVICE_RECORD}' GROUP BY vid) AS s
              ON s.vid = v.vid
            """
        )
        for table in (ST_FACT, ST_VOLUNTEER):
            self._create_indexes(table, cur)

    def _region_keys(self, cur: Any) -> None:
        """rb_key: the keys every region in use rolls up to, down to county level (depth 3) and
        to the exact code (depth 5), joined by hash rather than computed per row."""
        cur.execute(f"CREATE UNLOGGED TABLE rb_key (region {TEXT}, depth int, lvl bigint, anc {TEXT})")
        for depth in (ROLLUP_LEVELS, ALL_LEVELS):
            keys, condition = _region_keys("r.region", depth)
            cur.execute(
                f"INSERT INTO rb_key SELECT r.region, {depth}, k.lvl, k.anc "
                f"FROM (SELECT region FROM rb_vol UNION SELECT region FROM {self.t(ST_POINT)}) AS r "
                f"{keys} WHERE {condition}"
            )
        cur.execute("ANALYZE rb_key")

    def _contributions(self, cur: Any) -> None:
        """rb_contrib: what each registration, account, fact and change of star level adds to
        the daily figures of its region and groups, before rolling up by region."""

        def vector(**values: str) -> str:
            return ", ".join(values.get(m, "0") for m in DAY_MEASURES)

        stars = vector(**{f"star{k}": f"(s.level = {k})::int - (s.before = {k})::int" for k in range(1, 6)})
        sources = [
            # registrations and time-bank accounts: the volunteer's region and organisation
            f"SELECT v.region, g.grp, v.registered_day, {vector(volunteers='1')} "
            "FROM rb_vol AS v CROSS JOIN LATERAL (VALUES (''), ('o:' || v.org)) AS g(grp)",
            f"SELECT v.region, g.grp, o.opened_day, {vector(timebank_accounts='1')} "
            "FROM rb_open AS o JOIN rb_vol AS v ON v.vid = o.vid "
            "CROSS JOIN LATERAL (VALUES (''), ('o:' || v.org)) AS g(grp)",
            f"SELECT f.v_region, g.grp, f.day, {vector(service_records='1', service_minutes='f.minutes::int')} "
            "FROM rb_fact AS f CROSS JOIN LATERAL (VALUES (''), ('o:' || f.org), ('c:' || f.category)) AS g(grp) "
            f"WHERE f.kind = '{SERVICE_RECORD}'",
            f"SELECT f.v_region, g.grp, f.day, {vector(deposited_minutes='f.minutes::int')} "
            "FROM rb_fact AS f CROSS JOIN LATERAL (VALUES (''), ('o:' || f.org)) AS g(grp) "
            f"WHERE f.kind = '{DEPOSIT}'",
            f"SELECT f.v_region, g.grp, f.day, {vector(withdrawn_minutes='f.minutes::int')} "
            "FROM rb_fact AS f CROSS JOIN LATERAL (VALUES (''), ('o:' || f.org)) AS g(grp) "
            f"WHERE f.kind = '{WITHDRAWAL}'",
            # a redemption counts under the exchange point's region
            f"SELECT p.region, g.grp, f.day, {vector(redemptions='1', redeemed_minutes='f.minutes::int', items='f.items::int')} "
            f"FROM rb_fact AS f JOIN {self.t(ST_POINT)} AS p ON p.point = f.point "
            "CROSS JOIN LATERAL (VALUES (''), ('p:' || f.point), ('o:' || f.v_org)) AS g(grp) "
            f"WHERE f.kind = '{REDEMPTION}'",
            # a change of star level, on the day the record that made it was recorded
            f"SELECT v.region, g.grp, s.recorded_day, {stars} "
            "FROM rb_star AS s JOIN rb_vol AS v ON v.vid = s.vid "
            "CROSS JOIN LATERAL (VALUES (''), ('o:' || v.org)) AS g(grp)",
        ]
        # int4 contributions: their SUM is a bigint (a SUM of bigints would be a slow numeric).
        columns = ", ".join(f"{m} int" for m in DAY_MEASURES)
        cur.execute(f"CREATE UNLOGGED TABLE rb_contrib (region {TEXT}, grp {TEXT}, day int, {columns})")
        cur.execute(f"INSERT INTO rb_contrib {' UNION ALL '.join(sources)}")
        cur.execute("ANALYZE rb_contrib")

    def _days(self, levels: Sequence[int], cur: Any) -> None:
        """The st_day rows of some region levels (of dims.region_keys: 0..3 and exact, 10+)."""
        columns = ", ".join(DAY_MEASURES)
        sums = ", ".join(f"SUM(c.{m})" for m in DAY_MEASURES)
        nonzero = " OR ".join(f"SUM(c.{m}) <> 0" for m in DAY_MEASURES)
        wanted = " OR ".join(f"k.lvl >= {EXACT}" if lvl >= EXACT else f"k.lvl = {lvl}" for lvl in levels)
        cur.execute(
            f"""
            INSERT INTO {self.t(ST_DAY)} (lvl, anc, grp, day, {columns})
            SELECT k.lvl, k.anc, c.grp, c.day, {sums}
            FROM rb_contrib AS c
            JOIN rb_key AS k ON k.region = c.region AND k.depth = {ROLLUP_LEVELS} AND ({wanted})
            GROUP BY k.lvl, k.anc, c.grp, c.day
            HAVING {nonzero}
            """
        )

    def _pairs(self, kind: str, cur: Any) -> None:
        """The st_pair rows of one kind of scope: active volunteers' "" (any service), "o:"
        (an organisation), "c:" (a category), or beneficiaries' ("b")."""
        # Occurrences of (subject, scope, day); each remembers its previous day in the scope.
        if kind == BENEFICIARY:
            occurrences = (
                f"SELECT f.beneficiary, k.lvl || '|' || k.anc || '|' || g.grp, f.day, '' "
                f"FROM rb_fact AS f CROSS JOIN LATERAL (VALUES (''), ('o:' || f.org)) AS g(grp) "
                f"JOIN rb_key AS k ON k.region = f.v_region AND k.depth = {ALL_LEVELS} "
                f"WHERE f.kind IN ('{DEPOSIT}', '{WITHDRAWAL}') AND f.beneficiary IS NOT NULL"
            )
        else:
            scope = {"": "''", "o:": "'o:' || f.org", "c:": "'c:' || f.category"}[kind]
            kinds = f"'{SERVICE_RECORD}'" if kind == "c:" else f"'{SERVICE_RECORD}', '{DEPOSIT}'"
            occurrences = f"SELECT f.vid, {scope}, f.day, f.v_region FROM rb_fact AS f WHERE f.kind IN ({kinds})"
        measure = BENEFICIARY if kind == BENEFICIARY else ACTIVE
        # One sort serves the grouping and the window (a hash aggregate would sort again).
        cur.execute("SET LOCAL enable_hashagg = off")
        cur.execute(
            f"""
            INSERT INTO {self.t(ST_PAIR)} (measure, subject, scope, day, n, prev_day, region)
            SELECT '{measure}', subject, scope, day, COUNT(*),
                   COALESCE(lag(day) OVER (PARTITION BY subject, scope ORDER BY day), 0), MIN(region)
            FROM ({occurrences}) AS o(subject, scope, day, region)
            GROUP BY subject, scope, day
            """
        )

    def _counts(self, measure: str, cur: Any) -> None:
        """st_count from st_pair, per region key: 'a' of the whole-ledger scope down to county
        level (and exact codes above it), 'b' of the scopes without an organisation."""
        if measure == ACTIVE:
            pairs = (
                f"SELECT k.lvl, k.anc, p.day, p.prev_day FROM {self.t(ST_PAIR)} AS p "
                f"JOIN rb_key AS k ON k.region = p.region AND k.depth = {ROLLUP_LEVELS} "
                f"WHERE p.measure = '{ACTIVE}' AND p.scope = '' AND k.lvl < {EXACT + ROLLUP_LEVELS}"
            )
        else:
            pairs = (
                f"SELECT split_part(scope, '|', 1)::bigint, split_part(scope, '|', 2), day, prev_day "
                f"FROM {self.t(ST_PAIR)} WHERE measure = '{BENEFICIARY}' AND split_part(scope, '|', 3) = ''"
            )
        cur.execute(
            f"""
            INSERT INTO {self.t(ST_COUNT)} (measure, lvl, anc, day, prev_day, n)
            SELECT '{measure}', lvl, anc, day, prev_day, COUNT(*)
            FROM ({pairs}) AS c(lvl, anc, day, prev_day)
            GROUP BY lvl, anc, day, prev_day
            """
        )
