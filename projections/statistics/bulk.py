"""The statistics' part of a bulk rebuild on PostgreSQL (`projections/engine/bulk.py`): the
rule of `projection.py` restated in set-based SQL. The unreversed counted transactions
(`rb_st_fact`) and each volunteer's changes of star level (`rb_st_star`) are computed once;
every registration, account, fact and change of star level is spread over its region's keys
and groups (`rb_st_contrib`) and summed into the daily figures; window functions give each
occurrence its previous day for the distinct counts.

Its constants (transaction types, the day's offset from UTC, star thresholds, region levels,
group prefixes, measure codes) come from `ledger/vocabulary.py` and this folder's modules;
`tests/projections/statistics` holds its tables equal to a follower's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from ledger.exchange_point import ExchangePoint
from ledger.organization import Organization
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.vocabulary import LOCAL_DAY_UTC_OFFSET, STAR_LEVELS, UNAFFILIATED, TransactionType
from ledger.volunteer import Volunteer
from projections.engine.bulk import PARSED, TEXT, BulkLoad, Phase, day_at_offset, sql_text, stored_uuid
from projections.statistics.dimensions import DEEPEST_LEVEL, DEEPEST_ROLLUP, EXACT, LENGTH_OF_LEVEL, WHOLE_LEDGER
from projections.statistics.tables import (
    ACTIVE_VOLUNTEERS,
    ALL,
    BENEFICIARIES,
    CATEGORY_GROUP,
    DAY_MEASURES,
    EXCHANGE_POINT_GROUP,
    ORGANIZATION_GROUP,
    SCOPE_SEPARATOR,
    ST_COUNT,
    ST_DAY,
    ST_FACT,
    ST_ORG,
    ST_PAIR,
    ST_POINT,
    ST_VOLUNTEER,
)

SERVICE_RECORD = sql_text(TransactionType.SERVICE_RECORD)
DEPOSIT = sql_text(TransactionType.TIMEBANK_DEPOSIT)
WITHDRAWAL = sql_text(TransactionType.TIMEBANK_WITHDRAWAL)
REDEMPTION = sql_text(TransactionType.REDEMPTION)
REVERSAL = sql_text(TransactionType.REVERSAL)
COUNTED = ", ".join((SERVICE_RECORD, DEPOSIT, WITHDRAWAL, REDEMPTION))
ACTIVE, BENEFICIARY = sql_text(ACTIVE_VOLUNTEERS), sql_text(BENEFICIARIES)
SEPARATOR = sql_text(SCOPE_SEPARATOR)
ALL_GROUPS = sql_text(ALL)


def group_of(prefix: str, column: str) -> str:
    """A group key (`grp`) in SQL: a group prefix and a column's value."""
    return f"{sql_text(prefix)} || {column}"


def local_day(ts: str) -> str:
    """The China Standard Time day (yyyymmdd) of a timestamptz, as `vocabulary.local_day`."""
    return day_at_offset(ts, LOCAL_DAY_UTC_OFFSET)


def star_level(earned: str, thresholds: Sequence[int]) -> str:
    """`vocabulary.star_level` of an expression of earned minutes: the thresholds reached."""
    if not thresholds:
        return "0"
    return "(" + " + ".join(f"({earned} >= {int(t)})::int" for t in thresholds) + ")"


def region_keys(region: str, deepest: int, alias: str = "k") -> tuple[str, str]:
    """A LATERAL join with the rows of `dimensions.region_keys(region, deepest)`, and the
    condition that keeps the right ones: the whole ledger (0, ''), the enclosing regions down to
    `deepest`, and (EXACT + level, the code itself). Columns `lvl` (level), `anc` (ancestor)."""
    level = "CASE length({r}) " + " ".join(f"WHEN {n} THEN {lvl}" for lvl, n in LENGTH_OF_LEVEL.items()) + " END"
    rows = [f"({WHOLE_LEDGER}, '')"] + [f"({lvl}, left({{r}}, {LENGTH_OF_LEVEL[lvl]}))" for lvl in range(1, deepest + 1)]
    rows.append(f"({EXACT} + {level}, {{r}})")
    needs = " ".join(f"WHEN {lvl} THEN {LENGTH_OF_LEVEL[lvl]}" for lvl in range(1, deepest + 1))
    values = ", ".join(rows).format(r=region)
    join = f"CROSS JOIN LATERAL (VALUES {values}) AS {alias}(lvl, anc)"
    condition = (
        f"({alias}.lvl = {WHOLE_LEDGER} OR {alias}.lvl >= {EXACT} OR length({region}) >= CASE {alias}.lvl {needs} END)"
    )
    return join, condition


class StatisticsBulk:
    name = "stats"
    topics: Mapping[str, type] = {
        "transaction_posted": Transaction.Posted,
        "volunteer_registered": Volunteer.Registered,
        "timebank_opened": TimebankAccount.Opened,
        "organization_registered": Organization.Registered,
        "exchange_point_registered": ExchangePoint.Registered,
    }

    def __init__(self, thresholds: Sequence[int]) -> None:
        self.thresholds = tuple(thresholds)

    def staging(self) -> Mapping[str, str]:
        return {
            "rb_st_txn": (
                f"pos bigint, tid {TEXT}, type {TEXT}, vid {TEXT}, org {TEXT}, category {TEXT}, point {TEXT}, "
                f"beneficiary {TEXT}, minutes bigint, items bigint, day int, recorded_day int, reverses {TEXT}, "
                f"settled_by {TEXT}"
            ),
            "rb_st_volunteer": f"vid {TEXT}, region {TEXT}, org {TEXT}, registered_day int",
            "rb_st_opened": f"vid {TEXT}, opened_day int",
        }

    def extraction(self, load: BulkLoad) -> Sequence[str]:
        p = PARSED
        ts, c, d, kind = f"{p}.ts", f"{p}.j->'content'", f"{p}.j->'details'", f"{p}.j->>'type'"
        started, served = f"({c}->>'started_at')::timestamptz", f"({c}->>'served_at')::timestamptz"
        # A service record counts on the day it started, a deposit on the day it was served,
        # anything else on the day it was recorded.
        day_by_kind = (
            f"CASE {kind} WHEN {SERVICE_RECORD} THEN {local_day(started)} "
            f"WHEN {DEPOSIT} THEN {local_day(served)} ELSE {local_day(ts)} END"
        )
        return [
            f"""
            INSERT INTO rb_st_txn
            SELECT {p}.pos, {p}.id, {kind}, {c}->>'volunteer_id',
                   CASE WHEN {kind} IN ({SERVICE_RECORD}, {DEPOSIT}) THEN {c}->>'organization_id' END,
                   CASE WHEN {kind} = {SERVICE_RECORD} THEN {c}->>'category' END,
                   CASE WHEN {kind} = {REDEMPTION} THEN {c}->>'exchange_point_id' END,
                   NULLIF({c}->>'beneficiary_id', ''),
                   ({d}->>'minutes')::bigint,
                   CASE WHEN {kind} = {REDEMPTION} THEN (
                       SELECT COALESCE(SUM((line->>'quantity')::bigint), 0)
                       FROM jsonb_array_elements(COALESCE({d}->'lines', '[]'::jsonb)) AS line
                   ) ELSE 0 END,
                   {day_by_kind}, {local_day(ts)}, {c}->>'reverses', {d}->>'settled_by'
            FROM {p} WHERE {p}.topic = %(transaction_posted)s
            """,
            f"""
            INSERT INTO rb_st_volunteer
            SELECT {p}.id, {p}.j->>'region_code',
                   COALESCE({stored_uuid(f"{p}.j->'organization_id'")}, {sql_text(UNAFFILIATED)}), {local_day(ts)}
            FROM {p} WHERE {p}.topic = %(volunteer_registered)s
            """,
            f"""
            INSERT INTO rb_st_opened
            SELECT {stored_uuid(f"{p}.j->'volunteer_id'")}, {local_day(ts)} FROM {p} WHERE {p}.topic = %(timebank_opened)s
            """,
            f"""
            INSERT INTO {load.table(ST_ORG)} (org, name, region)
            SELECT {p}.id, {p}.j->>'name', {p}.j->>'region_code' FROM {p} WHERE {p}.topic = %(organization_registered)s
            """,
            f"""
            INSERT INTO {load.table(ST_POINT)} (point, name, region)
            SELECT {p}.id, {p}.j->>'name', {p}.j->>'region_code' FROM {p} WHERE {p}.topic = %(exchange_point_registered)s
            """,
        ]

    def phases(self, load: BulkLoad) -> Sequence[Phase]:
        # Longest first within a phase, so that the workers finish at about the same time.
        # A table's indexes are built by the step that fills it where nothing else writes it.
        step = partial  # a step: a method with its arguments, but for the cursor
        return [
            Phase("summing", [step(self.facts, load)]),
            Phase("summing", [
                step(self.days, load, (EXACT,)),
                step(self.pairs, load, CATEGORY_GROUP), step(self.pairs, load, ORGANIZATION_GROUP),
                step(self.pairs, load, ALL),
                step(self.days, load, (WHOLE_LEDGER, 1, 2, 3)), step(self.pairs, load, BENEFICIARIES),
                step(self.statistic_rows, load),
            ]),
            Phase("indexing", [
                step(self.counts, load, ACTIVE_VOLUNTEERS), step(load.unique_key, ST_PAIR),
                step(load.secondary, ST_PAIR), step(load.unique_key, ST_DAY),
                step(self.counts, load, BENEFICIARIES),
            ]),
            Phase("indexing", [step(load.unique_key, ST_COUNT)]),
        ]

    def facts(self, load: BulkLoad, cur: Any) -> None:
        """What the statistics are summed from: rb_st_fact, rb_st_star, rb_st_key, rb_st_contrib."""
        # The unreversed transactions that count in a figure, with their volunteer's region.
        cur.execute(
            f"""
            CREATE UNLOGGED TABLE rb_st_fact AS
            SELECT t.tid, t.type AS kind, t.vid, t.pos, t.day, t.recorded_day, t.minutes,
                   CASE t.type WHEN {WITHDRAWAL} THEN COALESCE(NULLIF(t.settled_by, ''), v.org)
                               WHEN {REDEMPTION} THEN NULL ELSE t.org END AS org,
                   t.category, t.point, t.items, t.beneficiary, v.region AS v_region, v.org AS v_org
            FROM rb_st_txn AS t JOIN rb_st_volunteer AS v ON v.vid = t.vid
            WHERE t.type IN ({COUNTED})
              AND NOT EXISTS (SELECT 1 FROM rb_st_txn AS r WHERE r.type = {REVERSAL} AND r.reverses = t.tid)
            """
        )
        cur.execute("ANALYZE rb_st_fact")
        # Star levels: the running total of each volunteer's service records in recorded order.
        cur.execute(
            f"""
            CREATE UNLOGGED TABLE rb_st_star AS
            SELECT vid, recorded_day, level, before FROM (
                SELECT vid, recorded_day, level, lag(level, 1, 0) OVER (PARTITION BY vid ORDER BY pos) AS before
                FROM (
                    SELECT vid, recorded_day, pos, {star_level("earned", self.thresholds)} AS level
                    FROM (SELECT vid, recorded_day, pos, SUM(minutes) OVER (PARTITION BY vid ORDER BY pos) AS earned
                          FROM rb_st_fact WHERE kind = {SERVICE_RECORD}) AS running
                ) AS levels
            ) AS steps
            WHERE level <> before
            """
        )
        self.region_keys(load, cur)
        self.contributions(load, cur)
        for table in (ST_ORG, ST_POINT):  # filled while the log was read
            load.create_indexes(table, cur)

    def statistic_rows(self, load: BulkLoad, cur: Any) -> None:
        """st_fact and st_volunteer."""
        cur.execute(
            f"""
            INSERT INTO {load.table(ST_FACT)} (transaction_id, kind, volunteer_id, pos, day, recorded_day,
                minutes, org, category, point, items, beneficiary)
            SELECT tid, kind, vid, pos, day, recorded_day, minutes, org, category, point, items, beneficiary
            FROM rb_st_fact
            """
        )
        earned = "COALESCE(s.earned, 0)"
        cur.execute(
            f"""
            INSERT INTO {load.table(ST_VOLUNTEER)} (volunteer_id, region, org, registered_day, earned, star)
            SELECT v.vid, v.region, v.org, v.registered_day, {earned}, {star_level(earned, self.thresholds)}
            FROM rb_st_volunteer AS v
            LEFT JOIN (SELECT vid, SUM(minutes) AS earned FROM rb_st_fact WHERE kind = {SERVICE_RECORD} GROUP BY vid) AS s
              ON s.vid = v.vid
            """
        )
        for table in (ST_FACT, ST_VOLUNTEER):
            load.create_indexes(table, cur)

    @staticmethod
    def region_keys(load: BulkLoad, cur: Any) -> None:
        """rb_st_key: the keys every region in use rolls up to, down to county level (depth
        DEEPEST_ROLLUP) and to the exact code (depth DEEPEST_LEVEL), joined by hash rather than
        computed per row."""
        cur.execute(f"CREATE UNLOGGED TABLE rb_st_key (region {TEXT}, depth int, lvl bigint, anc {TEXT})")
        for depth in (DEEPEST_ROLLUP, DEEPEST_LEVEL):
            keys, condition = region_keys("r.region", depth)
            cur.execute(
                f"INSERT INTO rb_st_key SELECT r.region, {depth}, k.lvl, k.anc "
                f"FROM (SELECT region FROM rb_st_volunteer UNION SELECT region FROM {load.table(ST_POINT)}) AS r "
                f"{keys} WHERE {condition}"
            )
        cur.execute("ANALYZE rb_st_key")

    @staticmethod
    def contributions(load: BulkLoad, cur: Any) -> None:
        """rb_st_contrib: what each registration, account, fact and change of star level adds
        to the daily figures of its region and groups, before rolling up by region."""

        def vector(**values: str) -> str:
            return ", ".join(values.get(m, "0") for m in DAY_MEASURES)

        def groups(*keys: str) -> str:
            return "CROSS JOIN LATERAL (VALUES " + ", ".join(f"({k})" for k in keys) + ") AS g(grp)"

        organization = group_of(ORGANIZATION_GROUP, "v.org")
        stars = vector(**{f"star{k}": f"(s.level = {k})::int - (s.before = {k})::int" for k in STAR_LEVELS})
        sources = [
            # registrations and time-bank accounts: the volunteer's region and organisation
            f"SELECT v.region, g.grp, v.registered_day, {vector(volunteers='1')} "
            f"FROM rb_st_volunteer AS v {groups(ALL_GROUPS, organization)}",
            f"SELECT v.region, g.grp, o.opened_day, {vector(timebank_accounts='1')} "
            f"FROM rb_st_opened AS o JOIN rb_st_volunteer AS v ON v.vid = o.vid {groups(ALL_GROUPS, organization)}",
            f"SELECT f.v_region, g.grp, f.day, {vector(service_records='1', service_minutes='f.minutes::int')} "
            f"FROM rb_st_fact AS f "
            f"{groups(ALL_GROUPS, group_of(ORGANIZATION_GROUP, 'f.org'), group_of(CATEGORY_GROUP, 'f.category'))} "
            f"WHERE f.kind = {SERVICE_RECORD}",
            f"SELECT f.v_region, g.grp, f.day, {vector(deposited_minutes='f.minutes::int')} "
            f"FROM rb_st_fact AS f {groups(ALL_GROUPS, group_of(ORGANIZATION_GROUP, 'f.org'))} "
            f"WHERE f.kind = {DEPOSIT}",
            f"SELECT f.v_region, g.grp, f.day, {vector(withdrawn_minutes='f.minutes::int')} "
            f"FROM rb_st_fact AS f {groups(ALL_GROUPS, group_of(ORGANIZATION_GROUP, 'f.org'))} "
            f"WHERE f.kind = {WITHDRAWAL}",
            # a redemption counts under the exchange point's region
            f"SELECT p.region, g.grp, f.day, {vector(redemptions='1', redeemed_minutes='f.minutes::int', items='f.items::int')} "
            f"FROM rb_st_fact AS f JOIN {load.table(ST_POINT)} AS p ON p.point = f.point "
            f"{groups(ALL_GROUPS, group_of(EXCHANGE_POINT_GROUP, 'f.point'), group_of(ORGANIZATION_GROUP, 'f.v_org'))} "
            f"WHERE f.kind = {REDEMPTION}",
            # a change of star level, on the day the record that made it was recorded
            f"SELECT v.region, g.grp, s.recorded_day, {stars} "
            f"FROM rb_st_star AS s JOIN rb_st_volunteer AS v ON v.vid = s.vid {groups(ALL_GROUPS, organization)}",
        ]
        # int4 contributions: their SUM is a bigint (a SUM of bigints would be a slow numeric).
        columns = ", ".join(f"{m} int" for m in DAY_MEASURES)
        cur.execute(f"CREATE UNLOGGED TABLE rb_st_contrib (region {TEXT}, grp {TEXT}, day int, {columns})")
        cur.execute(f"INSERT INTO rb_st_contrib {' UNION ALL '.join(sources)}")
        cur.execute("ANALYZE rb_st_contrib")

    @staticmethod
    def days(load: BulkLoad, levels: Sequence[int], cur: Any) -> None:
        """The st_day rows of some region levels (of dimensions.region_keys: 0..3 and exact, 10+)."""
        columns = ", ".join(DAY_MEASURES)
        sums = ", ".join(f"SUM(c.{m})" for m in DAY_MEASURES)
        nonzero = " OR ".join(f"SUM(c.{m}) <> 0" for m in DAY_MEASURES)
        wanted = " OR ".join(f"k.lvl >= {EXACT}" if level >= EXACT else f"k.lvl = {level}" for level in levels)
        cur.execute(
            f"""
            INSERT INTO {load.table(ST_DAY)} (lvl, anc, grp, day, {columns})
            SELECT k.lvl, k.anc, c.grp, c.day, {sums}
            FROM rb_st_contrib AS c
            JOIN rb_st_key AS k ON k.region = c.region AND k.depth = {DEEPEST_ROLLUP} AND ({wanted})
            GROUP BY k.lvl, k.anc, c.grp, c.day
            HAVING {nonzero}
            """
        )

    @staticmethod
    def pairs(load: BulkLoad, scopes: str, cur: Any) -> None:
        """The st_pair rows of one kind of scope: active volunteers' ALL (any service), an
        organisation's or a category's group, or beneficiaries' (BENEFICIARIES)."""
        # Occurrences of (subject, scope, day); each remembers its previous day in the scope.
        if scopes == BENEFICIARIES:
            scope = f"k.lvl || {SEPARATOR} || k.anc || {SEPARATOR} || g.grp"
            occurrences = (
                f"SELECT f.beneficiary, {scope}, f.day, '' "
                f"FROM rb_st_fact AS f CROSS JOIN LATERAL (VALUES ({ALL_GROUPS}), ({group_of(ORGANIZATION_GROUP, 'f.org')})) AS g(grp) "
                f"JOIN rb_st_key AS k ON k.region = f.v_region AND k.depth = {DEEPEST_LEVEL} "
                f"WHERE f.kind IN ({DEPOSIT}, {WITHDRAWAL}) AND f.beneficiary IS NOT NULL"
            )
            measure = BENEFICIARY
        else:
            scope = {
                ALL: ALL_GROUPS,
                ORGANIZATION_GROUP: group_of(ORGANIZATION_GROUP, "f.org"),
                CATEGORY_GROUP: group_of(CATEGORY_GROUP, "f.category"),
            }[scopes]
            # Service records make a volunteer active, and deposits too (not by category).
            kinds = SERVICE_RECORD if scopes == CATEGORY_GROUP else f"{SERVICE_RECORD}, {DEPOSIT}"
            occurrences = f"SELECT f.vid, {scope}, f.day, f.v_region FROM rb_st_fact AS f WHERE f.kind IN ({kinds})"
            measure = ACTIVE
        # One sort serves the grouping and the window (a hash aggregate would sort again).
        cur.execute("SET LOCAL enable_hashagg = off")
        cur.execute(
            f"""
            INSERT INTO {load.table(ST_PAIR)} (measure, subject, scope, day, n, prev_day, region)
            SELECT {measure}, subject, scope, day, COUNT(*),
                   COALESCE(lag(day) OVER (PARTITION BY subject, scope ORDER BY day), 0), MIN(region)
            FROM ({occurrences}) AS o(subject, scope, day, region)
            GROUP BY subject, scope, day
            """
        )

    @staticmethod
    def counts(load: BulkLoad, measure: str, cur: Any) -> None:
        """st_count from st_pair, per region key: active volunteers of the whole-ledger scope
        down to county level (and exact codes above it), beneficiaries of the scopes without a
        group."""
        if measure == ACTIVE_VOLUNTEERS:
            pairs = (
                f"SELECT k.lvl, k.anc, p.day, p.prev_day FROM {load.table(ST_PAIR)} AS p "
                f"JOIN rb_st_key AS k ON k.region = p.region AND k.depth = {DEEPEST_ROLLUP} "
                f"WHERE p.measure = {ACTIVE} AND p.scope = {ALL_GROUPS} AND k.lvl < {EXACT + DEEPEST_ROLLUP}"
            )
        else:
            pairs = (
                f"SELECT split_part(scope, {SEPARATOR}, 1)::bigint, split_part(scope, {SEPARATOR}, 2), day, prev_day "
                f"FROM {load.table(ST_PAIR)} WHERE measure = {BENEFICIARY} AND split_part(scope, {SEPARATOR}, 3) = {ALL_GROUPS}"
            )
        cur.execute(
            f"""
            INSERT INTO {load.table(ST_COUNT)} (measure, lvl, anc, day, prev_day, n)
            SELECT {sql_text(measure)}, lvl, anc, day, prev_day, COUNT(*)
            FROM ({pairs}) AS c(lvl, anc, day, prev_day)
            GROUP BY lvl, anc, day, prev_day
            """
        )
