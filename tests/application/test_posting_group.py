"""A group of postings that arrived together is answered as posting them one after another
would answer each, and most of it is written in one store transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import uuid4


from ledger.actors import SYSTEM
from ledger.application import HourLedger, Posted
from ledger.commands import Command
from ledger.errors import (
    InsufficientBalanceError,
    NotFoundError,
    OverlappingServiceError,
    TransactionIdConflictError,
)
from tests.support.builders import DAY_ONE, AppWorld, item, redemption, service


class Answers:
    """What `post_group` hands its `answer`: each call's results, in the order given."""

    def __init__(self) -> None:
        self.calls: list[dict[int, Posted | Exception]] = []

    def __call__(self, results: dict[int, Posted | Exception]) -> None:
        self.calls.append(results)

    def by_index(self) -> dict[int, Posted | Exception]:
        merged: dict[int, Posted | Exception] = {}
        for call in self.calls:
            assert not merged.keys() & call.keys(), "an index answered twice"
            merged.update(call)
        return merged


def post_group(ledger: HourLedger, commands: Sequence[Command]) -> tuple[dict[int, Any], Answers]:
    answers = Answers()
    ledger.post_group([(SYSTEM, command) for command in commands], answers)
    results = answers.by_index()
    assert sorted(results) == list(range(len(commands)))
    return results, answers


def counting_writes(ledger: HourLedger) -> list[int]:
    """The number of events of each store transaction the ledger writes from now on."""
    written: list[int] = []
    insert = ledger.group_commit.insert

    def counted(events: Any) -> Any:
        written.append(len(events))
        return insert(events)

    ledger.group_commit.insert = counted  # type: ignore[method-assign]
    return written


def test_postings_that_build_on_each_other_are_written_in_one_transaction_and_answered_at_once(ledger):
    world = AppWorld(ledger)
    organization = world.organization()
    volunteer = world.volunteer(organization)
    first = service(volunteer, organization, 60, start=DAY_ONE)
    second = service(volunteer, organization, 90, start=DAY_ONE + timedelta(hours=2))
    writes = counting_writes(ledger)

    results, answers = post_group(ledger, [first, second, first])

    assert writes == [4]  # two records, each the volunteer's event and the transaction's
    assert len(answers.calls) == 1
    assert [(r.created, r.transaction.id) for r in results.values()] == [
        (True, first.id), (True, second.id), (False, first.id)
    ]
    assert results[2].position == results[0].position  # a replay answers the original's position
    assert results[1].position == results[0].position + 2
    assert ledger.balance(volunteer.id).earned_minutes == 150
    assert len(ledger.get_volunteer(volunteer.id).periods()) == 2


def test_a_refused_posting_answers_its_own_error_and_the_others_are_recorded(ledger):
    world = AppWorld(ledger)
    organization = world.organization()
    volunteer = world.volunteer(organization)
    record = service(volunteer, organization, 60, start=DAY_ONE)
    overlapping = service(volunteer, organization, 30, start=DAY_ONE + timedelta(minutes=15))
    reused_id = replace(service(volunteer, organization, 45, start=DAY_ONE + timedelta(hours=5)), id=record.id)
    unknown = service(uuid4(), organization, 60, start=DAY_ONE)
    later = service(volunteer, organization, 60, start=DAY_ONE + timedelta(hours=3))

    results, answers = post_group(ledger, [record, overlapping, reused_id, unknown, later])

    assert isinstance(results[0], Posted) and results[0].created
    assert isinstance(results[1], OverlappingServiceError)
    assert isinstance(results[2], TransactionIdConflictError)
    assert isinstance(results[3], NotFoundError)
    assert isinstance(results[4], Posted) and results[4].created
    # The group's recorded postings first, all at once; each refused one after, on its own.
    assert sorted(answers.calls[0]) == [0, 4] and [sorted(call) for call in answers.calls[1:]] == [[1], [2], [3]]
    assert ledger.balance(volunteer.id).earned_minutes == 120


def test_two_redemptions_in_one_group_never_spend_more_than_the_volunteer_has(ledger):
    world = AppWorld(ledger)
    volunteer = world.volunteer(earned_minutes=60)
    point = world.point(mug=item(40, 5))

    results, _ = post_group(ledger, [redemption(point, volunteer, ("mug", 1)), redemption(point, volunteer, ("mug", 1))])

    assert isinstance(results[0], Posted) and results[0].created
    assert isinstance(results[1], InsufficientBalanceError)
    assert ledger.balance(volunteer.id).available_minutes == 20
    assert world.stock(point, "mug") == 4


def test_a_group_meeting_another_process_s_write_posts_each_alone_against_the_store(ledger, other):
    here, there = AppWorld(ledger), AppWorld(other)
    organization = here.organization()
    volunteer, newcomer = here.volunteer(organization), here.volunteer(organization)
    here.post(service(volunteer, organization, 60, start=DAY_ONE))  # cached here, as saved
    there.post(service(volunteer, organization, 60, start=DAY_ONE + timedelta(hours=2)))  # not seen here
    writes = counting_writes(ledger)

    clashing = service(volunteer, organization, 30, start=DAY_ONE + timedelta(hours=2, minutes=15))
    fine = service(newcomer, organization, 30, start=DAY_ONE)
    results, answers = post_group(ledger, [clashing, fine])

    assert isinstance(results[0], OverlappingServiceError)
    assert isinstance(results[1], Posted) and results[1].created
    assert len(writes) >= 2 and writes[0] == 4  # the group refused by the store, then each alone
    assert [sorted(call) for call in answers.calls] == [[0], [1]]
    assert ledger.balance(volunteer.id).earned_minutes == 120
    assert ledger.balance(newcomer.id).earned_minutes == 30


def test_a_transaction_stored_before_is_answered_as_a_replay_from_a_group(ledger, other):
    here, there = AppWorld(ledger), AppWorld(other)
    organization = here.organization()
    volunteer = here.volunteer(organization)
    record = service(volunteer, organization, 60, start=DAY_ONE)
    original = there.post(record)

    results, _ = post_group(ledger, [record, service(volunteer, organization, 60, start=DAY_ONE + timedelta(hours=2))])

    assert (results[0].created, results[0].position) == (False, original.position)
    assert results[1].created
    assert ledger.balance(volunteer.id).earned_minutes == 120



def test_a_retry_of_a_redemption_made_here_goes_alone_and_spoils_no_group(ledger):
    # An exchange point on a flaky network sends a redemption again: the volunteer could pay
    # for it twice, so no rule refuses it, and taken for new its id would make the store
    # refuse the whole group it arrived with.
    world = AppWorld(ledger)
    organization = world.organization()
    volunteer, newcomer = world.volunteer(earned_minutes=200), world.volunteer(organization)
    point = world.point(mug=item(40, 5))
    sale = redemption(point, volunteer, ("mug", 1))
    original = ledger.post(SYSTEM, sale)
    writes = counting_writes(ledger)

    results, answers = post_group(
        ledger, [sale, service(newcomer, organization, 30, start=DAY_ONE), redemption(point, volunteer, ("mug", 2))]
    )

    assert (results[0].created, results[0].position) == (False, original.position)
    assert results[1].created and results[2].created
    # The two new postings written together at the first attempt, the retry answered after
    # them (from the store), and nothing written for it.
    assert len(writes) == 1
    assert [sorted(call) for call in answers.calls] == [[1, 2], [0]]
    assert ledger.balance(volunteer.id).available_minutes == 200 - 3 * 40
    assert world.stock(point, "mug") == 2
