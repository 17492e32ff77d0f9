"""The ledger's rules, proved on aggregates in memory: service records, the time bank, double
entry, star levels and idempotency. No store, no clock: `Posting` runs at a fixed `NOW`."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from ledger.commands import RecordService
from ledger.config import DEFAULT_TIMEBANK_CAP_MINUTES, LedgerSettings
from ledger.errors import (
    InsufficientBalanceError,
    NotFoundError,
    OverlappingServiceError,
    TimebankCapExceededError,
    TimebankNotOpenError,
    TransactionIdConflictError,
    ValidationError,
)
from ledger.transaction import Transaction, UnbalancedLegsError
from ledger.vocabulary import MAX_MINUTES, NATIONAL_THRESHOLDS_MINUTES, star_level
from tests.support.builders import (
    CST,
    DAY_ONE,
    NOW,
    UTC,
    World,
    deposit,
    donation,
    grant,
    item,
    legs_by_account,
    legs_sum,
    redemption,
    reversal,
    service,
    transfer,
    withdrawal,
)


@pytest.fixture
def world() -> World:
    return World()


# Service records ----------------------------------------------------------------------


def test_a_service_record_credits_the_whole_minutes_served_rounded_down(world):
    organization = world.organization()
    volunteer = world.volunteer(organization)
    start = datetime(2026, 2, 1, 9, 0, 0, tzinfo=UTC)

    posted = world.post(service(volunteer, organization, start=start, end=start + timedelta(minutes=90, seconds=59)))

    assert posted.details["minutes"] == 90
    assert world.volunteer_now(volunteer).earned_minutes == 90
    assert world.volunteer_now(volunteer).available_minutes == 90
    assert legs_by_account(posted) == {
        f"volunteer:{volunteer.id}:service": 90,
        f"org:{organization.id}:service": -90,
    }


@pytest.mark.parametrize(
    "length",
    [timedelta(seconds=59), timedelta(0), timedelta(minutes=-30), timedelta(minutes=1441)],
    ids=["59 seconds", "zero", "ends before it starts", "1441 minutes"],
)
def test_a_service_record_lasts_one_to_1440_whole_minutes(length):
    with pytest.raises(ValidationError) as refused:
        service(uuid4(), uuid4(), start=DAY_ONE, end=DAY_ONE + length)
    assert refused.value.field == "ended_at"


@pytest.mark.parametrize("minutes", [1, 1440])
def test_a_service_record_of_one_minute_or_a_whole_day_is_accepted(world, minutes):
    organization = world.organization()
    volunteer = world.volunteer(organization)

    world.post(service(volunteer, organization, minutes))

    assert world.volunteer_now(volunteer).earned_minutes == minutes


def test_service_cannot_end_in_the_future(world):
    organization = world.organization()
    volunteer = world.volunteer(organization)
    before = world.state()

    with pytest.raises(ValidationError) as refused:
        world.post(service(volunteer, organization, start=NOW - timedelta(minutes=30), end=NOW + timedelta(minutes=1)))

    assert refused.value.field == "ended_at"
    assert world.state() == before


def test_service_may_end_right_now(world):
    organization = world.organization()
    volunteer = world.volunteer(organization)

    world.post(service(volunteer, organization, start=NOW - timedelta(minutes=30), end=NOW))

    assert world.volunteer_now(volunteer).earned_minutes == 30


@pytest.mark.parametrize("naive", ["started_at", "ended_at"])
def test_service_timestamps_without_a_zone_are_refused(naive):
    start, end = DAY_ONE, DAY_ONE + timedelta(hours=1)
    times = {"started_at": start, "ended_at": end}
    times[naive] = times[naive].replace(tzinfo=None)

    with pytest.raises(ValidationError) as refused:
        RecordService(id=uuid4(), volunteer_id=uuid4(), organization_id=uuid4(), category="care", **times)

    assert refused.value.field == naive


def test_a_service_record_needs_a_category():
    with pytest.raises(ValidationError) as refused:
        RecordService(
            id=uuid4(), volunteer_id=uuid4(), organization_id=uuid4(), category="  ",
            started_at=DAY_ONE, ended_at=DAY_ONE + timedelta(hours=1),
        )
    assert refused.value.field == "category"


def test_service_that_overlaps_an_earlier_record_of_the_volunteer_is_refused(world):
    organization = world.organization()
    volunteer = world.volunteer(organization)
    world.post(service(volunteer, organization, start=DAY_ONE, end=DAY_ONE + timedelta(hours=2)))
    before = world.state()

    with pytest.raises(OverlappingServiceError):
        world.post(service(volunteer, organization, start=DAY_ONE + timedelta(hours=1), end=DAY_ONE + timedelta(hours=3)))

    assert world.state() == before
    assert world.volunteer_now(volunteer).earned_minutes == 120


def test_overlap_is_found_when_the_times_are_sent_in_another_zone(world):
    organization = world.organization()
    volunteer = world.volunteer(organization)
    world.post(service(volunteer, organization, start=DAY_ONE, end=DAY_ONE + timedelta(hours=2)))
    same_morning_in_beijing = DAY_ONE.astimezone(CST) + timedelta(minutes=30)

    with pytest.raises(OverlappingServiceError):
        world.post(service(volunteer, organization, 30, start=same_morning_in_beijing))


def test_service_that_starts_when_the_last_one_ended_does_not_overlap(world):
    organization = world.organization()
    volunteer = world.volunteer(organization)
    world.post(service(volunteer, organization, 60, start=DAY_ONE))

    world.post(service(volunteer, organization, 60, start=DAY_ONE + timedelta(minutes=60)))

    assert world.volunteer_now(volunteer).earned_minutes == 120


def test_two_volunteers_may_serve_at_the_same_time(world):
    organization = world.organization()
    first, second = world.volunteer(organization), world.volunteer(organization)

    world.post(service(first, organization, 60, start=DAY_ONE))
    world.post(service(second, organization, 60, start=DAY_ONE))

    assert world.volunteer_now(second).earned_minutes == 60


def test_a_reversed_service_record_no_longer_blocks_an_overlapping_one(world):
    organization = world.organization()
    volunteer = world.volunteer(organization)
    wrong = world.post(service(volunteer, organization, 120, start=DAY_ONE))
    world.post(reversal(wrong))

    world.post(service(volunteer, organization, 90, start=DAY_ONE + timedelta(minutes=30)))

    assert world.volunteer_now(volunteer).earned_minutes == 90


def test_service_of_an_unknown_volunteer_or_organization_is_not_found(world):
    organization = world.organization()
    volunteer = world.volunteer(organization)

    with pytest.raises(NotFoundError):
        world.post(service(uuid4(), organization))
    with pytest.raises(NotFoundError):
        world.post(service(volunteer, uuid4()))


# The time bank ------------------------------------------------------------------------


def test_a_deposit_credits_the_time_bank(world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)

    posted = world.post(deposit(volunteer, organization, 120))

    assert world.timebank(volunteer) == 120
    assert legs_by_account(posted) == {
        f"volunteer:{volunteer.id}:timebank": 120,
        f"org:{organization.id}:timebank": -120,
    }


@pytest.mark.parametrize(
    "command",
    [
        lambda v, org: deposit(v, org, 60),
        lambda v, org: withdrawal(v, 60),
        lambda v, org: donation(v, 60),
        lambda v, org: grant(v, 60),
    ],
    ids=["deposit", "withdrawal", "donation", "grant"],
)
def test_the_time_bank_cannot_be_used_before_it_is_opened(world, command):
    organization = world.organization()
    volunteer = world.volunteer(organization)  # no account opened

    with pytest.raises(TimebankNotOpenError):
        world.post(command(volunteer, organization))


def test_a_transfer_needs_both_accounts_open(world):
    organization = world.organization()
    holder = world.volunteer(organization, timebank_minutes=300)
    without = world.volunteer(organization)

    with pytest.raises(TimebankNotOpenError):
        world.post(transfer(holder, without, 60))
    with pytest.raises(TimebankNotOpenError):
        world.post(transfer(without, holder, 60))
    assert world.timebank(holder) == 300


def test_the_time_bank_holds_at_most_the_default_cap_of_1500_hours(world):
    assert DEFAULT_TIMEBANK_CAP_MINUTES == 90_000
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=89_990)

    with pytest.raises(TimebankCapExceededError):
        world.post(deposit(volunteer, organization, 11))
    world.post(deposit(volunteer, organization, 10))

    assert world.timebank(volunteer) == 90_000


def test_a_deployment_can_set_its_own_cap():
    world = World(LedgerSettings.from_env({"HOUR_LEDGER_TIMEBANK_CAP_MINUTES": "600"}))
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=600)

    with pytest.raises(TimebankCapExceededError):
        world.post(deposit(volunteer, organization, 1))
    assert world.timebank(volunteer) == 600


def test_a_deposit_of_service_not_yet_done_is_refused(world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)

    with pytest.raises(ValidationError) as refused:
        world.post(deposit(volunteer, organization, 60, served_at=NOW + timedelta(days=1)))

    assert refused.value.field == "served_at"
    assert world.timebank(volunteer) == 0


@pytest.mark.parametrize("minutes", [0, -60, MAX_MINUTES + 1, True, 1.5])
def test_amounts_are_positive_whole_minutes(minutes):
    for build in (
        lambda: deposit(uuid4(), uuid4(), minutes),
        lambda: withdrawal(uuid4(), minutes),
        lambda: transfer(uuid4(), uuid4(), minutes),
        lambda: donation(uuid4(), minutes),
        lambda: grant(uuid4(), minutes),
    ):
        with pytest.raises(ValidationError) as refused:
            build()
        assert refused.value.field == "minutes"


def test_a_withdrawal_debits_the_time_bank_and_settles_with_the_volunteers_organization(world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=300)

    posted = world.post(withdrawal(volunteer, 300))

    assert world.timebank(volunteer) == 0
    assert legs_by_account(posted) == {
        f"volunteer:{volunteer.id}:timebank": -300,
        f"org:{organization.id}:timebank": 300,
    }


def test_a_volunteer_cannot_withdraw_more_than_the_balance(world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=300)
    before = world.state()

    with pytest.raises(InsufficientBalanceError):
        world.post(withdrawal(volunteer, 301))

    assert world.state() == before
    assert world.timebank(volunteer) == 300


def test_a_family_transfer_moves_hours_between_accounts(world):
    organization = world.organization()
    mother = world.volunteer(organization, timebank_minutes=300)
    daughter = world.volunteer(organization, timebank_minutes=0)

    posted = world.post(transfer(mother, daughter, 200))

    assert (world.timebank(mother), world.timebank(daughter)) == (100, 200)
    assert legs_by_account(posted) == {
        f"volunteer:{mother.id}:timebank": -200,
        f"volunteer:{daughter.id}:timebank": 200,
    }


def test_a_transfer_of_more_than_the_balance_is_refused(world):
    organization = world.organization()
    mother = world.volunteer(organization, timebank_minutes=300)
    daughter = world.volunteer(organization, timebank_minutes=0)

    with pytest.raises(InsufficientBalanceError):
        world.post(transfer(mother, daughter, 301))

    assert (world.timebank(mother), world.timebank(daughter)) == (300, 0)


def test_a_transfer_that_would_fill_the_target_above_the_cap_debits_nobody():
    world = World(LedgerSettings(timebank_cap_minutes=1_000))
    organization = world.organization()
    mother = world.volunteer(organization, timebank_minutes=500)
    daughter = world.volunteer(organization, timebank_minutes=900)
    before = world.state()

    with pytest.raises(TimebankCapExceededError):
        world.post(transfer(mother, daughter, 101))

    assert world.state() == before


def test_a_volunteer_cannot_transfer_to_themselves():
    volunteer_id = uuid4()
    with pytest.raises(ValidationError) as refused:
        transfer(volunteer_id, volunteer_id, 60)
    assert refused.value.field == "to_volunteer_id"


def test_a_donation_moves_hours_into_the_community_pool(world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=300)

    posted = world.post(donation(volunteer, 120))

    assert world.timebank(volunteer) == 180
    assert world.pool() == 120
    assert legs_by_account(posted) == {f"volunteer:{volunteer.id}:timebank": -120, "pool": 120}


def test_a_volunteer_cannot_donate_more_than_the_balance(world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=100)

    with pytest.raises(InsufficientBalanceError):
        world.post(donation(volunteer, 101))

    assert (world.timebank(volunteer), world.pool()) == (100, 0)


def test_a_grant_gives_pool_hours_to_someone_in_need(world):
    organization = world.organization()
    donor = world.volunteer(organization, timebank_minutes=300)
    elder = world.volunteer(organization, timebank_minutes=0)
    world.post(donation(donor, 300))

    posted = world.post(grant(elder, 180))

    assert (world.pool(), world.timebank(elder)) == (120, 180)
    assert legs_by_account(posted) == {"pool": -180, f"volunteer:{elder.id}:timebank": 180}


def test_the_pool_cannot_go_below_zero(world):
    organization = world.organization()
    donor = world.volunteer(organization, timebank_minutes=100)
    elder = world.volunteer(organization, timebank_minutes=0)

    with pytest.raises(InsufficientBalanceError):
        world.post(grant(elder, 1))  # the pool is empty
    world.post(donation(donor, 100))
    with pytest.raises(InsufficientBalanceError):
        world.post(grant(elder, 101))
    world.post(grant(elder, 100))

    assert (world.pool(), world.timebank(elder)) == (0, 100)


def test_a_grant_that_would_exceed_the_cap_leaves_the_pool_untouched():
    world = World(LedgerSettings(timebank_cap_minutes=500))
    organization = world.organization()
    donor = world.volunteer(organization, timebank_minutes=500)
    elder = world.volunteer(organization, timebank_minutes=450)
    world.post(donation(donor, 500))
    before = world.state()

    with pytest.raises(TimebankCapExceededError):
        world.post(grant(elder, 51))

    assert world.state() == before
    assert world.pool() == 500


# Double entry -------------------------------------------------------------------------


def test_the_legs_of_every_transaction_type_sum_to_zero(world):
    organization = world.organization()
    first = world.volunteer(organization, earned_minutes=600, timebank_minutes=600)
    second = world.volunteer(organization, timebank_minutes=0)
    point = world.point(tea=item(30, 10))
    posted = [
        world.post(service(first, organization, 45)),
        world.post(deposit(first, organization, 60)),
        world.post(withdrawal(first, 30)),
        world.post(transfer(first, second, 30)),
        world.post(donation(first, 60)),
        world.post(grant(second, 20)),
        world.post(redemption(point, first, ("tea", 2))),
    ]
    posted += [world.post(reversal(original)) for original in reversed(posted)]  # last first

    assert {t.type for t in posted} == {
        "service_record", "timebank_deposit", "timebank_withdrawal", "timebank_transfer",
        "timebank_donation", "timebank_grant", "redemption", "reversal",
    }
    for transaction in posted:
        assert len(transaction.legs) == 2
        assert legs_sum(transaction) == 0, transaction.legs
        assert all(isinstance(entry["minutes"], int) for entry in transaction.legs)


def test_a_transaction_with_unbalanced_legs_cannot_exist():
    with pytest.raises(UnbalancedLegsError):
        Transaction.post(
            id=uuid4(), type="timebank_deposit", content={}, fingerprint="", details={}, posted_by={},
            legs=[{"account": "pool", "minutes": 60}, {"account": "org:x:timebank", "minutes": -59}],
        )


# Star levels --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earned_minutes", "stars"),
    [
        (0, 0), (5_999, 0), (6_000, 1), (17_999, 1), (18_000, 2), (35_999, 2), (36_000, 3),
        (59_999, 3), (60_000, 4), (89_999, 4), (90_000, 5), (500_000, 5),
    ],
)
def test_star_levels_follow_the_national_thresholds_exactly(earned_minutes, stars):
    assert NATIONAL_THRESHOLDS_MINUTES == (100 * 60, 300 * 60, 600 * 60, 1_000 * 60, 1_500 * 60)
    assert star_level(earned_minutes, NATIONAL_THRESHOLDS_MINUTES) == stars


def test_a_volunteer_earns_the_first_star_at_exactly_100_hours(world):
    organization = world.organization()
    volunteer = world.volunteer(organization, earned_minutes=5_999)
    thresholds = world.settings.star_thresholds_minutes
    assert world.volunteer_now(volunteer).star_level(thresholds) == 0

    world.post(service(volunteer, organization, 1))

    assert world.volunteer_now(volunteer).earned_minutes == 6_000
    assert world.volunteer_now(volunteer).star_level(thresholds) == 1


def test_a_city_can_configure_its_own_star_thresholds():
    settings = LedgerSettings.from_env({"HOUR_LEDGER_STAR_THRESHOLDS_HOURS": "10, 20,30,40,50"})
    assert settings.star_thresholds_minutes == (600, 1_200, 1_800, 2_400, 3_000)
    world = World(settings)
    organization = world.organization()
    volunteer = world.volunteer(organization, earned_minutes=599)
    assert world.volunteer_now(volunteer).star_level(settings.star_thresholds_minutes) == 0

    world.earn(volunteer, organization, 2_401)

    assert world.volunteer_now(volunteer).star_level(settings.star_thresholds_minutes) == 5


# Idempotency --------------------------------------------------------------------------


def test_posting_the_same_transaction_id_again_answers_the_original(world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)
    command = deposit(volunteer, organization, 90)
    original, created = world.post_again(command)
    assert created is True
    before = world.state()

    again, created_again = world.post_again(command)

    assert created_again is False
    assert again.id == original.id and again.legs == original.legs
    assert world.state() == before
    assert world.timebank(volunteer) == 90


def test_a_retry_with_the_same_times_in_another_zone_is_the_same_transaction(world):
    organization = world.organization()
    volunteer = world.volunteer(organization)
    command = service(volunteer, organization, 60, start=DAY_ONE)
    world.post(command)

    retry = service(volunteer, organization, 60, start=DAY_ONE.astimezone(CST), id=command.id)
    again, created = world.post_again(retry)

    assert (again.id, created) == (command.id, False)
    assert world.volunteer_now(volunteer).earned_minutes == 60


@pytest.mark.parametrize(
    "different",
    [
        lambda v, org, id: deposit(v, org, 91, id=id),
        lambda v, org, id: withdrawal(v, 90, id=id),
    ],
    ids=["other minutes", "other type"],
)
def test_reusing_a_transaction_id_for_different_content_is_a_conflict(world, different):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)
    original = world.post(deposit(volunteer, organization, 90))
    before = world.state()

    with pytest.raises(TransactionIdConflictError):
        world.post(different(volunteer, organization, original.id))

    assert world.state() == before


def test_a_transaction_id_that_belongs_to_a_volunteer_is_a_conflict(world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=300)

    with pytest.raises(TransactionIdConflictError):
        world.post(withdrawal(volunteer, 60, id=volunteer.id))

    assert world.timebank(volunteer) == 300
