"""Replay and compare (projections.audit.replay, SPEC §6): from the events alone, on both stores."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from ledger.application import HourLedger
from ledger.exchange_point import ExchangePoint
from ledger.pool import POOL_ID
from projections import ReadModels
from projections.audit.replay import Difference, ReplayReport, replay
from tests.support.builders import (
    AppWorld,
    deposit,
    donation,
    grant,
    item,
    redemption,
    reversal,
    service,
    transfer,
    withdrawal,
)
from tests.support.read_model_rows import execute


@pytest.fixture
def models(ledger: HourLedger) -> Iterator[ReadModels]:
    read_models = ReadModels(ledger)
    try:
        yield read_models
    finally:
        read_models.stop()


def stored_events(ledger: HourLedger) -> int:
    return len(ledger.recorder.select_notifications(0, 1_000_000, inclusive_of_start=False))


def every_transaction_type(ledger: HourLedger) -> dict[str, Any]:
    world = AppWorld(ledger)
    org = world.organization()
    alice = world.volunteer(org, earned_minutes=600, timebank_minutes=300)
    bob = world.volunteer(org, timebank_minutes=0)
    carol = world.volunteer(org)  # no time bank
    point = world.point(tea=item(30, 10), rice=item(60, 5))
    posted = [
        world.post(redemption(point, alice, ("tea", 2), ("rice", 1))),
        world.post(withdrawal(alice, 40)),
        world.post(transfer(alice, bob, 50)),
        world.post(donation(alice, 70)),
        world.post(grant(bob, 20)),
        world.post(deposit(bob, org, 15)),
    ]
    bought = world.post(redemption(point, alice, ("tea", 1)))
    world.post(reversal(bought.transaction))
    record = world.post(service(carol, org, 45))
    world.post(reversal(record.transaction))
    world.post(service(carol, org, 25))
    world.post(reversal(posted[-1].transaction))  # the deposit
    return {"org": org, "alice": alice, "bob": bob, "carol": carol, "point": point}


def test_a_world_with_every_transaction_type_replays_without_a_difference(ledger: HourLedger, models: ReadModels) -> None:
    every_transaction_type(ledger)
    seen: list[tuple[int, int]] = []

    report = replay(ledger, models, progress=lambda done, total: seen.append((done, total)))

    assert isinstance(report, ReplayReport)
    assert report.differences == [] and report.ok
    assert report.events == stored_events(ledger)
    assert report.volunteers == 3
    # alice: 1 service record (600 minutes) and a deposit; 6 postings; a redemption and its
    # reversal; carol: a record, its reversal, another record; the deposit's reversal.
    assert report.transactions == 2 + 6 + 2 + 3 + 1
    assert seen and seen[-1][0] == ledger.recorder.max_notification_id()


def test_without_read_models_the_events_and_the_stored_aggregates_still_agree(ledger: HourLedger) -> None:
    every_transaction_type(ledger)
    report = replay(ledger, None)
    assert report.ok, report.differences
    assert report.volunteers == 3


def test_a_read_model_row_changed_by_hand_is_listed_with_what_the_events_say(
    ledger: HourLedger, models: ReadModels
) -> None:
    world = every_transaction_type(ledger)
    alice, bob = world["alice"].id, world["bob"].id
    balance = ledger.balance(alice)
    bob_balance = ledger.balance(bob).timebank_balance_minutes
    models.catch_up()

    execute(ledger, models, "UPDATE {bal_volunteer} SET earned = earned + 30 WHERE volunteer_id = ?", str(alice))
    execute(
        ledger, models, "UPDATE {bal_volunteer} SET timebank_balance = timebank_balance - 15 WHERE volunteer_id = ?",
        str(bob),
    )

    report = replay(ledger, models)

    assert not report.ok
    assert sorted(report.differences, key=lambda d: d.what) == sorted([
        Difference(f"volunteer {alice}: service earned_minutes in the read models",
                   balance.earned_minutes, balance.earned_minutes + 30),
        Difference(f"volunteer {alice}: service available_minutes in the read models",
                   balance.available_minutes, balance.available_minutes + 30),
        Difference(f"volunteer {bob}: timebank balance_minutes in the read models", bob_balance, bob_balance - 15),
    ], key=lambda d: d.what)


def test_as_of_between_two_postings_replays_the_balances_of_that_moment(ledger: HourLedger, models: ReadModels) -> None:
    world = AppWorld(ledger)
    org = world.organization()
    volunteer = world.volunteer(org, timebank_minutes=100)
    point = world.point(tea=item(20, 3))
    world.post(service(volunteer, org, 60))
    events_then = stored_events(ledger)
    time.sleep(0.01)
    moment = datetime.now(timezone.utc)
    time.sleep(0.01)
    world.post(service(volunteer, org, 90))
    world.post(redemption(point, volunteer, ("tea", 2)))
    world.post(donation(volunteer, 30))

    report = replay(ledger, models, as_of=moment)

    assert report.ok, report.differences
    assert report.events == events_then
    assert report.transactions == 2  # the deposit and the first service record
    then = models.balance(volunteer.id, moment)
    assert then["service"]["earned_minutes"] == 60 and then["service"]["redeemed_minutes"] == 0
    assert then["timebank"] == {"open": True, "balance_minutes": 100}

    # The figures compared are those of the moment: an entry of before it, changed by hand,
    # shows against 60 earned minutes (and not against the 150 of now).
    execute(
        ledger, models,
        "UPDATE {bal_entry} SET earned_after = earned_after + 1 WHERE volunteer_id = ? AND book = 'service'"
        " AND seq = 1",
        str(volunteer.id),
    )
    report = replay(ledger, models, as_of=moment)
    assert {(d.what, d.expected, d.found) for d in report.differences} == {
        (f"volunteer {volunteer.id}: service earned_minutes in the read models", 60, 61),
        (f"volunteer {volunteer.id}: service available_minutes in the read models", 60, 61),
    }
    assert replay(ledger, models).ok  # now: the last entry is what a balance reads


def test_a_tampered_snapshot_shows_in_the_aggregates_as_loaded(ledger: HourLedger) -> None:
    world = AppWorld(ledger)
    org = world.organization()
    volunteer = world.volunteer(org, earned_minutes=120, timebank_minutes=0)
    point = world.point(tea=item(20, 3))
    world.post(redemption(point, volunteer, ("tea", 1)))
    world.post(deposit(volunteer, org, 50))
    world.post(donation(volunteer, 20))

    forged = ledger.repository.get(point.id)
    forged.items["tea"]["stock"] = 999
    snapshot_class = getattr(ExchangePoint, "Snapshot", None) or ledger.snapshot_class
    ledger.snapshots.put([snapshot_class.take(forged)])
    pool = ledger.repository.get(POOL_ID)
    pool.balance_minutes = 5
    ledger.snapshots.put([snapshot_class.take(pool)])

    report = replay(ledger, None)

    assert {(d.what, d.expected, d.found) for d in report.differences} == {
        (f"exchange point {point.id}: stock of 'tea' as loaded (with snapshots)", 2, 999),
        ("community pool: balance_minutes as loaded (with snapshots)", 20, 5),
    }
