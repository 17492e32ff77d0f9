"""The write path's shortcuts never change an answer: a process posting from its cache, with
ids assumed new, answers exactly what a process asking the store every time would.

Two applications on one store stand for two server processes: each caches what it saved."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.errors import OverlappingServiceError, StarLevelTooLowError
from ledger.vocabulary import NATIONAL_THRESHOLDS_MINUTES
from tests.support.builders import DAY_ONE, AppWorld, item, redemption, reversal, service


def test_an_overlap_recorded_by_another_process_is_refused_though_this_one_cached_the_volunteer(ledger, other):
    here, there = AppWorld(ledger), AppWorld(other)
    organization = here.organization()
    volunteer = here.volunteer(organization)
    here.post(service(volunteer, organization, 60, start=DAY_ONE))  # cached here, as saved
    there.post(service(volunteer, organization, 60, start=DAY_ONE + timedelta(hours=2)))

    with pytest.raises(OverlappingServiceError):
        here.post(service(volunteer, organization, 30, start=DAY_ONE + timedelta(hours=2, minutes=15)))
    assert len(ledger.get_volunteer(volunteer.id).periods()) == 2


def test_a_free_gift_asks_for_the_star_level_the_store_holds_not_the_one_cached(ledger, other):
    """A rule may read an aggregate that the command does not change (a gift priced 0 takes no
    minutes): no conflict on saving would catch a stale copy, so the copy must be fresh."""
    here, there = AppWorld(ledger), AppWorld(other)
    organization = here.organization()
    volunteer = here.volunteer(organization)
    star_one = NATIONAL_THRESHOLDS_MINUTES[0]
    records = []
    while sum(r.minutes for r in records) < star_one:
        records.append(service(volunteer, organization, 1440, start=DAY_ONE + timedelta(days=2 * len(records))))
        here.post(records[-1])
    point = here.point(badge=item(0, 5, min_star=1))
    assert ledger.balance(volunteer.id).star_level == 1  # cached here at star level 1

    there.post(reversal(records[-1]))  # another process takes the star level away

    with pytest.raises(StarLevelTooLowError):
        here.post(redemption(point, volunteer, ("badge", 1)))


def test_a_replay_whose_rules_now_fail_is_answered_with_the_original(ledger, other):
    here, there = AppWorld(ledger), AppWorld(other)
    organization = here.organization()
    volunteer = here.volunteer(organization)
    record = service(volunteer, organization, 60, start=DAY_ONE)
    first = here.post(record)

    # Posted again, the record overlaps itself; the store's key says it is a replay.
    for world in (here, there):
        again = world.post(record)
        assert (again.created, again.transaction.id, again.position) == (False, first.transaction.id, first.position)
    assert ledger.balance(volunteer.id).earned_minutes == 60


def test_the_same_new_id_posted_by_two_processes_is_recorded_once(ledger, other):
    here, there = AppWorld(ledger), AppWorld(other)
    organization = here.organization()
    volunteer = here.volunteer(organization)
    there.volunteer(organization)  # the other process has the volunteer cached too
    ledger.get_volunteer(volunteer.id), other.get_volunteer(volunteer.id)
    record = service(volunteer, organization, 45, start=DAY_ONE)

    answers = [here.post(record), there.post(record)]

    assert [a.created for a in answers] == [True, False]
    assert other.balance(volunteer.id).earned_minutes == ledger.balance(volunteer.id).earned_minutes == 45

