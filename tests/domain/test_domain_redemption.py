"""Redemptions at reward-exchange points (嘉许礼遇兑换), proved on aggregates in memory."""

from __future__ import annotations

from uuid import uuid4

import pytest

from ledger.commands import Redeem, RedemptionLine
from ledger.config import LedgerSettings
from ledger.errors import (
    InsufficientBalanceError,
    NotFoundError,
    OutOfStockError,
    StarLevelTooLowError,
    ValidationError,
)
from ledger.posting import PICKUP_ALPHABET
from tests.support.builders import World, item, legs_by_account, redemption


@pytest.fixture
def world() -> World:
    return World()


def test_a_redemption_costs_price_times_quantity_and_takes_the_stock(world):
    volunteer = world.volunteer(earned_minutes=600)
    point = world.point(rice=item(120, 10), towel=item(30, 5))

    posted = world.post(redemption(point, volunteer, ("rice", 2), ("towel", 3)))

    assert posted.details["minutes"] == 2 * 120 + 3 * 30
    assert world.volunteer_now(volunteer).redeemed_minutes == 330
    assert world.volunteer_now(volunteer).available_minutes == 270
    assert world.volunteer_now(volunteer).earned_minutes == 600  # the star rating is untouched
    assert (world.stock(point, "rice"), world.stock(point, "towel")) == (8, 2)
    assert legs_by_account(posted) == {
        f"volunteer:{volunteer.id}:service": -330,
        f"point:{point.id}": 330,
    }
    assert sorted(posted.details["lines"], key=lambda line: line["sku"]) == [
        {"sku": "rice", "name": "rice", "quantity": 2, "price_minutes": 120},
        {"sku": "towel", "name": "towel", "quantity": 3, "price_minutes": 30},
    ]


def test_lines_of_the_same_item_add_up(world):
    volunteer = world.volunteer(earned_minutes=600)
    point = world.point(towel=item(30, 5))

    posted = world.post(redemption(point, volunteer, ("towel", 2), ("towel", 3)))

    assert posted.details["minutes"] == 150
    assert world.stock(point, "towel") == 0


def test_a_redemption_answers_a_six_character_pickup_code(world):
    volunteer = world.volunteer(earned_minutes=600)
    point = world.point(towel=item(30, 5))

    codes = [world.post(redemption(point, volunteer, ("towel", 1))).details["pickup_code"] for _ in range(3)]

    for code in codes:
        assert len(code) == 6
        assert set(code) <= set(PICKUP_ALPHABET)
    assert not set("01IO") & set(PICKUP_ALPHABET)  # nothing to misread at a counter


def test_a_volunteer_cannot_redeem_more_than_available(world):
    volunteer = world.volunteer(earned_minutes=100)
    point = world.point(rice=item(120, 10))
    before = world.state()

    with pytest.raises(InsufficientBalanceError):
        world.post(redemption(point, volunteer, ("rice", 1)))

    assert world.state() == before
    assert world.stock(point, "rice") == 10


def test_a_volunteer_can_spend_every_available_minute(world):
    volunteer = world.volunteer(earned_minutes=240)
    point = world.point(rice=item(120, 10))

    world.post(redemption(point, volunteer, ("rice", 2)))

    assert world.volunteer_now(volunteer).available_minutes == 0
    with pytest.raises(InsufficientBalanceError):
        world.post(redemption(point, volunteer, ("rice", 1)))


def test_a_redemption_of_more_than_the_stock_is_refused(world):
    volunteer = world.volunteer(earned_minutes=600)
    point = world.point(towel=item(30, 3))

    with pytest.raises(OutOfStockError):
        world.post(redemption(point, volunteer, ("towel", 4)))
    world.post(redemption(point, volunteer, ("towel", 3)))
    with pytest.raises(OutOfStockError):
        world.post(redemption(point, volunteer, ("towel", 1)))

    assert world.stock(point, "towel") == 0
    assert world.volunteer_now(volunteer).redeemed_minutes == 90


def test_a_redemption_takes_every_line_or_none(world):
    volunteer = world.volunteer(earned_minutes=600)
    point = world.point(rice=item(120, 10), towel=item(30, 1))
    before = world.state()

    with pytest.raises(OutOfStockError):
        world.post(redemption(point, volunteer, ("rice", 1), ("towel", 2)))

    assert world.state() == before


def test_an_item_for_starred_volunteers_needs_that_star_level(world):
    point = world.point(concert_ticket=item(60, 5, min_star=1))
    almost = world.volunteer(earned_minutes=5_999)  # 99 h 59 min: no star yet
    starred = world.volunteer(earned_minutes=6_000)  # 100 h: ★1

    with pytest.raises(StarLevelTooLowError):
        world.post(redemption(point, almost, ("concert_ticket", 1)))
    world.post(redemption(point, starred, ("concert_ticket", 1)))

    assert world.stock(point, "concert_ticket") == 4
    assert world.volunteer_now(almost).redeemed_minutes == 0


def test_star_levels_for_items_follow_the_configured_thresholds():
    world = World(LedgerSettings.from_env({"HOUR_LEDGER_STAR_THRESHOLDS_HOURS": "1,2,3,4,5"}))
    point = world.point(park_pass=item(10, 5, min_star=2))
    one_star = world.volunteer(earned_minutes=119)
    two_stars = world.volunteer(earned_minutes=120)

    with pytest.raises(StarLevelTooLowError):
        world.post(redemption(point, one_star, ("park_pass", 1)))
    world.post(redemption(point, two_stars, ("park_pass", 1)))

    assert world.stock(point, "park_pass") == 4


def test_an_unknown_item_or_point_is_not_found(world):
    volunteer = world.volunteer(earned_minutes=600)
    point = world.point(rice=item(120, 10))

    with pytest.raises(NotFoundError):
        world.post(redemption(point, volunteer, ("bicycle", 1)))
    with pytest.raises(NotFoundError):
        world.post(redemption(uuid4(), volunteer, ("rice", 1)))
    with pytest.raises(NotFoundError):
        world.post(redemption(point, uuid4(), ("rice", 1)))
    assert world.stock(point, "rice") == 10


def test_a_free_item_takes_stock_but_no_minutes(world):
    volunteer = world.volunteer()
    point = world.point(leaflet=item(0, 2))

    posted = world.post(redemption(point, volunteer, ("leaflet", 2)))

    assert posted.details["minutes"] == 0
    assert world.stock(point, "leaflet") == 0
    assert world.volunteer_now(volunteer).redeemed_minutes == 0


@pytest.mark.parametrize("quantity", [0, -1, 10_001, True])
def test_a_line_takes_one_to_ten_thousand_of_an_item(quantity):
    with pytest.raises(ValidationError) as refused:
        RedemptionLine(sku="rice", quantity=quantity)
    assert refused.value.field == "items.quantity"


def test_a_redemption_takes_at_least_one_line():
    with pytest.raises(ValidationError) as refused:
        Redeem(id=uuid4(), exchange_point_id=uuid4(), volunteer_id=uuid4(), items=())
    assert refused.value.field == "items"


def test_a_retried_redemption_charges_and_takes_stock_once(world):
    volunteer = world.volunteer(earned_minutes=600)
    point = world.point(rice=item(120, 10))
    command = redemption(point, volunteer, ("rice", 1))
    first, _ = world.post_again(command)

    again, created = world.post_again(command)

    assert created is False
    assert again.details["pickup_code"] == first.details["pickup_code"]
    assert world.stock(point, "rice") == 9
    assert world.volunteer_now(volunteer).redeemed_minutes == 120
