"""The exchange-point counter undoes its own mistakes (SPEC §7): its key may reverse a
redemption of its own point within HOUR_LEDGER_COUNTER_REVERSAL_HOURS of its posting, and
nothing else. Pure domain: `Posting` on aggregates held in memory, at a chosen `now`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ledger.config import LedgerSettings
from ledger.errors import ForbiddenError, NotFoundError, OutOfStockError, StarLevelTooLowError
from tests.support.builders import World, exchange_point_key, item, operator, redemption, reversal


def world_at(hours_after_now: float, window_hours: float = 24) -> World:
    """A world whose clock stands `hours_after_now` after the real time: transactions are
    recorded at the real time, so that is how long ago they will have been posted."""
    now = datetime.now(timezone.utc) + timedelta(hours=hours_after_now)
    return World(LedgerSettings(counter_reversal_hours=window_hours), now=now)


def scene(world: World):  # type: ignore[no-untyped-def]
    volunteer = world.volunteer(earned_minutes=600)
    point = world.point(umbrella=item(30, 5))
    counter = exchange_point_key(point)
    bought = world.post(redemption(point, volunteer, ("umbrella", 2)), counter)
    return volunteer, point, counter, bought


def test_a_counter_reverses_its_own_redemption_a_moment_later():
    world = world_at(0)
    volunteer, point, counter, bought = scene(world)

    undone = world.post(reversal(bought, reason="wrong item handed over"), counter)

    assert undone.posted_by["name"] == "counter"
    assert world.transaction(bought.id).reversed_by == undone.id
    assert world.stock(point, "umbrella") == 5
    assert world.volunteer_now(volunteer).available_minutes == 600


def test_inside_the_window_up_to_its_last_moment():
    world = world_at(23.99)
    _, point, counter, bought = scene(world)

    world.post(reversal(bought), counter)

    assert world.stock(point, "umbrella") == 5


def test_outside_the_window_it_is_an_operators_correction():
    world = world_at(24.01)
    volunteer, point, counter, bought = scene(world)
    before = world.state()

    with pytest.raises(ForbiddenError, match="within 24 hours") as refused:
        world.post(reversal(bought), counter)

    assert "ask an operator" in refused.value.detail
    assert world.state() == before
    world.post(reversal(bought), operator())  # an operator may, at any time
    assert world.stock(point, "umbrella") == 5


def test_the_window_is_a_setting():
    world = world_at(2, window_hours=1)
    _, _, counter, bought = scene(world)

    with pytest.raises(ForbiddenError, match="within 1 hours"):
        world.post(reversal(bought), counter)


def test_not_another_points_redemption():
    world = world_at(0)
    volunteer, _, _, _ = scene(world)
    other = world.point(umbrella=item(30, 5))
    theirs = world.post(redemption(other, volunteer, ("umbrella", 1)), exchange_point_key(other))
    mine = exchange_point_key(world.point())
    before = world.state()

    with pytest.raises(ForbiddenError, match="its own exchange point's redemptions"):
        world.post(reversal(theirs), mine)

    assert world.state() == before


def test_nothing_but_redemptions_not_even_a_reversal():
    world = world_at(0)
    _, _, counter, bought = scene(world)
    undone = world.post(reversal(bought), operator())
    before = world.state()

    with pytest.raises(ForbiddenError, match="only redemptions"):
        world.post(reversal(undone), counter)

    assert world.state() == before


def test_an_unknown_transaction_is_not_found():
    world = world_at(0)
    _, _, counter, _ = scene(world)

    with pytest.raises(NotFoundError):
        world.post(reversal(World().organization()), counter)


def test_its_reversal_sent_again_after_the_window_answers_the_original():
    world = world_at(0)
    _, point, counter, bought = scene(world)
    command = reversal(bought)
    first = world.post(command, counter)

    world.now += timedelta(hours=48)
    again, created = world.post_again(command, counter)

    assert (again.id, created) == (first.id, False)
    assert world.stock(point, "umbrella") == 5


def test_stock_and_star_errors_name_the_item():
    world = World()
    volunteer = world.volunteer(earned_minutes=60)
    point = world.point()
    point.put_item("umbrella", "雨伞", 30, 0, 0, {})
    point.put_item("medal", "志愿者勋章", 10, 5, 1, {})
    world.keep(point)

    with pytest.raises(OutOfStockError, match=r"item '雨伞 \(umbrella\)': 0 in stock, 1 asked"):
        world.post(redemption(point, volunteer, ("umbrella", 1)))
    with pytest.raises(StarLevelTooLowError, match=r"item '志愿者勋章 \(medal\)' needs star level 1"):
        world.post(redemption(point, volunteer, ("medal", 1)))


def test_a_receipt_names_each_item_as_the_catalogue_named_it_then():
    world = World()
    volunteer = world.volunteer(earned_minutes=600)
    point = world.point()
    point.put_item("umbrella", "雨伞", 30, 5, 0, {})
    world.keep(point)

    bought = world.post(redemption(point, volunteer, ("umbrella", 1)))
    renamed = world.get(type(point), point.id)
    renamed.put_item("umbrella", "折叠伞", 30, 4, 0, {})
    world.keep(renamed)

    assert bought.details["lines"] == [{"sku": "umbrella", "name": "雨伞", "quantity": 1, "price_minutes": 30}]
