"""Two server processes on one PostgreSQL database: retried ids and races for the same hours,
over HTTP. Each "process" is its own HourLedger (its own connection pool) behind its own app;
threads released together by a barrier post at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import HourLedger
from ledger.persistence import persistence_env
from tests.conftest import PostgresSchema, require_postgres
from tests.support.api_client import (
    Api,
    As,
    World,
    assert_created,
    build_world,
    deposit,
    item,
    new_id,
    organization,
    redemption,
    service_record,
    withdrawal,
)

pytestmark = pytest.mark.postgres

ROUNDS = 8


@pytest.fixture
def two_servers() -> Iterator[tuple[Api, As, World]]:
    """The first server's Api (and a world built through it), and the admin key on a second
    server process over the same database."""
    require_postgres()
    schema = PostgresSchema()
    first = HourLedger(env=persistence_env(schema.url))
    second = HourLedger(env=persistence_env(schema.url))
    try:
        api = Api(first)
        other = TestClient(create_app(second, limit_rates=False), raise_server_exceptions=False)
        with api.client, other:
            yield api, As(other, api.admin.secret), build_world(api)
    finally:
        first.close()
        second.close()
        schema.drop()


def race(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Runs the calls at the same moment, one thread each; their responses in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_the_same_transaction_posted_to_two_servers_at_once_is_recorded_once(
    two_servers: tuple[Api, As, World],
) -> None:
    api, other, w = two_servers
    for _ in range(ROUNDS):
        body = deposit(w.bob, w.org, 10)
        head = api.ledger.head_position()
        answers = race(lambda: api.admin.post("/v1/transactions", body), lambda: other.post("/v1/transactions", body))
        assert sorted(r.status_code for r in answers) == [200, 201], [r.text for r in answers]
        assert answers[0].json() == answers[1].json()  # same transaction, same position
        # One deposit: the account's credit and the transaction, nothing more (PostgreSQL's
        # sequence may skip the numbers the refused insert took, so count the events).
        recorded = api.ledger.recorder.select_notifications(head, 100, inclusive_of_start=False)
        assert [n.originator_id for n in recorded][-1] == UUID(body["id"])
        assert len(recorded) == 2
    assert api.balance(w.bob)["timebank"]["balance_minutes"] == 10 * ROUNDS


def test_the_same_redemption_retried_at_two_servers_takes_the_stock_once(
    two_servers: tuple[Api, As, World],
) -> None:
    api, other, w = two_servers
    body = redemption(w.point, w.alice, ("tea", 3))
    answers = race(lambda: api.admin.post("/v1/transactions", body), lambda: other.post("/v1/transactions", body))
    assert sorted(r.status_code for r in answers) == [200, 201]
    assert answers[0].json()["pickup_code"] == answers[1].json()["pickup_code"]
    assert api.stock(w.point)["tea"] == 7
    assert api.balance(w.alice)["service"]["redeemed_minutes"] == 180


def test_the_same_client_chosen_id_registered_at_two_servers_is_created_once(
    two_servers: tuple[Api, As, World],
) -> None:
    api, other, _ = two_servers
    for _ in range(ROUNDS):
        body = organization(id=new_id())
        answers = race(lambda: api.admin.post("/v1/organizations", body), lambda: other.post("/v1/organizations", body))
        assert sorted(r.status_code for r in answers) == [200, 201], [r.text for r in answers]
        assert answers[0].json() == answers[1].json()


def test_two_servers_racing_for_the_same_hours_never_both_succeed(two_servers: tuple[Api, As, World]) -> None:
    api, other, w = two_servers
    # Alice has 600 minutes in her time bank: two withdrawals of 400 cannot both be paid.
    answers = race(
        lambda: api.admin.post("/v1/transactions", withdrawal(w.alice, 400)),
        lambda: other.post("/v1/transactions", withdrawal(w.alice, 400)),
    )
    assert sorted(r.status_code for r in answers) == [201, 409]
    assert [r.json()["code"] for r in answers if r.status_code == 409] == ["insufficient_balance"]
    assert api.balance(w.alice)["timebank"]["balance_minutes"] == 200

    # The last badge, wanted at two counters at once.
    answers = race(
        lambda: api.admin.post("/v1/transactions", redemption(w.point, w.alice, ("badge", 1))),
        lambda: other.post("/v1/transactions", redemption(w.point, w.bob, ("badge", 1))),
    )
    statuses: list[Any] = sorted(r.status_code for r in answers)
    assert statuses == [201, 409]
    assert api.stock(w.point)["badge"] == 0


def test_an_item_restocked_at_one_server_is_sold_at_the_other(two_servers: tuple[Api, As, World]) -> None:
    api, other, w = two_servers
    assert api.admin.put(f"/v1/exchange-points/{w.point}/items/umbrella", item(30, 1)).status_code == 200
    assert_created(other.post("/v1/transactions", redemption(w.point, w.alice, ("umbrella", 1))))
    assert api.stock(w.point)["umbrella"] == 0


def test_replays_of_one_service_record_at_two_servers_all_answer_the_original(
    two_servers: tuple[Api, As, World],
) -> None:
    """Ten clients at each server retry one record at once: one 201, the rest 200 with it,
    never 409 overlapping_service (the record overlapping itself)."""
    api, other, w = two_servers
    for _ in range(ROUNDS // 2):
        body = service_record(w.carol, w.org, minutes=30)
        answers = race(*[(lambda c=c: c.post("/v1/transactions", body)) for c in [api.admin, other] * 10])
        assert sorted(r.status_code for r in answers) == [200] * 19 + [201], [r.text for r in answers]
        assert len({r.json()["position"] for r in answers}) == 1
    assert api.balance(w.carol)["service"]["earned_minutes"] == 30 * (ROUNDS // 2)
