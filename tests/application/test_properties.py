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
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.utils import get_topic
from hypothesis import HealthCheck, event, given, settings

from ledger.application import HourLedger
from ledger.persistence import persistence_env
from ledger.pool import POOL_ID
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from tests.conftest import PostgresSchema, require_postgres
from tests.support.builders import legs_sum
from tests.support.random_operations import CAP, NOW, RULES, STOCK, Run, sequences


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
