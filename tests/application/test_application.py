"""The use cases through `HourLedger`, on both stores (embedded SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from ledger.application import HourLedger, NotApplied, Posted
from ledger.errors import (
    ForbiddenError,
    InsufficientBalanceError,
    NotFoundError,
    OutOfStockError,
    OverlappingServiceError,
    TimebankAlreadyOpenError,
    TimebankCapExceededError,
    TransactionIdConflictError,
    ValidationError,
)
from ledger.timebank import TimebankAccount
from ledger.volunteer import Volunteer
from tests.support.builders import (
    DAY_ONE,
    JINHU,
    XUYI,
    AppWorld,
    auditor,
    deposit,
    donation,
    grant,
    item,
    legs_sum,
    operator,
    redemption,
    reversal,
    service,
    transfer,
    withdrawal,
)


@pytest.fixture
def world(ledger: HourLedger) -> AppWorld:
    return AppWorld(ledger)


# Registering things -------------------------------------------------------------------


def test_registering_with_a_client_chosen_id_twice_answers_the_existing_thing(ledger, actor):
    chosen = uuid4()
    first = ledger.register_organization(actor, "Xuyi civilisation office", XUYI, id=chosen)
    again = ledger.register_organization(actor, "Xuyi civilisation office", XUYI, id=chosen)

    assert (first.created, again.created) == (True, False)
    assert again.aggregate.id == chosen
    assert again.position == first.position is not None
    with pytest.raises(TransactionIdConflictError):
        ledger.register_organization(actor, "Jinhu civilisation office", XUYI, id=chosen)
    with pytest.raises(TransactionIdConflictError):
        ledger.register_exchange_point(actor, "Xuyi civilisation office", XUYI, id=chosen)  # another kind
    assert ledger.get_organization(chosen).name == "Xuyi civilisation office"


def test_registering_a_volunteer_with_a_client_chosen_id(ledger, actor):
    organization = ledger.register_organization(actor, "Xuyi volunteers", XUYI).aggregate
    chosen = uuid4()
    body = {"name": "Li Wei", "region_code": XUYI + "100", "organization_id": organization.id, "birth_year": 1961}

    first = ledger.register_volunteer(actor, **body, id_number="320830196101010012", id=chosen)
    again = ledger.register_volunteer(actor, **body, id_number="320830196101010012", id=chosen)

    assert (first.created, again.created) == (True, False)
    with pytest.raises(TransactionIdConflictError):
        ledger.register_volunteer(actor, **{**body, "birth_year": 1962}, id=chosen)
    stored = ledger.get_volunteer(chosen)
    assert stored.id_number_hash and "320830196101010012" not in repr(stored.__dict__)
    assert ledger.balance(chosen).timebank_open is False


def test_registering_an_exchange_point_with_a_client_chosen_id(ledger, actor):
    chosen = uuid4()
    assert ledger.register_exchange_point(actor, "Jinhu civic centre", JINHU, id=chosen).created
    assert not ledger.register_exchange_point(actor, "Jinhu civic centre", JINHU, id=chosen).created
    with pytest.raises(TransactionIdConflictError):
        ledger.register_exchange_point(actor, "Jinhu civic centre", XUYI, id=chosen)


def test_registration_is_checked(ledger, actor):
    with pytest.raises(ValidationError):
        ledger.register_organization(actor, "Xuyi volunteers", "320")
    with pytest.raises(ValidationError):
        ledger.register_volunteer(actor, " ", XUYI)
    with pytest.raises(ValidationError):
        ledger.register_volunteer(actor, "Li Wei", XUYI, birth_year=1850)
    with pytest.raises(NotFoundError):
        ledger.register_volunteer(actor, "Li Wei", XUYI, organization_id=uuid4())
    with pytest.raises(ForbiddenError):
        ledger.register_organization(auditor(), "Xuyi volunteers", XUYI)
    with pytest.raises(ForbiddenError):
        ledger.register_volunteer(operator(JINHU), "Li Wei", XUYI)
    assert ledger.head_position() == 0  # nothing was recorded


def test_a_time_bank_account_is_opened_once(ledger, actor, world):
    volunteer = world.volunteer()

    opened = ledger.open_timebank(actor, volunteer.id)
    with pytest.raises(TimebankAlreadyOpenError):
        ledger.open_timebank(actor, volunteer.id)

    assert opened.created and opened.aggregate.id == TimebankAccount.id_for(volunteer.id)
    assert ledger.balance(volunteer.id).timebank_open is True
    with pytest.raises(NotFoundError):
        ledger.open_timebank(actor, uuid4())


def test_putting_the_same_item_twice_records_nothing_new(ledger, actor, world):
    point = world.point(rice=item(120, 10))
    version = point.version

    ledger.put_item(actor, point.id, "rice", "rice", 120, 10)
    assert ledger.get_exchange_point(point.id).version == version
    ledger.put_item(actor, point.id, "rice", "rice", 120, 20)

    assert ledger.get_exchange_point(point.id).items["rice"]["stock"] == 20


# Posting ------------------------------------------------------------------------------


def test_every_use_case_through_the_application(ledger, world):
    organization = world.organization()
    first = world.volunteer(organization, earned_minutes=600, timebank_minutes=600)
    second = world.volunteer(organization, timebank_minutes=0)
    point = world.point(tea=item(30, 10))

    world.post(service(first, organization, 45))
    world.post(deposit(first, organization, 60))
    world.post(withdrawal(first, 30))
    world.post(transfer(first, second, 100))
    world.post(donation(first, 200))
    world.post(grant(second, 50))
    redeemed = world.post(redemption(point, first, ("tea", 3)))
    world.post(reversal(redeemed.transaction))

    balance = ledger.balance(first.id)
    assert (balance.earned_minutes, balance.redeemed_minutes, balance.available_minutes) == (645, 0, 645)
    assert balance.timebank_balance_minutes == 600 + 60 - 30 - 100 - 200
    assert ledger.balance(second.id).timebank_balance_minutes == 150
    assert ledger.pool_balance_minutes() == 150
    assert world.stock(point, "tea") == 10
    assert len(redeemed.transaction.details["pickup_code"]) == 6
    assert ledger.get_transaction(redeemed.transaction.id).reversed_by is not None


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda s: withdrawal(s["volunteer"], 301), InsufficientBalanceError),
        (lambda s: deposit(s["volunteer"], s["organization"], 89_701), TimebankCapExceededError),
        (lambda s: redemption(s["point"], s["volunteer"], ("tea", 11)), OutOfStockError),
        (lambda s: service(s["volunteer"], s["organization"], 30, start=DAY_ONE + timedelta(minutes=30)),
         OverlappingServiceError),
        (lambda s: reversal(uuid4()), NotFoundError),
    ],
    ids=["insufficient", "cap", "out of stock", "overlap", "unknown reversal"],
)
def test_a_refused_transaction_records_nothing(ledger, world, build, error):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=300)
    world.post(service(volunteer, organization, 60, start=DAY_ONE))
    point = world.point(tea=item(1, 10))
    head = ledger.head_position()
    command = build({"organization": organization, "volunteer": volunteer, "point": point})

    with pytest.raises(error):
        world.post(command)

    assert ledger.head_position() == head
    with pytest.raises(NotFoundError):
        ledger.get_transaction(command.id)


def test_a_refused_transaction_leaves_no_trace_in_memory_either(ledger, store_env):
    """A rule may refuse a command after changing some aggregates (a grant takes from the pool,
    then the cap refuses the credit): what the application holds in memory stays as stored."""
    app = HourLedger(env={**store_env, "HOUR_LEDGER_TIMEBANK_CAP_MINUTES": "500"})
    try:
        world = AppWorld(app)
        organization = world.organization()
        donor = world.volunteer(organization, timebank_minutes=500)
        elder = world.volunteer(organization, timebank_minutes=450)
        world.post(donation(donor, 300))
        for command in (grant(elder, 51), transfer(donor, elder, 51)):
            with pytest.raises(TimebankCapExceededError):
                world.post(command)
            assert app.pool_balance_minutes() == 300
            assert (world.timebank(donor), world.timebank(elder)) == (200, 450)
        world.post(grant(elder, 50))
        assert (app.pool_balance_minutes(), world.timebank(elder)) == (250, 500)
    finally:
        app.close()


def test_service_that_ends_in_the_future_is_refused(ledger, world):
    organization = world.organization()
    volunteer = world.volunteer(organization)
    now = ledger.clock()

    with pytest.raises(ValidationError):
        world.post(service(volunteer, organization, start=now - timedelta(minutes=30), end=now + timedelta(minutes=5)))
    assert ledger.balance(volunteer.id).earned_minutes == 0


def test_positions_increase_and_a_replay_answers_the_original_position(ledger, world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)
    commands = [service(volunteer, organization, 30), deposit(volunteer, organization, 30), withdrawal(volunteer, 10)]

    posted = []
    for command in commands:
        posted.append(world.post(command))
        # a transaction's position is the last event it recorded: reading at it sees every effect
        assert ledger.head_position() == posted[-1].position

    positions = [p.position for p in posted]
    assert all(isinstance(p, int) for p in positions)
    assert positions == sorted(positions) and len(set(positions)) == 3
    assert ledger.head_position() == positions[-1]
    for command, original in zip(commands, posted):
        replay = world.post(command)
        assert replay.created is False
        assert replay.transaction.id == original.transaction.id
        assert replay.position == original.position == ledger.position_of(command.id)
    assert ledger.head_position() == positions[-1]  # the replays recorded nothing


def test_a_transaction_id_reused_for_different_content_is_a_conflict(ledger, world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)
    original = world.post(deposit(volunteer, organization, 30))

    with pytest.raises(TransactionIdConflictError):
        world.post(deposit(volunteer, organization, 31, id=original.transaction.id))
    with pytest.raises(TransactionIdConflictError):
        world.post(withdrawal(volunteer, 10, id=volunteer.id))

    assert ledger.balance(volunteer.id).timebank_balance_minutes == 30


# Batches ------------------------------------------------------------------------------


def test_an_atomic_batch_records_every_transaction(ledger, world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)
    commands = [deposit(volunteer, organization, 100), withdrawal(volunteer, 40), service(volunteer, organization, 20)]

    results = ledger.post_batch(world.actor, commands, atomic=True)

    assert all(isinstance(r, Posted) and r.created for r in results)
    assert [r.transaction.id for r in results] == [c.id for c in commands]
    positions = [r.position for r in results]
    assert positions == sorted(set(positions)) and positions[-1] == ledger.head_position()
    assert positions == [ledger.position_of(c.id) for c in commands]  # as a replay of each id answers
    balance = ledger.balance(volunteer.id)
    assert (balance.timebank_balance_minutes, balance.earned_minutes) == (60, 20)


def test_an_atomic_batch_with_a_failing_item_records_nothing(ledger, world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)
    head = ledger.head_position()
    commands = [
        deposit(volunteer, organization, 100),
        withdrawal(volunteer, 40),
        withdrawal(volunteer, 61),  # only 60 left by now
        service(volunteer, organization, 20),
    ]

    results = ledger.post_batch(world.actor, commands, atomic=True)

    assert isinstance(results[2], InsufficientBalanceError)
    assert [results[i] for i in (0, 1, 3)] == [NotApplied(failed_index=2)] * 3
    assert ledger.head_position() == head
    assert ledger.balance(volunteer.id).timebank_balance_minutes == 0
    for command in commands:
        with pytest.raises(NotFoundError):
            ledger.get_transaction(command.id)


def test_an_atomic_batch_answers_a_replayed_item_with_the_original(ledger, world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)
    earlier = deposit(volunteer, organization, 100)
    original = world.post(earlier)

    results = ledger.post_batch(world.actor, [earlier, withdrawal(volunteer, 100), earlier], atomic=True)

    assert [r.created for r in results] == [False, True, False]
    assert results[0].position == original.position
    assert ledger.balance(volunteer.id).timebank_balance_minutes == 0


def test_an_atomic_batch_that_repeats_an_id(ledger, world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)
    command = deposit(volunteer, organization, 100)

    same = ledger.post_batch(world.actor, [command, command], atomic=True)
    assert [r.created for r in same] == [True, False]
    assert same[0].position == same[1].position == ledger.position_of(command.id)

    other = deposit(volunteer, organization, 100)
    head = ledger.head_position()
    changed = ledger.post_batch(world.actor, [other, deposit(volunteer, organization, 7, id=other.id)], atomic=True)
    assert changed[0] == NotApplied(failed_index=1)
    assert isinstance(changed[1], TransactionIdConflictError)
    assert ledger.head_position() == head
    assert ledger.balance(volunteer.id).timebank_balance_minutes == 100


def test_a_non_atomic_batch_posts_each_item_on_its_own(ledger, world):
    organization = world.organization()
    volunteer = world.volunteer(organization, timebank_minutes=0)
    commands = [
        deposit(volunteer, organization, 100),
        withdrawal(volunteer, 101),
        withdrawal(volunteer, 40),
        deposit(volunteer, uuid4(), 10),
    ]

    results = ledger.post_batch(world.actor, commands, atomic=False)

    assert isinstance(results[0], Posted) and results[0].created
    assert isinstance(results[1], InsufficientBalanceError)
    assert isinstance(results[2], Posted) and results[2].position > results[0].position
    assert isinstance(results[3], NotFoundError)
    assert ledger.balance(volunteer.id).timebank_balance_minutes == 60
    with pytest.raises(NotFoundError):
        ledger.get_transaction(commands[1].id)


# Reloading ----------------------------------------------------------------------------


def test_a_new_application_on_the_same_store_sees_the_same_ledger(ledger, world, store_env):
    organization = world.organization()
    first = world.volunteer(organization, earned_minutes=6_000, timebank_minutes=500)
    second = world.volunteer(organization, timebank_minutes=0)
    point = world.point(tea=item(30, 10, min_star=1))
    world.post(transfer(first, second, 200))
    world.post(donation(second, 50))
    redeemed = world.post(redemption(point, first, ("tea", 2)))

    other = HourLedger(env=store_env)
    try:
        for volunteer in (first, second):
            assert other.balance(volunteer.id) == ledger.balance(volunteer.id)
        assert other.balance(first.id).star_level == 1
        assert other.pool_balance_minutes() == ledger.pool_balance_minutes() == 50
        assert other.get_exchange_point(point.id).items == ledger.get_exchange_point(point.id).items
        reloaded = other.get_transaction(redeemed.transaction.id)
        assert reloaded.legs == redeemed.transaction.legs
        assert reloaded.details == redeemed.transaction.details
        assert other.get_volunteer(first.id).periods() == ledger.get_volunteer(first.id).periods()
        assert other.head_position() == ledger.head_position()
    finally:
        other.close()


def test_one_batch_passing_the_snapshot_interval_for_two_volunteers_snapshots_both(ledger, world, store_env):
    organization = world.organization()
    volunteers = [world.volunteer(organization), world.volunteer(organization)]
    records = [
        service(volunteer, organization, 10, start=DAY_ONE + timedelta(hours=i))
        for i in range(110) for volunteer in volunteers
    ]
    assert all(isinstance(r, Posted) for r in ledger.post_batch(world.actor, records, atomic=True))

    # Written together after the batch: each of the state the batch stored.
    assert [[s.originator_version for s in ledger.snapshots.get(v.id)] for v in volunteers] == [[111], [111]]
    other = HourLedger(env=store_env)
    try:
        for volunteer in volunteers:
            assert other.get_volunteer(volunteer.id).periods() == ledger.get_volunteer(volunteer.id).periods()
            assert other.balance(volunteer.id).earned_minutes == 1_100
    finally:
        other.close()

def test_a_volunteer_with_more_than_a_hundred_events_reloads_from_a_snapshot(ledger, world, store_env):
    organization = world.organization()
    volunteer = world.volunteer(organization)
    records = [service(volunteer, organization, 10, start=DAY_ONE + timedelta(hours=i)) for i in range(105)]
    assert all(isinstance(r, Posted) for r in ledger.post_batch(world.actor, records[:60], atomic=True))
    assert all(isinstance(r, Posted) for r in ledger.post_batch(world.actor, records[60:], atomic=True))

    # One snapshot, taken by the save that passed version 100, of the state that save stored.
    snapshots = list(ledger.snapshots.get(volunteer.id))
    assert [s.originator_version for s in snapshots] == [106]
    other = HourLedger(env=store_env)
    try:
        reloaded = other.get_volunteer(volunteer.id)
        assert isinstance(reloaded, Volunteer)
        assert reloaded.version == 106
        assert reloaded.earned_minutes == 1_050
        assert reloaded.periods() == ledger.get_volunteer(volunteer.id).periods()
        assert len(reloaded.periods()) == 105
        # the overlap rule still sees every period after the snapshot
        with pytest.raises(OverlappingServiceError):
            other.post(world.actor, service(volunteer, organization, 5, start=DAY_ONE + timedelta(minutes=5)))
        other.post(world.actor, reversal(records[0]))
        other.post(world.actor, service(volunteer, organization, 5, start=DAY_ONE + timedelta(minutes=5)))
        assert ledger.balance(volunteer.id).earned_minutes == 1_045
    finally:
        other.close()


def test_settings_come_from_the_applications_environment(store_env, actor):
    app = HourLedger(env={**store_env, "HOUR_LEDGER_TIMEBANK_CAP_MINUTES": "100"})
    try:
        world = AppWorld(app)
        organization = world.organization()
        volunteer = world.volunteer(organization, timebank_minutes=100)
        with pytest.raises(TimebankCapExceededError):
            world.post(deposit(volunteer, organization, 1))
        assert app.settings.timebank_cap_minutes == 100
    finally:
        app.close()


def test_every_transaction_read_back_balances(ledger, world):
    organization = world.organization()
    volunteer = world.volunteer(organization, earned_minutes=100, timebank_minutes=100)
    posted = [world.post(withdrawal(volunteer, 10)), world.post(service(volunteer, organization, 5))]
    for p in posted:
        read = ledger.get_transaction(p.transaction.id)
        assert legs_sum(read) == 0
        assert read.posted_by == {"key_id": None, "name": "system"}
