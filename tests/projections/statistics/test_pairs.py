"""Distinct-count pairs (st_pair) are maintained from the stored pairs near a batch's days, not
from a subject's whole history: the rule (`stretches`, against recomputing everything, by
hypothesis), the bound (one more batch on a long history reads a handful of pairs), and
back-dated events in the middle of histories (a follower agrees with a full rebuild, and the
figures with counts made by hand), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.commands import DepositTimebank, RecordService, Reverse
from ledger.vocabulary import CHINA_STANDARD_TIME as CST
from projections import ReadModels
from projections.engine.changes import Changes
from projections.statistics.dimensions import NO_DAY
from projections.statistics.projection import stretches
from projections.statistics.tables import ST_PAIR

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=timezone.utc)
START = datetime(2025, 1, 1, 9, 0, tzinfo=CST)
REGION = "320830001001"


# The rule ---------------------------------------------------------------------------------


def chain(counts: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Pairs as a full rebuild stores them: every day with occurrences and its previous day."""
    days = sorted(d for d, n in counts.items() if n > 0)
    return {d: (counts[d], days[i - 1] if i else NO_DAY) for i, d in enumerate(days)}


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict[int, tuple[int, int]], dict[int, int], dict[int, tuple[int, int]]]:
    counts = draw(st.dictionaries(st.integers(1, 40), st.integers(1, 3), max_size=25))
    stored = chain(counts)
    changed = draw(st.lists(st.integers(1, 40), min_size=1, max_size=8, unique=True))
    deltas = {d: draw(st.integers(-counts.get(d, 0), 3).filter(bool)) for d in changed}
    # What the store answers: the pairs on the changed days and the nearest before and after
    # each, and perhaps some other stored pairs too.
    days = sorted(stored)
    known = {d: stored[d] for d in (draw(st.sets(st.sampled_from(days))) if days else ())}
    for c in changed:
        below, above = [d for d in days if d < c], [d for d in days if d > c]
        for d in ([c] if c in stored else []) + below[-1:] + above[:1]:
            known[d] = stored[d]
    return stored, deltas, known


@given(histories())
def test_the_pairs_near_the_changed_days_are_enough(case: Any) -> None:
    stored, deltas, known = case
    old, new = stretches(known, deltas)
    assert all(stored[d] == row for d, row in old.items())
    applied = {d: row for d, row in stored.items() if d not in old or d in new}
    applied.update(new)
    counts = {d: n for d, (n, _) in stored.items()}
    for d, delta in deltas.items():
        counts[d] = counts.get(d, 0) + delta
    assert applied == chain(counts)


# On the stores ------------------------------------------------------------------------------


@pytest.fixture
def app(store_env: dict[str, str]) -> Iterator[HourLedger]:
    ledger = HourLedger(env=store_env, clock=lambda: NOW)
    try:
        yield ledger
    finally:
        ledger.close()


def test_the_store_finds_the_rows_nearest_a_key_within_its_run(app: HourLedger) -> None:
    """fetch(nearest=True): a key's row and the rows just before and after it among the rows
    sharing all but its last column; never a row of a neighbouring run."""
    models = ReadModels(app)
    store = models.store
    generation = store.setup(models.names)  # the current generation
    runs = {("a", "s1", ""): [3, 5, 9], ("a", "s1", "x"): [1], ("a", "s2", ""): [4], ("a", "s0", ""): [7]}
    changes = Changes()
    for (measure, subject, scope), days in runs.items():
        for day in days:
            changes.put(ST_PAIR, {"measure": measure, "subject": subject, "scope": scope, "day": day,
                                  "n": 1, "prev_day": 0, "region": ""})
    store.commit(generation, "current", [("stats", 0, changes)], 0)

    def found(keys: list[tuple[str, str, str, int]]) -> list[tuple[str, str, str, int]]:
        rows = store.fetch(generation, ST_PAIR, ST_PAIR.key, keys, nearest=True)
        return [tuple(r[c] for c in ST_PAIR.key) for r in rows]

    asked = [("a", "s1", "", day) for day in range(0, 11)] + [("a", "s1", "x", 1), ("a", "s3", "", 5)]
    for key in asked:
        days = runs.get(key[:3], [])
        below, above = [d for d in days if d < key[3]], [d for d in days if d > key[3]]
        least = set(below[-1:] + above[:1] + [d for d in days if d == key[3]])
        most = least | set(above[:2] if key[3] not in days else [])
        rows = found([key])
        assert len(rows) == len(set(rows))
        assert all(row[:3] == key[:3] for row in rows), key
        assert least <= {row[3] for row in rows} <= most, key
    together = found(asked)
    assert len(together) == len(set(together))
    assert {row[:3] for row in together} == {("a", "s1", ""), ("a", "s1", "x")}
    assert {row[3] for row in together if row[:3] == ("a", "s1", "")} == {3, 5, 9}


def count_pairs_fetched(models: ReadModels, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the st_pair rows the store hands to the projections from now on."""
    fetched: Counter[str] = Counter()
    fetch = models.store.fetch

    def counting(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = fetch(*args, **kwargs)
        if args[1] is ST_PAIR:
            fetched["rows"] += len(rows)
        return rows

    monkeypatch.setattr(models.store, "fetch", counting)
    return fetched


def service(vid: UUID, org: UUID, day: int, hour: int = 0, category: str = "cleanup") -> RecordService:
    begins = START + timedelta(days=day, hours=hour)
    return RecordService(
        id=uuid4(), volunteer_id=vid, organization_id=org, category=category,
        started_at=begins, ended_at=begins + timedelta(minutes=30),
    )


def deposit(vid: UUID, org: UUID, day: int, beneficiary: UUID) -> DepositTimebank:
    return DepositTimebank(
        id=uuid4(), volunteer_id=vid, organization_id=org, minutes=30,
        served_at=START + timedelta(days=day, hours=3), beneficiary_id=beneficiary,
    )


def post(app: HourLedger, commands: list[Any]) -> list[UUID]:
    ids = []
    for start in range(0, len(commands), 200):
        results = app.post_batch(SYSTEM, commands[start : start + 200], atomic=True)
        ids += [r.transaction.id for r in results]
    return ids


def pairs_of(models: ReadModels, subject: UUID) -> int:
    return sum(1 for row in models.dump()["st_pair"] if row[1] == str(subject))


def test_one_more_batch_on_a_long_history_reads_a_few_pairs(
    app: HourLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = app.register_organization(SYSTEM, "盱眙志愿服务队", REGION[:6]).aggregate.id
    vid = app.register_volunteer(SYSTEM, "志愿者", REGION, organization_id=org).aggregate.id
    app.open_timebank(SYSTEM, vid)
    elder = uuid4()
    categories = ("elder_care", "cleanup", "health")
    post(app, [service(vid, org, day, category=categories[day % 3]) for day in range(200)]
         + [deposit(vid, org, day, elder) for day in range(0, 200, 2)])
    models = ReadModels(app, batch_size=50)
    models.catch_up()
    history = pairs_of(models, vid) + pairs_of(models, elder)
    assert history > 800

    fetched = count_pairs_fetched(models, monkeypatch)
    before = set(models.dump()["st_pair"])
    post(app, [service(vid, org, 200, category="health"), deposit(vid, org, 201, elder)])
    models.catch_up()
    added = set(models.dump()["st_pair"]) - before
    # Each new pair (a new last day in a scope) needed the stored pair before it, and no more.
    assert 0 < fetched["rows"] <= len({row[:4] for row in added}) < 20

    # A day in the middle of the history: the pairs on it and on either side of it.
    fetched.clear()
    post(app, [service(vid, org, 99, hour=5, category="teaching")])
    models.catch_up()
    assert 0 < fetched["rows"] <= 3 * 3  # three scopes, three pairs each at most


def test_back_dated_events_in_the_middle_of_histories_agree_with_a_rebuild(
    app: HourLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = app.register_organization(SYSTEM, "盱眙志愿服务队", REGION[:6]).aggregate.id
    a = app.register_volunteer(SYSTEM, "甲", REGION, organization_id=org).aggregate.id
    b = app.register_volunteer(SYSTEM, "乙", REGION[:-3] + "002", organization_id=org).aggregate.id
    app.open_timebank(SYSTEM, a)
    elder = uuid4()
    # (volunteer, day) of every occurrence of service, and (beneficiary, day): the truth.
    active: list[tuple[UUID, int]] = []
    served: list[tuple[UUID, int]] = []
    history = [service(a, org, day, category=("elder_care", "cleanup")[day % 2]) for day in range(60)]
    history += [service(b, org, day) for day in range(0, 60, 10)]
    history += [deposit(a, org, day, elder) for day in (5, 45)]
    ids = post(app, history)
    active += [(a, day) for day in range(60)] + [(b, day) for day in range(0, 60, 10)] + [(a, 5), (a, 45)]
    served += [(elder, 5), (elder, 45)]
    models = ReadModels(app, batch_size=7)
    models.catch_up()

    fetched = count_pairs_fetched(models, monkeypatch)
    back_dated = [
        service(a, org, 30, hour=5, category="health"),  # a day a already has
        service(b, org, 15),  # between b's days 10 and 20
        service(b, org, -5),  # before b's (and everybody's) first day
        deposit(a, org, 25, elder),  # between the beneficiary's days 5 and 45
        Reverse(id=uuid4(), reverses=ids[60 + 4], reason="更正"),  # b's day 40: 50 follows 30
    ]
    post(app, back_dated)
    active += [(a, 30), (b, 15), (b, -5), (a, 25)]
    active.remove((b, 40))
    served += [(elder, 25)]
    models.catch_up()
    assert fetched["rows"] < 60  # the history holds over 200 pairs

    followed = models.dump()
    big = ReadModels(app)
    big.rebuild()
    assert big.dump() == followed

    def day(n: int) -> date:
        return (START + timedelta(days=n)).date()

    for first, last in ((-5, -5), (-5, 0), (1, 9), (11, 19), (15, 15), (31, 49), (40, 40), (41, 49), (25, 25), (-10, 70)):
        figures = big.summary(None, day(first), day(last))
        assert figures["active_volunteers"] == len({v for v, d in active if first <= d <= last}), (first, last)
        assert figures["beneficiaries"] == len({e for e, d in served if first <= d <= last}), (first, last)
        village = big.summary(REGION[:-3] + "002", day(first), day(last))
        assert village["active_volunteers"] == len({v for v, d in active if v == b and first <= d <= last})
