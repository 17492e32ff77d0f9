"""Reversals: a mistake is corrected by posting the opposite entries, linked to the original."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import uuid4

import pytest

from ledger.commands import Reverse
from ledger.config import LedgerSettings
from ledger.errors import (
    AlreadyReversedError,
    InsufficientBalanceError,
    NotFoundError,
    NotReversibleError,
    TimebankCapExceededError,
    ValidationError,
)
from ledger.exchange_point import ExchangePoint
from ledger.organization import Organization
from ledger.volunteer import Volunteer
from tests.support.builders import (
    World,
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


@dataclass
class Scene:
    world: World
    organization: Organization
    first: Volunteer
    second: Volunteer
    point: ExchangePoint

    def balances(self) -> dict[str, int]:
        first = self.world.volunteer_now(self.first)
        return {
            "earned": first.earned_minutes,
            "redeemed": first.redeemed_minutes,
            "first timebank": self.world.timebank(self.first),
            "second timebank": self.world.timebank(self.second),
            "pool": self.world.pool(),
            "stock": self.world.stock(self.point, "tea"),
        }


@pytest.fixture
def scene() -> Scene:
    world = World()
    organization = world.organization()
    first = world.volunteer(organization, earned_minutes=600, timebank_minutes=600)
    second = world.volunteer(organization, timebank_minutes=300)
    world.post(donation(second, 200))  # the pool holds 200
    point = world.point(tea=item(30, 10))
    return Scene(world, organization, first, second, point)


ORIGINALS = {
    "service_record": lambda s: service(s.first, s.organization, 45),
    "timebank_deposit": lambda s: deposit(s.first, s.organization, 50),
    "timebank_withdrawal": lambda s: withdrawal(s.first, 50),
    "timebank_transfer": lambda s: transfer(s.first, s.second, 50),
    "timebank_donation": lambda s: donation(s.first, 50),
    "timebank_grant": lambda s: grant(s.first, 50),
    "redemption": lambda s: redemption(s.point, s.first, ("tea", 2)),
}


@pytest.mark.parametrize("kind", ORIGINALS)
def test_a_reversal_posts_the_opposite_legs_and_restores_every_balance(scene, kind):
    world = scene.world
    before = scene.balances()
    original = world.post(ORIGINALS[kind](scene))
    assert original.type == kind
    assert scene.balances() != before

    undo = world.post(reversal(original))

    assert scene.balances() == before
    assert undo.type == "reversal"
    assert undo.legs == [{"account": e["account"], "minutes": -e["minutes"]} for e in original.legs]
    assert undo.reverses == original.id
    assert world.transaction(original.id).reversed_by == undo.id
    assert undo.reversed_by is None


def test_a_transaction_is_reversed_only_once(scene):
    world = scene.world
    original = world.post(deposit(scene.first, scene.organization, 50))
    world.post(reversal(original))
    before = world.state()

    with pytest.raises(AlreadyReversedError):
        world.post(reversal(original))

    assert world.state() == before
    assert world.timebank(scene.first) == 600


def test_a_reversal_cannot_itself_be_reversed(scene):
    world = scene.world
    original = world.post(deposit(scene.first, scene.organization, 50))
    undo = world.post(reversal(original))

    with pytest.raises(NotReversibleError):
        world.post(reversal(undo))

    assert world.timebank(scene.first) == 600


def test_a_reversal_of_something_unknown_is_not_found(scene):
    with pytest.raises(NotFoundError):
        scene.world.post(reversal(uuid4()))
    with pytest.raises(NotFoundError):
        scene.world.post(reversal(scene.first))  # a volunteer is not a transaction


def test_a_reversal_cannot_reverse_itself():
    same = uuid4()
    with pytest.raises(ValidationError) as refused:
        Reverse(id=same, reverses=same, reason="oops")
    assert refused.value.field == "reverses"


def test_a_reversal_needs_a_reason():
    with pytest.raises(ValidationError) as refused:
        Reverse(id=uuid4(), reverses=uuid4(), reason="")
    assert refused.value.field == "reason"


def test_service_hours_already_redeemed_cannot_be_taken_back():
    world = World()
    organization = world.organization()
    volunteer = world.volunteer(organization)
    record = world.post(service(volunteer, organization, 120))
    point = world.point(rice=item(100, 5))
    world.post(redemption(point, volunteer, ("rice", 1)))
    before = world.state()

    with pytest.raises(InsufficientBalanceError):
        world.post(reversal(record))

    assert world.state() == before
    assert world.transaction(record.id).reversed_by is None


def test_a_deposit_already_withdrawn_cannot_be_reversed(scene):
    world = scene.world
    original = world.post(deposit(scene.second, scene.organization, 100))  # second: 100 + 100
    world.post(withdrawal(scene.second, 150))

    with pytest.raises(InsufficientBalanceError):
        world.post(reversal(original))

    assert world.timebank(scene.second) == 50


def test_a_transfer_already_spent_by_the_receiver_cannot_be_reversed(scene):
    world = scene.world
    original = world.post(transfer(scene.first, scene.second, 100))  # second: 100 + 100
    world.post(withdrawal(scene.second, 150))

    with pytest.raises(InsufficientBalanceError):
        world.post(reversal(original))

    assert (world.timebank(scene.first), world.timebank(scene.second)) == (500, 50)


def test_a_donation_already_granted_away_cannot_be_reversed(scene):
    world = scene.world
    original = world.post(donation(scene.first, 100))  # pool: 300
    world.post(grant(scene.second, 250))

    with pytest.raises(InsufficientBalanceError):
        world.post(reversal(original))

    assert (world.pool(), world.timebank(scene.first)) == (50, 500)


def test_a_grant_already_spent_cannot_be_reversed(scene):
    world = scene.world
    original = world.post(grant(scene.second, 200))  # second: 100 + 200
    world.post(withdrawal(scene.second, 250))

    with pytest.raises(InsufficientBalanceError):
        world.post(reversal(original))

    assert (world.pool(), world.timebank(scene.second)) == (0, 50)


def test_reversing_a_withdrawal_may_not_fill_the_account_above_the_cap():
    world = World(LedgerSettings(timebank_cap_minutes=1_000))
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=1_000)
    original = world.post(withdrawal(volunteer, 100))
    world.post(deposit(volunteer, organization, 100))

    with pytest.raises(TimebankCapExceededError):
        world.post(reversal(original))

    assert world.timebank(volunteer) == 1_000


def test_reversing_a_redemption_returns_the_stock_and_the_minutes(scene):
    world = scene.world
    original = world.post(redemption(scene.point, scene.first, ("tea", 10)))
    assert world.stock(scene.point, "tea") == 0

    world.post(reversal(original))

    assert world.stock(scene.point, "tea") == 10
    assert world.volunteer_now(scene.first).redeemed_minutes == 0
    world.post(redemption(scene.point, scene.first, ("tea", 10)))  # the returned stock is usable


def test_reversing_service_can_lower_the_star_level():
    world = World()
    organization = world.organization()
    volunteer = world.volunteer(organization, earned_minutes=5_990)
    thresholds = world.settings.star_thresholds_minutes
    record = world.post(service(volunteer, organization, 10))
    assert world.volunteer_now(volunteer).star_level(thresholds) == 1

    world.post(reversal(record))

    assert world.volunteer_now(volunteer).earned_minutes == 5_990
    assert world.volunteer_now(volunteer).star_level(thresholds) == 0


def test_a_retried_reversal_answers_the_first_one(scene):
    world = scene.world
    original = world.post(deposit(scene.first, scene.organization, 50))
    command = reversal(original)
    undo, _ = world.post_again(command)

    again, created = world.post_again(command)

    assert (again.id, created) == (undo.id, False)
    assert world.timebank(scene.first) == 600
