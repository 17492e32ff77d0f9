"""Requests racing for the same hours, stock or transaction id, with real threads on both stores.

Twenty threads start together (a barrier) against one application, and against two
applications on the same store (two processes' worth of repositories and connection pools).
Whatever the interleaving, no two of them spend the same minutes or the same item.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import pytest

from ledger.application import HourLedger, Posted
from ledger.commands import Command
from ledger.errors import InsufficientBalanceError, LedgerError, OutOfStockError, TimebankAlreadyOpenError
from tests.support.builders import AppWorld, deposit, donation, grant, item, redemption, reversal, service, transfer, withdrawal

THREADS = 20


@pytest.fixture(params=["one app", "two apps"])
def apps(request: pytest.FixtureRequest, ledger: HourLedger, store_env: dict[str, str]) -> Iterator[list[HourLedger]]:
    """The applications the threads post through, in turn."""
    if request.param == "one app":
        yield [ledger]
        return
    other = HourLedger(env=store_env)
    try:
        yield [ledger, other]
    finally:
        other.close()


def race(apps: Sequence[HourLedger], actor: Any, commands: Sequence[Command]) -> list[Posted | LedgerError]:
    """Posts each command from a thread of its own, all released at once; the outcomes in order."""
    assert len(commands) == THREADS
    return race_calls(apps, lambda app, index: app.post(actor, commands[index]))


def race_calls(apps: Sequence[HourLedger], call: Callable[[HourLedger, int], Any]) -> list[Any]:
    """`call(app, index)` from THREADS threads released together by a barrier; the answers
    (or the ledger's refusals) in order."""
    start = threading.Barrier(THREADS)

    def run(index: int) -> Any:
        start.wait(timeout=30)
        try:
            return call(apps[index % len(apps)], index)
        except LedgerError as error:
            return error

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(run, range(THREADS)))


def split(outcomes: list[Posted | LedgerError]) -> tuple[list[Posted], list[LedgerError]]:
    posted = [o for o in outcomes if isinstance(o, Posted)]
    refused = [o for o in outcomes if isinstance(o, LedgerError)]
    assert len(posted) + len(refused) == len(outcomes)
    return posted, refused


def kinds(errors: list[LedgerError]) -> set[type]:
    return {type(e) for e in errors}


def test_twenty_withdrawals_from_a_balance_that_covers_five(apps, actor):
    world = AppWorld(apps[0], actor)
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=5 * 60)

    outcomes = race(apps, actor, [withdrawal(volunteer, 60) for _ in range(THREADS)])

    posted, refused = split(outcomes)
    assert len(posted) == 5 and all(p.created for p in posted)
    assert kinds(refused) == {InsufficientBalanceError}
    assert world.timebank(volunteer) == 0
    for app in apps:
        assert app.balance(volunteer.id).timebank_balance_minutes == 0
    assert len({p.position for p in posted}) == 5


def test_twenty_redemptions_from_service_hours_that_cover_five(apps, actor):
    world = AppWorld(apps[0], actor)
    volunteer = world.volunteer(earned_minutes=5 * 30)
    point = world.point(tea=item(30, 100))

    outcomes = race(apps, actor, [redemption(point, volunteer, ("tea", 1)) for _ in range(THREADS)])

    posted, refused = split(outcomes)
    assert len(posted) == 5
    assert kinds(refused) == {InsufficientBalanceError}
    balance = apps[-1].balance(volunteer.id)
    assert (balance.redeemed_minutes, balance.available_minutes) == (150, 0)
    assert world.stock(point, "tea") == 95


def test_twenty_posts_of_one_transaction_id_record_it_once(apps, actor):
    world = AppWorld(apps[0], actor)
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)
    command = deposit(volunteer, organization, 45)

    outcomes = race(apps, actor, [command] * THREADS)

    posted, refused = split(outcomes)
    assert refused == []
    assert sum(p.created for p in posted) == 1
    assert {p.transaction.id for p in posted} == {command.id}
    assert {p.transaction.fingerprint for p in posted} == {command.fingerprint()}
    assert len({p.position for p in posted}) == 1
    assert len(apps[0].recorder.select_events(command.id)) == 1  # one Transaction, never changed
    assert world.timebank(volunteer) == 45  # credited once


def test_twenty_volunteers_racing_for_the_last_three_items(apps, actor):
    world = AppWorld(apps[0], actor)
    organization = world.organization()
    volunteers = [apps[0].register_volunteer(actor, f"volunteer {i}", "320830").aggregate for i in range(THREADS)]
    earned = apps[0].post_batch(actor, [service(v, organization, 600) for v in volunteers], atomic=True)
    assert all(isinstance(p, Posted) for p in earned)
    point = world.point(lantern=item(60, 3))

    outcomes = race(apps, actor, [redemption(point, v, ("lantern", 1)) for v in volunteers])

    posted, refused = split(outcomes)
    assert len(posted) == 3
    assert kinds(refused) == {OutOfStockError}
    assert world.stock(point, "lantern") == 0
    winners = {p.transaction.content["volunteer_id"] for p in posted}
    for volunteer in volunteers:
        redeemed = apps[-1].balance(volunteer.id).redeemed_minutes
        assert redeemed == (60 if str(volunteer.id) in winners else 0)


def test_twenty_donations_race_to_start_the_community_pool(apps, actor):
    """The pool is a singleton created by the first donation: every racer's minutes arrive."""
    world = AppWorld(apps[0], actor)
    organization = world.organization()
    volunteers = [apps[0].register_volunteer(actor, f"donor {i}", "320830").aggregate for i in range(THREADS)]
    for volunteer in volunteers:
        apps[0].open_timebank(actor, volunteer.id)
    funded = apps[0].post_batch(actor, [deposit(v, organization, 100) for v in volunteers], atomic=True)
    assert all(isinstance(p, Posted) for p in funded)

    outcomes = race(apps, actor, [donation(v, 10 + i) for i, v in enumerate(volunteers)])

    posted, refused = split(outcomes)
    assert refused == [] and len(posted) == THREADS
    assert apps[-1].pool_balance_minutes() == sum(10 + i for i in range(THREADS))


def test_twenty_requests_open_one_time_bank_account(apps, actor):
    world = AppWorld(apps[0], actor)
    volunteer = world.volunteer()

    outcomes = race_calls(apps, lambda app, _: app.open_timebank(actor, volunteer.id))

    opened = [o for o in outcomes if not isinstance(o, LedgerError)]
    assert len(opened) == 1 and opened[0].created
    assert kinds([o for o in outcomes if isinstance(o, LedgerError)]) == {TimebankAlreadyOpenError}
    assert apps[0].balance(volunteer.id).timebank_open


def test_twenty_registrations_with_one_client_chosen_id(apps, actor):
    chosen = uuid4()

    outcomes = race_calls(apps, lambda app, _: app.register_exchange_point(actor, "Jinhu civic centre", "320831", id=chosen))

    assert not [o for o in outcomes if isinstance(o, LedgerError)]
    assert sum(o.created for o in outcomes) == 1
    assert {o.aggregate.id for o in outcomes} == {chosen}
    assert len(apps[0].recorder.select_events(chosen)) == 1


def _replay_race_scenarios() -> dict[str, Callable[[AppWorld], Command]]:
    """For each transaction type, a command whose second application would break a rule:
    a replay racing the first post must still answer the original, never that rule."""

    def service_record(world: AppWorld) -> Command:
        organization = world.organization()
        return service(world.volunteer(organization), organization, 60)  # overlaps itself

    def timebank_deposit(world: AppWorld) -> Command:
        organization = world.organization()
        volunteer = world.volunteer(organization, timebank_minutes=0)
        return deposit(volunteer, organization, world.app.settings.timebank_cap_minutes)  # cap

    def timebank_withdrawal(world: AppWorld) -> Command:
        return withdrawal(world.volunteer(timebank_minutes=90), 90)  # balance

    def timebank_transfer(world: AppWorld) -> Command:
        return transfer(world.volunteer(timebank_minutes=90), world.volunteer(timebank_minutes=0), 90)

    def timebank_donation(world: AppWorld) -> Command:
        return donation(world.volunteer(timebank_minutes=90), 90)

    def timebank_grant(world: AppWorld) -> Command:
        world.post(donation(world.volunteer(timebank_minutes=90), 90))
        return grant(world.volunteer(timebank_minutes=0), world.app.pool_balance_minutes())  # the pool

    def redemption_(world: AppWorld) -> Command:
        return redemption(world.point(tea=item(30, 1)), world.volunteer(earned_minutes=30), ("tea", 1))

    def reversal_(world: AppWorld) -> Command:
        organization = world.organization()
        original = world.post(service(world.volunteer(organization), organization, 60))
        return reversal(original.transaction)  # already reversed

    return {
        "service_record": service_record,
        "timebank_deposit": timebank_deposit,
        "timebank_withdrawal": timebank_withdrawal,
        "timebank_transfer": timebank_transfer,
        "timebank_donation": timebank_donation,
        "timebank_grant": timebank_grant,
        "redemption": redemption_,
        "reversal": reversal_,
    }


@pytest.mark.parametrize("kind", sorted(_replay_race_scenarios()))
def test_twenty_replays_of_any_type_answer_the_original_never_a_rule(apps, actor, kind):
    command = _replay_race_scenarios()[kind](AppWorld(apps[0], actor))

    outcomes = race(apps, actor, [command] * THREADS)

    posted, refused = split(outcomes)
    assert refused == [], {type(e).__name__ for e in refused}
    assert sum(p.created for p in posted) == 1
    assert {p.transaction.id for p in posted} == {command.id}
    assert len({p.position for p in posted}) == 1


def test_twenty_atomic_batches_replaying_one_another_answer_the_originals(apps, actor):
    world = AppWorld(apps[0], actor)
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=90)
    batch = [service(volunteer, organization, 60), withdrawal(volunteer, 90)]

    outcomes = race_calls(apps, lambda app, _: app.post_batch(actor, batch, atomic=True))

    for results in outcomes:
        assert all(isinstance(r, Posted) for r in results), results
    assert sum(r.created for results in outcomes for r in results) == 2
    assert world.timebank(volunteer) == 0
