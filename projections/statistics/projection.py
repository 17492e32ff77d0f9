"""The statistics' rule: pre-aggregated daily figures by region, organisation, category and
exchange point, and distinct counts (active volunteers, beneficiaries) that sum over any date
range.

Rules (SPEC §3 "Statistics", decisions in docs/projections.md):
- days are China Standard Time calendar days; service records count on the day of
  `started_at`, deposits on `served_at`, withdrawals and redemptions on the recorded day;
- a figure counts under the volunteer's region, a redemption under the exchange point's;
  figures roll up by region prefix;
- `volunteers`, `timebank_accounts` and `stars` are cumulative: registered/opened/reached on
  or before `to`; stars come from the volunteer's unreversed service records in the order they
  were recorded;
- a reversal takes back its original's contribution on the original's days, so a reversed
  transaction counts in no figure.

`bulk.py` restates this rule in SQL for PostgreSQL's bulk rebuild; `tests/projections/statistics`
holds the two equal.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.domain import DomainEventProtocol

from ledger.exchange_point import ExchangePoint
from ledger.organization import Organization
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.vocabulary import UNAFFILIATED, TransactionType, local_day, star_level
from ledger.volunteer import Volunteer
from projections.engine.changes import Changes
from projections.engine.runner import Fetch
from projections.statistics.dimensions import DEEPEST_LEVEL, DEEPEST_ROLLUP, EXACT, NO_DAY, region_keys
from projections.statistics.tables import (
    ACTIVE_VOLUNTEERS,
    ALL,
    BENEFICIARIES,
    DAY_MEASURES,
    ST_COUNT,
    ST_DAY,
    ST_FACT,
    ST_ORG,
    ST_PAIR,
    ST_POINT,
    ST_VOLUNTEER,
    TABLES,
    beneficiary_scope,
    category_group,
    exchange_point_group,
    organization_group,
    parse_beneficiary_scope,
)

SERVICE_RECORD = TransactionType.SERVICE_RECORD
DEPOSIT = TransactionType.TIMEBANK_DEPOSIT
WITHDRAWAL = TransactionType.TIMEBANK_WITHDRAWAL
REDEMPTION = TransactionType.REDEMPTION
# The transaction types that count in a figure; transfers, donations and grants move hours
# inside the time bank and count in none.
COUNTED = (SERVICE_RECORD, DEPOSIT, WITHDRAWAL, REDEMPTION)
MEASURE_INDEX = {m: i for i, m in enumerate(DAY_MEASURES)}


def transitions(records: list[dict[str, Any]], thresholds: Sequence[int]) -> list[tuple[int, int, int]]:
    """(day, from level, to level) each time the running total of earned minutes crosses a
    star threshold, over service records in the order they were recorded."""
    out, earned, level = [], 0, 0
    for record in sorted(records, key=lambda r: r["pos"]):
        earned += record["minutes"]
        new = star_level(earned, thresholds)
        if new != level:
            out.append((record["recorded_day"], level, new))
            level = new
    return out


def stretches(
    known: dict[int, tuple[int, int]], deltas: dict[int, int]
) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]]:
    """The stored pairs of one (measure, subject, scope) that `deltas` (changes in the number
    of occurrences, by day) can change, as they are and as they become: {day: (n, prev_day)}.

    `known` holds some stored pairs of the scope (day: (n, prev_day)), including, for every
    changed day, the pair on it (if stored) and the nearest stored pairs before and after it.
    So the stretch from the pair before a changed day to the pair after it is known whole; a
    change can only change its own day and the previous day of the next day after it. Within
    each run of overlapping stretches the days are chained anew, starting from the first
    one's stored previous day; beyond them nothing changes."""
    days, changed = sorted(known), sorted(deltas)
    runs: list[list[int | None]] = []  # [low, high]: None, no stored day below / above
    for day in changed:
        i = bisect_left(days, day)
        j = bisect_right(days, day)
        low, high = (days[i - 1] if i else None), (days[j] if j < len(days) else None)
        last = runs[-1] if runs else None
        if last is not None and (low is None or last[1] is None or low <= last[1]):
            last[1] = high
        else:
            runs.append([low, high])
    old: dict[int, tuple[int, int]] = {}
    new: dict[int, tuple[int, int]] = {}
    for low, high in runs:
        inside = _between(days, low, high, closed=True)
        old.update((day, known[day]) for day in inside)
        counts = {day: known[day][0] for day in inside}
        for day in _between(changed, low, high, closed=False):
            counts[day] = counts.get(day, 0) + deltas[day]
        prev = NO_DAY if low is None else known[low][1]
        for day in sorted(day for day, n in counts.items() if n > 0):
            new[day] = (counts[day], prev)
            prev = day
    return old, new


def _between(days: list[int], low: int | None, high: int | None, closed: bool) -> list[int]:
    """The sorted `days` from `low` to `high` (None: no bound), with them if `closed`."""
    start = 0 if low is None else (bisect_left if closed else bisect_right)(days, low)
    end = len(days) if high is None else (bisect_right if closed else bisect_left)(days, high)
    return days[start:end]


class StatisticsProjection:
    name = "stats"
    tables = TABLES
    topics = (
        Organization.Registered,
        ExchangePoint.Registered,
        Volunteer.Registered,
        TimebankAccount.Opened,
        Transaction.Posted,
    )

    def __init__(self, thresholds: Sequence[int]) -> None:
        self.thresholds = tuple(thresholds)

    def process(self, events: list[tuple[int, DomainEventProtocol[Any]]], fetch: Fetch) -> Changes:
        batch = _Batch(self.thresholds, fetch)
        batch.prefetch(events)
        for position, event in events:
            batch.apply(position, event)
        return batch.finish()


class _Batch:
    def __init__(self, thresholds: tuple[int, ...], fetch: Fetch) -> None:
        self.thresholds = thresholds
        self.fetch = fetch
        self.changes = Changes()
        self.volunteers: dict[str, dict[str, Any]] = {}
        self.points: dict[str, dict[str, Any]] = {}
        self.facts: dict[str, dict[str, Any] | None] = {}  # None: deleted in this batch
        self.dirty_volunteers: set[str] = set()
        self.new_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.stored_service: dict[str, list[dict[str, Any]]] = {}
        # (measure, subject) -> scope -> day -> change in occurrences
        self.occurrences: dict[tuple[str, str], dict[str, dict[int, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )

    # Loading ---------------------------------------------------------------------------

    def prefetch(self, events: list[tuple[int, Any]]) -> None:
        reversed_ids, volunteer_ids, point_ids = set(), set(), set()
        for _, e in events:
            if isinstance(e, Transaction.Posted):
                content = e.content
                if e.type == TransactionType.REVERSAL:
                    reversed_ids.add(str(content["reverses"]))
                if content.get("volunteer_id"):
                    volunteer_ids.add(str(content["volunteer_id"]))
                if content.get("exchange_point_id"):
                    point_ids.add(str(content["exchange_point_id"]))
            elif isinstance(e, TimebankAccount.Opened):
                volunteer_ids.add(str(e.volunteer_id))
        for row in self.fetch(ST_FACT, ("transaction_id",), [(t,) for t in sorted(reversed_ids)]):
            self.facts[row["transaction_id"]] = row
            volunteer_ids.add(row["volunteer_id"])
            if row["point"]:
                point_ids.add(row["point"])
        for row in self.fetch(ST_VOLUNTEER, ("volunteer_id",), [(v,) for v in sorted(volunteer_ids)]):
            self.volunteers[row["volunteer_id"]] = row
        for row in self.fetch(ST_POINT, ("point",), [(p,) for p in sorted(point_ids)]):
            self.points[row["point"]] = row

    def volunteer(self, vid: str) -> dict[str, Any]:
        row = self.volunteers.get(vid)
        if row is None:
            found = self.fetch(ST_VOLUNTEER, ("volunteer_id",), [(vid,)])
            if not found:
                raise LookupError(f"volunteer {vid} is not in the read model (log out of order?)")
            row = self.volunteers[vid] = found[0]
        return row

    def point(self, pid: str) -> dict[str, Any]:
        row = self.points.get(pid)
        if row is None:
            found = self.fetch(ST_POINT, ("point",), [(pid,)])
            if not found:
                raise LookupError(f"exchange point {pid} is not in the read model")
            row = self.points[pid] = found[0]
        return row

    def fact(self, tid: str) -> dict[str, Any] | None:
        if tid not in self.facts:
            found = self.fetch(ST_FACT, ("transaction_id",), [(tid,)])
            self.facts[tid] = found[0] if found else None
        return self.facts[tid]

    def service_records(self, vid: str) -> list[dict[str, Any]]:
        """The volunteer's unreversed service records, stored and of this batch."""
        if vid not in self.stored_service:
            self.stored_service[vid] = self.fetch(ST_FACT, ("volunteer_id", "kind"), [(vid, SERVICE_RECORD.value)])
        records = {r["transaction_id"]: r for r in self.stored_service[vid]}
        records.update({r["transaction_id"]: r for r in self.new_service[vid]})
        return [r for tid, r in records.items() if self.facts.get(tid, r) is not None]

    # Applying events -------------------------------------------------------------------

    def apply(self, position: int, e: Any) -> None:
        if isinstance(e, Transaction.Posted):
            if e.type in COUNTED:
                self.counted(position, e)
            elif e.type == TransactionType.REVERSAL:
                self.reversal(str(e.content["reverses"]))
        elif isinstance(e, Volunteer.Registered):
            vid = str(e.originator_id)
            org = str(e.organization_id) if e.organization_id else UNAFFILIATED
            row = {
                "volunteer_id": vid, "region": e.region_code, "org": org,
                "registered_day": local_day(e.timestamp), "earned": 0, "star": 0,
            }
            self.volunteers[vid] = row
            self.dirty_volunteers.add(vid)
            self.add_day(e.region_code, (ALL, organization_group(org)), row["registered_day"], volunteers=1)
        elif isinstance(e, TimebankAccount.Opened):
            v = self.volunteer(str(e.volunteer_id))
            self.add_day(v["region"], (ALL, organization_group(v["org"])), local_day(e.timestamp), timebank_accounts=1)
        elif isinstance(e, Organization.Registered):
            self.changes.put(ST_ORG, {"org": str(e.originator_id), "name": e.name, "region": e.region_code})
        elif isinstance(e, ExchangePoint.Registered):
            row = {"point": str(e.originator_id), "name": e.name, "region": e.region_code}
            self.points[row["point"]] = row
            self.changes.put(ST_POINT, row)

    def counted(self, position: int, e: Any) -> None:
        content, details = e.content, e.details
        tid = str(e.originator_id)
        vid = str(content["volunteer_id"])
        recorded_day = local_day(e.timestamp)
        fact: dict[str, Any] = {
            "transaction_id": tid, "kind": e.type, "volunteer_id": vid, "pos": position,
            "day": recorded_day, "recorded_day": recorded_day, "minutes": int(details["minutes"]),
            "org": None, "category": None, "point": None, "items": 0,
            "beneficiary": str(content["beneficiary_id"]) if content.get("beneficiary_id") else None,
        }
        if e.type == SERVICE_RECORD:
            fact.update(day=local_day(datetime.fromisoformat(content["started_at"])),
                        org=str(content["organization_id"]), category=str(content["category"]))
        elif e.type == DEPOSIT:
            fact.update(day=local_day(datetime.fromisoformat(content["served_at"])), org=str(content["organization_id"]))
        elif e.type == WITHDRAWAL:
            fact.update(org=str(details.get("settled_by") or self.volunteer(vid)["org"]))
        elif e.type == REDEMPTION:
            fact.update(point=str(content["exchange_point_id"]),
                        items=sum(int(line["quantity"]) for line in details.get("lines", [])))
        self.facts[tid] = fact
        self.changes.put(ST_FACT, fact)
        self.contribute(fact, +1)
        if e.type == SERVICE_RECORD:
            self.new_service[vid].append(fact)
            v = self.volunteer(vid)
            before = v["star"]
            v["earned"] += fact["minutes"]
            v["star"] = star_level(v["earned"], self.thresholds)
            self.dirty_volunteers.add(vid)
            if v["star"] != before:
                self.star_change(v, fact["recorded_day"], before, v["star"], +1)

    def reversal(self, original_id: str) -> None:
        fact = self.fact(original_id)
        if fact is None:  # the original counted in no figure (a transfer, a donation, a grant)
            return
        vid = fact["volunteer_id"]
        records = self.service_records(vid) if fact["kind"] == SERVICE_RECORD else []
        self.contribute(fact, -1)
        self.facts[original_id] = None
        self.changes.delete(ST_FACT, (original_id,))
        if fact["kind"] == SERVICE_RECORD:
            v = self.volunteer(vid)
            remaining = [r for r in records if r["transaction_id"] != original_id]
            for day, a, b in transitions(records, self.thresholds):
                self.star_change(v, day, a, b, -1)
            for day, a, b in transitions(remaining, self.thresholds):
                self.star_change(v, day, a, b, +1)
            v["earned"] -= fact["minutes"]
            v["star"] = star_level(v["earned"], self.thresholds)
            self.dirty_volunteers.add(vid)

    def star_change(self, v: dict[str, Any], day: int, old: int, new: int, sign: int) -> None:
        deltas = {}
        if old >= 1:
            deltas[f"star{old}"] = -sign
        if new >= 1:
            deltas[f"star{new}"] = deltas.get(f"star{new}", 0) + sign
        self.add_day(v["region"], (ALL, organization_group(v["org"])), day, **deltas)

    def contribute(self, fact: dict[str, Any], sign: int) -> None:
        kind, day, minutes = fact["kind"], fact["day"], fact["minutes"]
        v = self.volunteer(fact["volunteer_id"])
        if kind == SERVICE_RECORD:
            groups = (ALL, organization_group(fact["org"]), category_group(fact["category"]))
            self.add_day(v["region"], groups, day, service_records=sign, service_minutes=sign * minutes)
            for scope in groups:
                self.occurrences[(ACTIVE_VOLUNTEERS, v["volunteer_id"])][scope][day] += sign
        elif kind == DEPOSIT:
            groups = (ALL, organization_group(fact["org"]))
            self.add_day(v["region"], groups, day, deposited_minutes=sign * minutes)
            for scope in groups:
                self.occurrences[(ACTIVE_VOLUNTEERS, v["volunteer_id"])][scope][day] += sign
            self.beneficiary(fact, v["region"], sign)
        elif kind == WITHDRAWAL:
            self.add_day(v["region"], (ALL, organization_group(fact["org"])), day, withdrawn_minutes=sign * minutes)
            self.beneficiary(fact, v["region"], sign)
        elif kind == REDEMPTION:
            point = self.point(fact["point"])
            groups = (ALL, exchange_point_group(fact["point"]), organization_group(v["org"]))
            self.add_day(point["region"], groups, day, redemptions=sign, redeemed_minutes=sign * minutes,
                         items=sign * fact["items"])

    def beneficiary(self, fact: dict[str, Any], region: str, sign: int) -> None:
        if not fact["beneficiary"]:
            return
        scopes = self.occurrences[(BENEFICIARIES, fact["beneficiary"])]
        for level, ancestor in region_keys(region, DEEPEST_LEVEL):
            for group in (ALL, organization_group(fact["org"])):
                scopes[beneficiary_scope(level, ancestor, group)][fact["day"]] += sign

    def add_day(self, region: str, groups: Sequence[str], day: int, **deltas: int) -> None:
        items = [(MEASURE_INDEX[m], v) for m, v in deltas.items() if v]
        sums = self.changes.adds[ST_DAY]
        width = len(DAY_MEASURES)
        for level, ancestor in region_keys(region, DEEPEST_ROLLUP):
            for group in groups:
                key = (level, ancestor, group, day)
                vector = sums.get(key)
                if vector is None:
                    vector = sums[key] = [0] * width
                for i, v in items:
                    vector[i] += v

    # Distinct counts -------------------------------------------------------------------

    def region_of(self, measure: str, subject: str) -> str:
        return self.volunteer(subject)["region"] if measure == ACTIVE_VOLUNTEERS else ""

    def rollups(self, measure: str, subject: str, scope: str) -> list[tuple[int, str]]:
        """The st_count rows (level, ancestor) a pair of this scope counts in (none: counted
        from st_pair itself)."""
        if measure == ACTIVE_VOLUNTEERS:
            if scope != ALL:
                return []
            region = self.volunteer(subject)["region"]
            # exact codes only above county level (rare): county and below are rolled up
            return [
                (level, ancestor) for level, ancestor in region_keys(region, DEEPEST_ROLLUP)
                if level < EXACT + DEEPEST_ROLLUP
            ]
        level, ancestor, group = parse_beneficiary_scope(scope)
        return [] if group != ALL else [(level, ancestor)]

    def finish(self) -> Changes:
        # Only the stored pairs that can change are read: on each changed day, and the nearest
        # stored day before and after it in its scope (the previous day of a new day, and the
        # day whose previous day may change), whatever the length of the subject's history.
        changed: dict[tuple[str, str, str], dict[int, int]] = {}
        for (measure, subject), scopes in self.occurrences.items():
            for scope, deltas in scopes.items():
                days = {day: delta for day, delta in deltas.items() if delta}
                if days:
                    changed[(measure, subject, scope)] = days
        keys = sorted((*pair, day) for pair, days in changed.items() for day in days)
        stored: dict[tuple[str, str, str], dict[int, tuple[int, int]]] = defaultdict(dict)
        for row in self.fetch(ST_PAIR, ST_PAIR.key, keys, nearest=True):
            stored[(row["measure"], row["subject"], row["scope"])][row["day"]] = (row["n"], row["prev_day"])
        for pair in sorted(changed):
            old, new = stretches(stored[pair], changed[pair])
            self.diff(*pair, old, new)
        for vid in sorted(self.dirty_volunteers):
            self.changes.put(ST_VOLUNTEER, self.volunteers[vid])
        return self.changes

    def diff(
        self, measure: str, subject: str, scope: str,
        old: dict[int, tuple[int, int]], new: dict[int, tuple[int, int]],
    ) -> None:
        rollups = None
        for day in sorted(set(old) | set(new)):
            before, after = old.get(day), new.get(day)
            if before == after:
                continue
            key = (measure, subject, scope, day)
            if after is None:
                self.changes.delete(ST_PAIR, key)
            else:
                self.changes.put(ST_PAIR, {
                    "measure": measure, "subject": subject, "scope": scope, "day": day,
                    "n": after[0], "prev_day": after[1], "region": self.region_of(measure, subject),
                })
            if before is not None and after is not None and before[1] == after[1]:
                continue  # only the number of occurrences changed: still one distinct subject
            if rollups is None:
                rollups = self.rollups(measure, subject, scope)
            counts = self.changes.adds[ST_COUNT]
            for level, ancestor in rollups:
                for state, sign in ((before, -1), (after, +1)):
                    if state is not None:
                        key = (measure, level, ancestor, day, state[1])
                        vector = counts.get(key)
                        if vector is None:
                            counts[key] = [sign]
                        else:
                            vector[0] += sign
