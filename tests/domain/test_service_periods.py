"""A volunteer's service periods: the overlap rule by bisection says what a look at every
period says; the collection never changes under a copy; every stored form reads back."""

from __future__ import annotations

from copy import deepcopy
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from ledger.service_periods import ServicePeriods, ServicePeriodsAsText
from ledger.volunteer import Volunteer
from tests.support.builders import DAY_ONE, World, service

spans = st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 300)), max_size=60)


def kept_apart(wanted: list[tuple[int, int]]) -> ServicePeriods:
    """Periods as the ledger keeps them: each added only if it meets none before it."""
    periods = ServicePeriods()
    for start, length in wanted:
        if periods.overlapping(start, start + length) is None:
            periods = periods.with_period(uuid4().hex, start, start + length)
    return periods


@given(spans, st.integers(0, 10_300), st.integers(1, 300))
def test_bisecting_finds_an_overlap_exactly_when_looking_at_every_period_does(wanted, start, length):
    periods = kept_apart(wanted)
    end = start + length
    found = periods.overlapping(start, end)
    meeting = [p for p in periods if p[0] < end and start < p[1]]
    assert (found is None) == (not meeting)
    assert found is None or found in meeting


@given(spans)
def test_the_periods_never_overlap_and_stay_sorted(wanted):
    periods = list(kept_apart(wanted))
    assert periods == sorted(periods)
    assert all(earlier[1] <= later[0] for earlier, later in zip(periods, periods[1:]))


def test_adding_or_removing_a_period_leaves_the_collection_a_copy_holds_as_it_was():
    before = ServicePeriods().with_period("a", 0, 10)
    after = before.with_period("b", 20, 30).without("a")
    assert list(before) == [(0, 10, "a")]
    assert list(after) == [(20, 30, "b")]


def test_a_copy_of_a_volunteer_shares_the_periods_instead_of_copying_the_history():
    world = World()
    organization = world.organization()
    volunteer = world.volunteer(organization)
    for day in range(50):
        world.post(service(volunteer, organization, 60, start=DAY_ONE.replace(day=1 + day % 28, month=1 + day // 28)))
    volunteer = world.volunteer_now(volunteer)

    copy = deepcopy(volunteer)

    assert copy.service_periods is volunteer.service_periods
    assert len(copy.periods()) == 50


def test_every_stored_form_reads_back_as_the_same_periods():
    periods = ServicePeriods().with_period("t1", 100, 200).with_period("t2", 0, 50)
    earlier_snapshot = {"t1": [100, 200], "t2": [0, 50]}  # before 2026-12-01
    as_json_lists = [[0, 50, "t2"], [100, 200, "t1"]]
    text = ServicePeriodsAsText()

    assert ServicePeriods.of(earlier_snapshot) == ServicePeriods.of(as_json_lists) == periods
    assert text.decode(text.encode(periods)) == periods


def test_a_long_history_is_snapshotted_more_seldom_so_a_snapshot_costs_each_posting_the_same():
    def volunteer_with(periods: int) -> Volunteer:
        world = World()
        volunteer = world.volunteer(world.organization())
        volunteer.service_periods = ServicePeriods((i * 10, i * 10 + 5, str(i)) for i in range(periods))
        return volunteer

    intervals = {n: volunteer_with(n).snapshot_interval(100) for n in (0, 105, 1_000, 3_000, 6_000)}

    assert intervals == {0: 100, 105: 100, 1_000: 100, 3_000: 256, 6_000: 512}
