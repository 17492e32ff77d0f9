"""Property: whatever sequence of transactions clients send, valid or not, the books hold.

Hypothesis draws sequences of service records, deposits, withdrawals, transfers, donations,
grants, redemptions, reversals of earlier transactions and retries of earlier ids, with
amounts that are often too large (or not positive at all). Each sequence runs on a store of
its own through `HourLedger`, and afterwards:

- every refused command recorded nothing (the head of the log did not move);
- time-bank balances stay within 0..cap, stock and the pool never go below zero,
  and earned ≥ redeemed for every volunteer;
- the legs of every transaction sum to zero, and summed per account over the whole log
  they equal the aggregates' balances (service = available, timebank = balance, pool);
- every reversal is linked both ways, and nothing is reversed twice;
- a fresh `HourLedger` on the same store rebuilds exactly the same state.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import get_topic
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.actors import SYSTEM
from ledger.application import HourLedger, Posted
from ledger.commands import Command
from ledger.config import LedgerSettings
from ledger.errors import LedgerError, UnavailableError, ValidationError
from ledger.persistence import persistence_env
from ledger.pool import POOL_ID
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from tests.builders import (
    deposit,
    donation,
    grant,
    item,
    legs_sum,
    redemption,
    reversal,
    service,
    transfer,
    withdrawal,
)
from tests.conftest import PostgresSchema, require_postgres

UTC = timezone.utc
SERVICE_FROM = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)  # after every service time drawn below
CAP = 2_000
RULES = LedgerSettings(timebank_cap_minutes=CAP, star_thresholds_minutes=(120, 240, 480, 720, 960))
STOCK = {"tea": item(20, 8), "ticket": item(50, 4, min_star=1)}
VOLUNTEERS = 3  # the last one never opens a time-bank account

# Operations ---------------------------------------------------------------------------

volunteer_index = st.sampled_from(range(VOLUNTEERS))
minutes = st.integers(0, 9).flatmap(
    lambda k: st.integers(1, 400)  # mostly sensible
    if k < 7
    else st.integers(CAP - 100, CAP + 100)  # around the cap
    if k < 9
    else st.sampled_from([0, -30, 10**6 + 1])  # never valid
)
operations = st.one_of(
    st.tuples(st.just("service"), volunteer_index, st.integers(0, 4 * 1440), st.integers(0, 1500)),
    st.tuples(st.just("deposit"), volunteer_index, minutes),
    st.tuples(st.just("withdraw"), volunteer_index, minutes),
    st.tuples(st.just("transfer"), volunteer_index, volunteer_index, minutes),
    st.tuples(st.just("donate"), volunteer_index, minutes),
    st.tuples(st.just("grant"), volunteer_index, minutes),
    st.tuples(
        st.just("redeem"),
        volunteer_index,
        st.lists(st.tuples(st.sampled_from(["tea", "tea", "ticket", "kite"]), st.integers(1, 3)), min_size=1, max_size=2),
    ),
    # mostly something posted (perhaps itself a reversal), at times anything attempted
    st.tuples(st.just("reverse"), st.sampled_from([True, True, True, False]), st.integers(0, 1000)),
    st.tuples(st.just("retry"), st.integers(0, 1000)),
)
sequences = st.lists(operations, min_size=10, max_size=50)


class Run:
    """One sequence of operations against one fresh store."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.app = HourLedger(env=env, settings=RULES, clock=lambda: NOW)
        app = self.app
        self.organization = app.register_organization(SYSTEM, "Xuyi volunteers", "320830").aggregate
        self.volunteers = [
            app.register_volunteer(SYSTEM, f"volunteer {i}", "320830", organization_id=self.organization.id).aggregate
            for i in range(VOLUNTEERS)
        ]
        for volunteer in self.volunteers[:-1]:
            app.open_timebank(SYSTEM, volunteer.id)
        self.point = app.register_exchange_point(SYSTEM, "Xuyi civic centre", "320830").aggregate
        for sku, it in STOCK.items():
            app.put_item(SYSTEM, self.point.id, sku, sku, it["price_minutes"], it["stock"], it["min_star"])
        self.commands: list[Command] = []  # everything attempted that was well-formed
        self.posted: dict[UUID, Transaction] = {}
        # Something to spend from the start: an early day of service each, and time-bank hours.
        early = SERVICE_FROM - timedelta(days=1)
        for volunteer in self.volunteers:
            self.keep(app.post(SYSTEM, service(volunteer, self.organization, 100, start=early)))
        for volunteer in self.volunteers[:-1]:
            self.keep(app.post(SYSTEM, deposit(volunteer, self.organization, 600, served_at=early)))

    def keep(self, posted: Posted) -> None:
        self.posted[posted.transaction.id] = posted.transaction

    def close(self) -> None:
        self.app.close()

    def command_for(self, op: tuple[Any, ...]) -> Command:
        kind, *args = op
        v = self.volunteers
        org = self.organization
        if kind == "service":
            index, offset, length = args
            start = SERVICE_FROM + timedelta(minutes=offset)
            return service(v[index], org, start=start, end=start + timedelta(minutes=length))
        if kind == "deposit":
            return deposit(v[args[0]], org, args[1], served_at=SERVICE_FROM)
        if kind == "withdraw":
            return withdrawal(v[args[0]], args[1])
        if kind == "transfer":
            return transfer(v[args[0]], v[args[1]], args[2])
        if kind == "donate":
            return donation(v[args[0]], args[1])
        if kind == "grant":
            return grant(v[args[0]], args[1])
        if kind == "redeem":
            return redemption(self.point, v[args[0]], *args[1])
        if kind == "reverse":
            posted_only, index = args
            targets = list(self.posted) if posted_only else [c.id for c in self.commands] or [uuid4()]
            return reversal(targets[index % len(targets)])
        if kind == "retry":
            if not self.commands:
                return reversal(uuid4())
            return self.commands[args[0] % len(self.commands)]
        raise AssertionError(kind)

    def apply(self, op: tuple[Any, ...]) -> Posted | LedgerError:
        """Posts the operation's command; answers what the ledger answered."""
        try:
            command = self.command_for(op)
        except ValidationError as refused:
            return refused  # refused before it reached the ledger
        head = self.app.head_position()
        try:
            outcome = self.app.post(SYSTEM, command)
        except UnavailableError:
            raise
        except LedgerError as refused:
            assert self.app.head_position() == head, f"a refused {op[0]} recorded something"
            assert command.id not in self.posted, "a retry with the same content was refused"
            outcome = refused
        else:
            if command.id in self.posted:
                assert outcome.created is False and outcome.transaction.id == command.id
                assert self.app.head_position() == head, "a retry recorded something"
            else:
                assert outcome.created is True
                assert outcome.position is not None and outcome.position > head
                self.posted[command.id] = outcome.transaction
        if op[0] != "retry":
            self.commands.append(command)
        return outcome


def transactions(app: HourLedger) -> list[Transaction]:
    """Every transaction in the store, found from the log rather than from what the test kept."""
    topic = get_topic(Transaction.Posted)
    notifications = app.recorder.select_notifications(start=1, limit=100_000, topics=[topic])
    return [app.get_transaction(n.originator_id) for n in notifications]


def state(app: HourLedger, run: Run, found: list[Transaction]) -> dict[Any, Any]:
    """Every aggregate's recorded state (but its unsaved events), by id."""
    ids = [run.organization.id, run.point.id, POOL_ID, *(v.id for v in run.volunteers)]
    ids += [TimebankAccount.id_for(v.id) for v in run.volunteers] + [t.id for t in found]
    return {
        id: {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
        for id in ids
        if (aggregate := app._find(id)) is not None
    }


def check_books(run: Run) -> None:
    app = run.app
    found = transactions(app)
    assert {t.id for t in found} == set(run.posted)

    by_account: dict[str, int] = defaultdict(int)
    reversals = Counter()
    for t in found:
        assert legs_sum(t) == 0, t.legs
        for entry in t.legs:
            by_account[entry["account"]] += entry["minutes"]
        if t.type == "reversal":
            reversals[t.reverses] += 1
            assert app.get_transaction(t.reverses).reversed_by == t.id
    assert all(count == 1 for count in reversals.values())
    for t in found:
        if t.reversed_by is not None:
            assert reversals[t.id] == 1

    for volunteer in run.volunteers:
        now = app.get_volunteer(volunteer.id)
        assert 0 <= now.redeemed_minutes <= now.earned_minutes
        assert by_account[f"volunteer:{volunteer.id}:service"] == now.available_minutes
        account = app.find_timebank(volunteer.id)
        balance = account.balance_minutes if account else 0
        assert 0 <= balance <= CAP
        assert by_account[f"volunteer:{volunteer.id}:timebank"] == balance
        live = [
            t for t in found
            if t.type == "service_record" and t.reversed_by is None and t.content["volunteer_id"] == str(volunteer.id)
        ]
        assert now.earned_minutes == sum(t.details["minutes"] for t in live)
        assert now.periods().transaction_ids() == {str(t.id) for t in live}

    pool = app.pool_balance_minutes()
    assert pool >= 0
    assert by_account["pool"] == pool

    point = app.get_exchange_point(run.point.id)
    taken: Counter[str] = Counter()
    for t in found:
        if t.type == "redemption" and t.reversed_by is None:
            for line in t.details["lines"]:
                taken[line["sku"]] += line["quantity"]
    for sku, it in STOCK.items():
        assert point.items[sku]["stock"] >= 0
        assert point.items[sku]["stock"] == it["stock"] - taken[sku]
    assert by_account[f"point:{run.point.id}"] == sum(
        t.details["minutes"] for t in found if t.type == "redemption" and t.reversed_by is None
    )

    fresh = HourLedger(env=run.env, settings=RULES, clock=lambda: NOW)
    try:
        assert state(fresh, run, transactions(fresh)) == state(app, run, found)
    finally:
        fresh.close()


def run_sequence(env: dict[str, str], ops: list[tuple[Any, ...]]) -> None:
    run = Run(env)
    try:
        for op in ops:
            event(f"{op[0]}: {type(run.apply(op)).__name__}")
        check_books(run)
    finally:
        run.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=sequences)
def test_random_transactions_on_sqlite_keep_the_books(ops):
    # A named in-memory database of its own, shared by the connections of both applications.
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"file:ledger-{uuid4().hex}?mode=memory&cache=shared"}
    run_sequence(env, ops)


@pytest.fixture
def postgres_available() -> None:
    require_postgres()


@pytest.mark.postgres
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=sequences)
def test_random_transactions_on_postgres_keep_the_books(postgres_available, ops):
    schema = PostgresSchema()
    try:
        run_sequence(persistence_env(schema.url), ops)
    finally:
        schema.drop()


def test_the_operations_reach_the_rules_they_are_meant_to():
    """The operations are not vacuous: a fixed sequence meets successes and each kind of refusal."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"file:ledger-{uuid4().hex}?mode=memory&cache=shared"}
    run = Run(env)  # posted 0-4: 100 min of service each, 600 time-bank minutes for volunteers 0 and 1
    try:
        outcomes = [
            type(run.apply(op)).__name__
            for op in [
                ("service", 0, 0, 1440),  # posted 5
                ("service", 0, 60, 30),
                ("deposit", 0, 1_400),  # posted 6: at the cap
                ("deposit", 0, 1),
                ("withdraw", 1, 601),
                ("transfer", 0, 1, 300),  # posted 7
                ("donate", 1, 100),  # posted 8
                ("grant", 2, 10),
                ("grant", 0, 101),
                ("redeem", 0, [("ticket", 1), ("tea", 8)]),  # posted 9: every tea
                ("redeem", 1, [("tea", 1)]),
                ("withdraw", 0, 1_000),  # posted 10
                ("reverse", True, 6),  # the deposit, mostly withdrawn
                ("reverse", True, 9),  # posted 11: the redemption
                ("reverse", True, 11),
                ("reverse", True, 9),
                ("reverse", False, 1),  # the overlapping service, never posted
                ("retry", 2),
                ("service", 1, 0, 2000),
                ("redeem", 1, [("kite", 1)]),
                ("grant", 0, 100),
                ("donate", 2, 10),
                ("transfer", 0, 0, 5),
                ("redeem", 2, [("ticket", 1)]),  # 100 minutes earned: no star
            ]
        ]
        check_books(run)
    finally:
        run.close()
    assert outcomes == [
        "Posted", "OverlappingServiceError", "Posted", "TimebankCapExceededError",
        "InsufficientBalanceError", "Posted", "Posted", "TimebankNotOpenError",
        "InsufficientBalanceError", "Posted", "OutOfStockError", "Posted",
        "InsufficientBalanceError", "Posted", "NotReversibleError", "AlreadyReversedError",
        "NotFoundError", "Posted", "ValidationError", "NotFoundError",
        "Posted", "TimebankNotOpenError", "ValidationError", "StarLevelTooLowError",
    ]
