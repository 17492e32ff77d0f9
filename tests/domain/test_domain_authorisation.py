"""Who may post what: exchange-point keys, auditors and region-scoped operators (SPEC §3 roles)."""

from __future__ import annotations

import pytest

from ledger.actors import SYSTEM, Actor, Role
from ledger.errors import ForbiddenError
from tests.support.builders import (
    CHANGZHOU,
    JINHU,
    XUYI,
    World,
    auditor,
    deposit,
    donation,
    exchange_point_key,
    grant,
    item,
    operator,
    redemption,
    reversal,
    service,
    transfer,
    withdrawal,
)


@pytest.fixture
def world() -> World:
    return World()


def test_an_exchange_point_key_redeems_at_its_own_point(world):
    volunteer = world.volunteer(earned_minutes=600)
    point = world.point(rice=item(100, 5))

    posted = world.post(redemption(point, volunteer, ("rice", 1)), exchange_point_key(point))

    assert world.stock(point, "rice") == 4
    assert posted.posted_by["name"] == "counter"


def test_an_exchange_point_key_cannot_redeem_at_another_point(world):
    volunteer = world.volunteer(earned_minutes=600)
    own = world.point(rice=item(100, 5))
    other = world.point(rice=item(100, 5))
    before = world.state()

    with pytest.raises(ForbiddenError):
        world.post(redemption(other, volunteer, ("rice", 1)), exchange_point_key(own))

    assert world.state() == before


def test_an_exchange_point_key_may_post_nothing_but_redemptions(world):
    # ... and reversals of its own point's recent redemptions: tests/domain/test_domain_counter.py.
    organization = world.organization()
    volunteer = world.volunteer(organization, earned_minutes=600, timebank_minutes=300)
    point = world.point(rice=item(100, 5))
    key = exchange_point_key(point)
    deposited = world.post(deposit(volunteer, organization, 30))
    before = world.state()

    for command in (
        service(volunteer, organization, 30),
        deposit(volunteer, organization, 30),
        withdrawal(volunteer, 30),
        reversal(deposited),  # not a redemption
    ):
        with pytest.raises(ForbiddenError):
            world.post(command, key)

    assert world.state() == before


@pytest.mark.parametrize(
    "build",
    [
        lambda s: service(s["volunteer"], s["organization"], 30),
        lambda s: deposit(s["volunteer"], s["organization"], 30),
        lambda s: withdrawal(s["volunteer"], 30),
        lambda s: transfer(s["volunteer"], s["other"], 30),
        lambda s: donation(s["volunteer"], 30),
        lambda s: grant(s["volunteer"], 30),
        lambda s: redemption(s["point"], s["volunteer"], ("rice", 1)),
        lambda s: reversal(s["earlier"]),
    ],
    ids=["service", "deposit", "withdrawal", "transfer", "donation", "grant", "redemption", "reversal"],
)
def test_an_auditor_may_not_post(world, build):
    organization = world.organization()
    scene = {
        "organization": organization,
        "volunteer": world.volunteer(organization, earned_minutes=600, timebank_minutes=300),
        "other": world.volunteer(organization, timebank_minutes=0),
        "point": world.point(rice=item(100, 5)),
    }
    scene["earlier"] = world.post(deposit(scene["volunteer"], organization, 10))
    before = world.state()

    with pytest.raises(ForbiddenError):
        world.post(build(scene), auditor())

    assert world.state() == before


def test_a_region_scoped_operator_posts_inside_its_region(world):
    organization = world.organization(XUYI)
    volunteer = world.volunteer(organization, region_code=XUYI + "100", timebank_minutes=0)

    world.post(deposit(volunteer, organization, 60), operator("3208"))
    world.post(service(volunteer, organization, 60), operator(XUYI))

    assert world.timebank(volunteer) == 60
    assert world.volunteer_now(volunteer).earned_minutes == 60


def test_a_region_scoped_operator_is_forbidden_outside_its_prefix(world):
    xuyi_org = world.organization(XUYI)
    jinhu_org = world.organization(JINHU)
    in_xuyi = world.volunteer(xuyi_org, region_code=XUYI, earned_minutes=600, timebank_minutes=300)
    in_jinhu = world.volunteer(jinhu_org, region_code=JINHU, earned_minutes=600, timebank_minutes=300)
    jinhu_point = world.point(JINHU, rice=item(100, 5))
    jinhu_record = world.post(service(in_jinhu, jinhu_org, 30))
    key = operator(XUYI)
    before = world.state()

    for command in (
        service(in_jinhu, xuyi_org, 30),  # the volunteer is outside
        service(in_xuyi, jinhu_org, 30),  # the organisation is outside
        withdrawal(in_jinhu, 30),
        transfer(in_xuyi, in_jinhu, 30),  # the receiver is outside
        redemption(jinhu_point, in_xuyi, ("rice", 1)),  # the point is outside
        reversal(jinhu_record),  # what it reverses is outside
    ):
        with pytest.raises(ForbiddenError):
            world.post(command, key)

    assert world.state() == before


def test_a_key_scoped_to_a_province_covers_its_cities(world):
    organization = world.organization(CHANGZHOU)
    volunteer = world.volunteer(organization, region_code=CHANGZHOU + "02", timebank_minutes=0)

    world.post(deposit(volunteer, organization, 60), operator("32"))
    with pytest.raises(ForbiddenError):
        world.post(deposit(volunteer, organization, 60), operator("31"))

    assert world.timebank(volunteer) == 60


def test_roles_that_may_write():
    SYSTEM.may_write()
    operator().may_write()
    for role in (Role.AUDITOR, Role.EXCHANGE_POINT):
        with pytest.raises(ForbiddenError):
            Actor(key_id=None, name="k", role=role).may_write()


def test_every_posted_transaction_names_who_posted_it(world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)
    key = operator()

    posted = world.post(deposit(volunteer, organization, 60), key)

    assert posted.posted_by == {"key_id": str(key.key_id), "name": key.name}
