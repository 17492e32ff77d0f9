"""The statistics' answers: summaries and breakdowns (SPEC §3), summed from the daily figures
(`st_day`) and the distinct counts (`st_count`, `st_pair`) of the current generation.

A province summary reads one `st_day` row per day with figures plus a few hundred `st_count`
rows: it grows with the number of days, not of events. Below county level, figures and active
volunteers are summed from the rows of each exact region code under the prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.errors import ValidationError
from ledger.vocabulary import STAR_LEVELS, UNAFFILIATED
from projections.engine.reads import Reads
from projections.engine.store import Reader
from projections.statistics.dimensions import (
    DEEPEST_LEVEL,
    DEEPEST_ROLLUP,
    EXACT,
    LENGTH_OF_LEVEL,
    WHOLE_LEDGER,
    check_dates,
    check_level,
    check_region,
    level_of_code,
    month_key,
    months_between,
    region_name,
)
from projections.statistics.tables import (
    ACTIVE_VOLUNTEERS,
    ALL,
    BENEFICIARIES,
    CATEGORY_GROUP,
    CUMULATIVE_MEASURES,
    DAY_MEASURES,
    EXCHANGE_POINT_GROUP,
    ORGANIZATION_GROUP,
    ST_COUNT,
    ST_DAY,
    ST_ORG,
    ST_PAIR,
    ST_POINT,
    beneficiary_scope,
)

BREAKDOWNS = ("region", "organization", "category", "exchange_point", "month")
GROUP_OF_BREAKDOWN = {"organization": ORGANIZATION_GROUP, "category": CATEGORY_GROUP, "exchange_point": EXCHANGE_POINT_GROUP}
MAX_MONTHS = 1200
FIGURES = (
    "volunteers", "active_volunteers", "service_records", "service_minutes", "redemptions",
    "redeemed_minutes", "timebank_accounts", "timebank_deposited_minutes",
    "timebank_withdrawn_minutes", "beneficiaries",
)
UNAFFILIATED_NAME = "未隶属组织"


@dataclass(frozen=True)
class RegionRows:
    """Which rows of a region-keyed table (`lvl`, `anc`) answer for a region: the rolled-up rows
    of one code (`under` False: level `first_level`, ancestor `code`), or the exact rows of every
    code under a prefix (`under` True: levels first_level..last_level, ancestor starting with `code`)."""

    first_level: int
    last_level: int
    code: str
    under: bool


@dataclass(frozen=True)
class Grouping:
    """How rows are grouped: "none"; "region" (by `anc`), "region_prefix" (by its first
    `length` characters), "group" (by `grp`), "scope" (st_pair's), or "month" (of `day`)."""

    kind: str
    length: int = 0


NOT_GROUPED = Grouping("none")


def rows_for(region: str | None, deepest_rolled_up: int) -> RegionRows:
    """The rows of a region: its rolled-up rows if its level is rolled up, else its exact rows."""
    if region is None:
        return RegionRows(WHOLE_LEDGER, WHOLE_LEDGER, "", False)
    level = level_of_code(region)
    if level <= deepest_rolled_up:
        return RegionRows(level, level, region, False)
    return RegionRows(EXACT + level, EXACT + DEEPEST_LEVEL, region, True)


def _prefix_end(prefix: str) -> str:
    """The smallest string above every string starting with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


# Reading the tables -----------------------------------------------------------------------------


def _where_region(rows: RegionRows) -> tuple[str, list[Any]]:
    if not rows.under:
        return "lvl = ? AND anc = ?", [rows.first_level, rows.code]
    # Levels listed, not a range: each is one descent of the (lvl, anc, ...) index.
    levels = list(range(rows.first_level, rows.last_level + 1))
    marks = ", ".join("?" for _ in levels)
    # ':' sorts after every digit: [code, code + ':') holds exactly the codes under it.
    return f"lvl IN ({marks}) AND anc >= ? AND anc < ?", [*levels, rows.code, rows.code + ":"]


def _where_group(rows: RegionRows, group: str, group_prefix: bool) -> tuple[str, list[Any]]:
    sql, params = _where_region(rows)
    if group_prefix:
        sql += " AND grp >= ? AND grp < ?"
        params += [group, _prefix_end(group)]
    else:
        sql += " AND grp = ?"
        params.append(group)
    return sql, params


def _grouped_by(grouping: Grouping, region_column: str) -> str | None:
    return {
        "none": None,
        "region": region_column,
        "region_prefix": f"SUBSTR({region_column}, 1, {int(grouping.length)})",
        "group": "grp",
        "scope": "scope",
        "month": "day / 100",
    }[grouping.kind]


def _threshold(grouping: Grouping, first_day: int) -> tuple[str, list[Any]]:
    """A pair counts if its previous day is before the start of its period: `first_day`,
    or for a month group the later of `first_day` and the month's first day."""
    if grouping.kind == "month":
        start = "(day / 100) * 100 + 1"
        return f"CASE WHEN {start} > ? THEN {start} ELSE ? END", [first_day, first_day]
    return "?", [max(first_day, 1)]


def day_sums(
    reader: Reader, rows: RegionRows, group: str, group_prefix: bool, first_day: int, last_day: int,
    grouping: Grouping,
) -> dict[Any, dict[str, int]]:
    """Per group: period measures summed over [first_day, last_day], cumulative measures
    summed over every day up to last_day (for month grouping: per month, both)."""
    where, params = _where_group(rows, group, group_prefix)
    sums, sum_params = [], []
    for m in DAY_MEASURES:
        if m in CUMULATIVE_MEASURES:
            sums.append(f"SUM({m})")
        else:
            sums.append(f"SUM(CASE WHEN day >= ? THEN {m} ELSE 0 END)")
            sum_params.append(first_day)
    by = _grouped_by(grouping, "anc")
    select = ", ".join(([by] if by else ["NULL"]) + sums)
    text = f"SELECT {select} FROM {reader.table(ST_DAY)} WHERE {where} AND day <= ?"
    if by:
        text += f" GROUP BY {by}"
    out: dict[Any, dict[str, int]] = {}
    for row in reader.rows(text, [*sum_params, *params, last_day]):
        if row[1] is None:  # no rows at all
            continue
        out[row[0]] = {m: int(v or 0) for m, v in zip(DAY_MEASURES, row[1:], strict=True)}
    return out


def distinct_counts(
    reader: Reader, measure: str, rows: RegionRows, first_day: int, last_day: int, grouping: Grouping
) -> dict[Any, int]:
    """Distinct subjects with an occurrence in [first_day, last_day], from the rolled-up
    counts (st_count) of the whole-ledger scope."""
    where, params = _where_region(rows)
    by = _grouped_by(grouping, "anc")
    threshold, threshold_params = _threshold(grouping, first_day)
    text = (
        f"SELECT {by or 'NULL'}, SUM(n) FROM {reader.table(ST_COUNT)} WHERE measure = ? AND {where} "
        f"AND day >= ? AND day <= ? AND prev_day < {threshold}"
    )
    if by:
        text += f" GROUP BY {by}"
    found = reader.rows(text, [measure, *params, first_day, last_day, *threshold_params])
    return {k: int(v) for k, v in found if v is not None}


def pair_counts(
    reader: Reader, measure: str, scope: str, scope_prefix: bool, region: str | None,
    first_day: int, last_day: int, grouping: Grouping,
) -> dict[Any, int]:
    """The same, counted from the pairs themselves (st_pair) of a scope or scopes, within
    a region prefix; groupings: none, "scope", "region_prefix" (of the region), "month"."""
    if scope_prefix:
        where = "scope >= ? AND scope < ?"
        params: list[Any] = [scope, _prefix_end(scope)]
    else:
        where, params = "scope = ?", [scope]
    if region is not None:
        where += " AND region >= ? AND region < ?"
        params += [region, region + ":"]
    by = _grouped_by(grouping, "region")
    threshold, threshold_params = _threshold(grouping, first_day)
    text = (
        f"SELECT {by or 'NULL'}, COUNT(*) FROM {reader.table(ST_PAIR)} WHERE measure = ? AND {where} "
        f"AND day >= ? AND day <= ? AND prev_day < {threshold}"
    )
    if by:
        text += f" GROUP BY {by}"
    found = reader.rows(text, [measure, *params, first_day, last_day, *threshold_params])
    return {k: int(v) for k, v in found if v}


def day_span(reader: Reader, rows: RegionRows) -> tuple[int, int] | None:
    """The first and last day with figures of a region."""
    where, params = _where_group(rows, ALL, False)
    found = reader.rows(f"SELECT MIN(day), MAX(day) FROM {reader.table(ST_DAY)} WHERE {where}", params)
    if not found or found[0][0] is None:
        return None
    return int(found[0][0]), int(found[0][1])


def names(reader: Reader, table: Any, keys: Sequence[str]) -> dict[str, str]:
    """The registered names of organisations or exchange points, by id."""
    return {row[table.key[0]]: row["name"] for row in reader.rows_in(table, table.key, [(k,) for k in keys])}


# The answers ------------------------------------------------------------------------------------


def _figures(day: dict[str, int] | None, active: int, beneficiaries: int) -> dict[str, Any]:
    d = day or dict.fromkeys(DAY_MEASURES, 0)
    return {
        "volunteers": d["volunteers"],
        "active_volunteers": active,
        "service_records": d["service_records"],
        "service_minutes": d["service_minutes"],
        "redemptions": d["redemptions"],
        "redeemed_minutes": d["redeemed_minutes"],
        "timebank_accounts": d["timebank_accounts"],
        "timebank_deposited_minutes": d["deposited_minutes"],
        "timebank_withdrawn_minutes": d["withdrawn_minutes"],
        "beneficiaries": beneficiaries,
        "stars": {str(k): d[f"star{k}"] for k in STAR_LEVELS},
    }


def _is_zero(figures: dict[str, Any]) -> bool:
    return not any(figures[f] for f in FIGURES) and not any(figures["stars"].values()) and not figures.get("items")


def _active(r: Reader, region: str | None, first: int, last: int, grouping: Grouping) -> dict[Any, int]:
    """Active volunteers: rolled-up counts down to county level, the pairs themselves below."""
    if region is not None and level_of_code(region) > DEEPEST_ROLLUP:
        return pair_counts(r, ACTIVE_VOLUNTEERS, ALL, False, region, first, last, grouping)
    return distinct_counts(r, ACTIVE_VOLUNTEERS, rows_for(region, DEEPEST_ROLLUP), first, last, grouping)


class StatisticsQueries:
    """Summaries and breakdowns, read from the current generation through `reads`."""

    def __init__(self, reads: Reads) -> None:
        self.reads = reads

    def summary(self, region: str | None, from_: date | None, to: date | None) -> dict[str, Any]:
        region = check_region("region", region)
        first, last = check_dates(from_, to)

        def question(r: Reader) -> dict[str, Any]:
            day = day_sums(r, rows_for(region, DEEPEST_ROLLUP), ALL, False, first, last, NOT_GROUPED).get(None)
            active = _active(r, region, first, last, NOT_GROUPED)
            beneficiaries = distinct_counts(r, BENEFICIARIES, rows_for(region, DEEPEST_LEVEL), first, last, NOT_GROUPED)
            return _figures(day, active.get(None, 0), beneficiaries.get(None, 0))

        return self.reads.read(question)

    def breakdown(
        self, by: str, level: str | None, region: str | None, from_: date | None, to: date | None
    ) -> dict[str, Any]:
        if by not in BREAKDOWNS:
            raise ValidationError("by", "one_of", choices=list(BREAKDOWNS))
        level_number = check_level(level)
        region = check_region("region", region)
        first, last = check_dates(from_, to)
        if by == "region":
            top = level_of_code(region) if region else WHOLE_LEDGER
            if level_number is None:
                level_number = min(top + 1, DEEPEST_LEVEL)
            if level_number < top:
                raise ValidationError("level", "level_above_region")
            deepest = level_number
            groups = self.reads.read(lambda r: self._by_region(r, region, top, deepest, first, last))
        elif by == "month":
            groups = self.reads.read(lambda r: self._by_month(r, region, from_, to, first, last))
        else:
            groups = self.reads.read(lambda r: self._by_group(r, by, region, first, last))
        return {"by": by, "groups": groups}

    @staticmethod
    def _by_region(
        r: Reader, region: str | None, top: int, level: int, first: int, last: int
    ) -> list[dict[str, Any]]:
        code = region or ""
        by_region = Grouping("region")
        by_prefix = Grouping("region_prefix", LENGTH_OF_LEVEL[level])
        # Groups at `level` from the rollups, and codes recorded above `level` (coarser than
        # asked, e.g. a volunteer registered at county level in a town breakdown) as their own.
        at_level = RegionRows(level, level, code, True)
        coarser = RegionRows(EXACT + max(top, 1), EXACT + level - 1, code, True) if level - 1 >= max(top, 1) else None
        every_exact = RegionRows(EXACT + max(top, 1), EXACT + DEEPEST_LEVEL, code, True)

        def parts(deepest_rolled_up: int) -> list[tuple[RegionRows, Grouping]]:
            if level <= deepest_rolled_up:
                return [(at_level, by_region)] + ([(coarser, by_region)] if coarser else [])
            return [(every_exact, by_prefix)]

        days: dict[Any, Any] = {}
        for rows, grouping in parts(DEEPEST_ROLLUP):
            days.update(day_sums(r, rows, ALL, False, first, last, grouping))
        active: dict[Any, int] = {}
        if level <= DEEPEST_ROLLUP:
            for rows, grouping in parts(DEEPEST_ROLLUP):
                active.update(distinct_counts(r, ACTIVE_VOLUNTEERS, rows, first, last, grouping))
        else:
            active = pair_counts(r, ACTIVE_VOLUNTEERS, ALL, False, region, first, last, by_prefix)
        beneficiaries: dict[Any, int] = {}
        for rows, grouping in parts(DEEPEST_LEVEL):
            beneficiaries.update(distinct_counts(r, BENEFICIARIES, rows, first, last, grouping))
        groups = []
        for key in sorted(set(days) | set(active) | set(beneficiaries)):
            figures = _figures(days.get(key), active.get(key, 0), beneficiaries.get(key, 0))
            if not _is_zero(figures):
                groups.append({"key": key, "name": region_name(key), **figures})
        return groups

    @staticmethod
    def _by_group(r: Reader, by: str, region: str | None, first: int, last: int) -> list[dict[str, Any]]:
        prefix = GROUP_OF_BREAKDOWN[by]
        by_scope = Grouping("scope")
        days = day_sums(r, rows_for(region, DEEPEST_ROLLUP), prefix, True, first, last, Grouping("group"))
        active: dict[str, int] = {}
        beneficiaries: dict[str, int] = {}
        if by in ("organization", "category"):
            active = pair_counts(r, ACTIVE_VOLUNTEERS, prefix, True, region, first, last, by_scope)
        if by == "organization":
            # A beneficiary is counted once per region prefix and organisation.
            scope = beneficiary_scope(level_of_code(region) if region else WHOLE_LEDGER, region or "", "")
            found = pair_counts(r, BENEFICIARIES, scope + prefix, True, None, first, last, by_scope)
            beneficiaries = {k[len(scope):]: v for k, v in found.items()}
        keys = sorted({k[len(prefix):] for k in set(days) | set(active) | set(beneficiaries)})
        if by == "organization":
            named = names(r, ST_ORG, keys)
            named.setdefault(UNAFFILIATED, UNAFFILIATED_NAME)
        elif by == "exchange_point":
            named = names(r, ST_POINT, keys)
        else:
            named = {}
        groups = []
        for key in keys:
            group = prefix + key
            figures = _figures(days.get(group), active.get(group, 0), beneficiaries.get(group, 0))
            if by == "exchange_point":
                figures["items"] = (days.get(group) or {}).get("items", 0)
            if not _is_zero(figures):
                groups.append({"key": key, "name": named.get(key, key), **figures})
        if by != "category":
            groups.sort(key=lambda g: (g["name"], g["key"]))
        return groups

    @staticmethod
    def _by_month(
        r: Reader, region: str | None, from_: date | None, to: date | None, first: int, last: int
    ) -> list[dict[str, Any]]:
        rows = rows_for(region, DEEPEST_ROLLUP)
        span = day_span(r, rows)
        if from_ is None and to is None and span is None:
            return []
        first_month = first // 100 if from_ else (span[0] // 100 if span else last // 100)
        last_month = last // 100 if to else max(span[1] // 100 if span else first_month, first_month)
        months = months_between(first_month, last_month)
        if len(months) > MAX_MONTHS:
            raise ValidationError("from", "months_max", max=MAX_MONTHS)
        by_month = Grouping("month")
        days = day_sums(r, rows, ALL, False, first, last, by_month)
        active = _active(r, region, first, last, by_month)
        beneficiaries = distinct_counts(r, BENEFICIARIES, rows_for(region, DEEPEST_LEVEL), first, last, by_month)
        running = dict.fromkeys(CUMULATIVE_MEASURES, 0)
        for month in sorted(m for m in days if m < first_month):
            for name in CUMULATIVE_MEASURES:
                running[name] += days[month][name]
        groups = []
        for month in months:
            sums = dict(days.get(month) or dict.fromkeys(DAY_MEASURES, 0))
            for name in CUMULATIVE_MEASURES:
                running[name] += sums[name]
                sums[name] = running[name]
            key = month_key(month)
            groups.append({"key": key, "name": key, **_figures(sums, active.get(month, 0), beneficiaries.get(month, 0))})
        return groups
