"""Helpers for the HTTP API tests: a client with a key per role, request bodies, a small world
built over HTTP, and the assertions every error test makes (problem details, nothing recorded).

Test modules import the fixtures they use from here: `from tests.support.api_client import api, world`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.api_key import key_id_of
from ledger.application import HourLedger
from ledger.persistence import persistence_env

PROBLEM_JSON = "application/problem+json"
HUAIAN, XUYI, CHANGZHOU, JINTAN = "3208", "320830", "3204", "320412"

# Service happens in the past (a record that ends in the future is refused): each call to
# `service_record` without a start takes the next slot of 25 hours after this moment, so that
# no two records overlap (a record lasts at most 1,440 minutes).
FIRST_SLOT = datetime(2001, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
_slots = itertools.count()
# When the world's own service record (alice's, 600 minutes) started: before every slot.
SERVICE_START = datetime(2000, 6, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))


def new_id() -> str:
    return str(uuid4())


# Requests ------------------------------------------------------------------------------


class As:
    """Requests made with one API key (or none)."""

    def __init__(self, client: httpx.Client | TestClient, secret: str | None, key_id: str | None = None) -> None:
        self.client = client
        self.secret = secret
        self.key_id = key_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"} if self.secret else {}

    def request(self, method: str, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if json is not None:
            kwargs["json"] = json
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


class Api:
    """The API over one ledger, as the first admin and as keys issued over HTTP."""

    def __init__(self, ledger: HourLedger) -> None:
        self.ledger = ledger
        self.client = TestClient(create_app(ledger, limit_rates=False), raise_server_exceptions=False)
        secret = ledger.keys.bootstrap_admin()
        assert secret is not None and secret.startswith("hl_")
        self.admin = As(self.client, secret, str(key_id_of(secret)))
        self.anonymous = As(self.client, None)

    def key(self, role: str, name: str | None = None, **scope: Any) -> As:
        """A new key of `role`, issued by the admin through POST /v1/api-keys."""
        body = {"role": role, "name": name or f"{role} key", **{k: v for k, v in scope.items() if v is not None}}
        response = self.admin.post("/v1/api-keys", body)
        assert response.status_code == 201, response.text
        issued = response.json()
        return As(self.client, issued["secret"], issued["id"])

    def balance(self, volunteer_id: str) -> dict[str, Any]:
        """Both books of a volunteer, without the moment they were read at."""
        response = self.admin.get(f"/v1/volunteers/{volunteer_id}/balance")
        assert response.status_code == 200, response.text
        found = response.json()
        del found["as_of"]
        return found

    def point(self, point_id: str) -> dict[str, Any]:
        response = self.admin.get(f"/v1/exchange-points/{point_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def stock(self, point_id: str) -> dict[str, int]:
        return {item["sku"]: item["stock"] for item in self.point(point_id)["items"]}


# Bodies --------------------------------------------------------------------------------


def organization(region_code: str = XUYI, **fields: Any) -> dict[str, Any]:
    return {"name": "Xuyi civilisation office", "region_code": region_code, **fields}


def volunteer(region_code: str = XUYI, **fields: Any) -> dict[str, Any]:
    return {"name": "Wang Fang", "region_code": region_code, **fields}


def exchange_point(region_code: str = XUYI, **fields: Any) -> dict[str, Any]:
    return {"name": "Xuyi reward exchange point", "region_code": region_code, **fields}


def item(price_minutes: int = 60, stock: int = 10, min_star: int = 0, name: str = "item") -> dict[str, Any]:
    return {"name": name, "price_minutes": price_minutes, "stock": stock, "min_star": min_star}


def service_record(
    volunteer_id: str, organization_id: str, minutes: int = 120, started_at: datetime | None = None, **fields: Any
) -> dict[str, Any]:
    start = started_at or FIRST_SLOT + timedelta(hours=25 * next(_slots))
    return {
        "id": new_id(),
        "type": "service_record",
        "volunteer_id": volunteer_id,
        "organization_id": organization_id,
        "category": "elder care",
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
        **fields,
    }


def deposit(volunteer_id: str, organization_id: str, minutes: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "type": "timebank_deposit",
        "volunteer_id": volunteer_id,
        "organization_id": organization_id,
        "minutes": minutes,
        "served_at": "2025-03-01T09:00:00+08:00",
        **fields,
    }


def withdrawal(volunteer_id: str, minutes: int, **fields: Any) -> dict[str, Any]:
    return {"id": new_id(), "type": "timebank_withdrawal", "volunteer_id": volunteer_id, "minutes": minutes, **fields}


def transfer(from_id: str, to_id: str, minutes: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "type": "timebank_transfer",
        "from_volunteer_id": from_id,
        "to_volunteer_id": to_id,
        "minutes": minutes,
        "relation": "daughter",
        **fields,
    }


def donation(volunteer_id: str, minutes: int, **fields: Any) -> dict[str, Any]:
    return {"id": new_id(), "type": "timebank_donation", "volunteer_id": volunteer_id, "minutes": minutes, **fields}


def grant(volunteer_id: str, minutes: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "type": "timebank_grant",
        "volunteer_id": volunteer_id,
        "minutes": minutes,
        "reason": "lives alone, needs care",
        **fields,
    }


def redemption(point_id: str, volunteer_id: str, *lines: tuple[str, int], **fields: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "type": "redemption",
        "exchange_point_id": point_id,
        "volunteer_id": volunteer_id,
        "items": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        **fields,
    }


def reversal(transaction_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": new_id(), "type": "reversal", "reverses": transaction_id, "reason": "posted by mistake", **fields}


# Assertions ----------------------------------------------------------------------------


def assert_problem(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem with SPEC's stable code; `field` is named when given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers["content-type"]
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert isinstance(body["type"], str) and isinstance(body["title"], str)
    assert isinstance(body["detail"], str) and body["detail"]
    if field is not None:
        assert body.get("field") == field or body["detail"].startswith(f"{field}:"), body
    return body


def assert_created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def legs_by_account(transaction: dict[str, Any]) -> dict[str, int]:
    assert sum(leg["minutes"] for leg in transaction["legs"]) == 0, transaction["legs"]
    return {leg["account"]: leg["minutes"] for leg in transaction["legs"]}


@contextmanager
def nothing_recorded(api: Api, *volunteer_ids: str, points: tuple[str, ...] = ()) -> Iterator[None]:
    """Asserts that the requests made inside record nothing: the log's head, the volunteers'
    balances and the points' stock are as before."""
    head = api.ledger.head_position()
    balances = {v: api.balance(v) for v in volunteer_ids}
    stock = {p: api.stock(p) for p in points}
    yield
    assert api.ledger.head_position() == head, "a failed request recorded events"
    assert {v: api.balance(v) for v in volunteer_ids} == balances
    assert {p: api.stock(p) for p in points} == stock


# A world to act in ---------------------------------------------------------------------


@dataclass
class World:
    """Things in Xuyi (320830, Huai'an) and one of each in Jintan (320412, Changzhou).

    `alice` and `bob` have open time-bank accounts, alice with 600 minutes in it and 600
    minutes of recorded service; `carol` has no time-bank account. The point sells `tea`
    (60 min, 10 in stock), `badge` (10 min, one left), `medal` (needs ★1) and `umbrella`
    (none left)."""

    org: str
    alice: str
    bob: str
    carol: str
    point: str
    cz_org: str
    cz_volunteer: str
    cz_point: str
    service: str  # alice's service record
    deposit: str  # alice's time-bank deposit


def build_world(api: Api) -> World:
    admin = api.admin

    def create(path: str, body: dict[str, Any]) -> str:
        return assert_created(admin.post(path, body))["id"]

    org = create("/v1/organizations", organization())
    alice = create("/v1/volunteers", volunteer(name="Alice", organization_id=org))
    bob = create("/v1/volunteers", volunteer(name="Bob", organization_id=org))
    carol = create("/v1/volunteers", volunteer(name="Carol"))
    for person in (alice, bob):
        assert_created(admin.post(f"/v1/volunteers/{person}/timebank"))
    point = create("/v1/exchange-points", exchange_point())
    for sku, body in {
        "tea": item(60, 10),
        "badge": item(10, 1),
        "medal": item(10, 10, min_star=1),
        "umbrella": item(30, 0),
    }.items():
        assert admin.put(f"/v1/exchange-points/{point}/items/{sku}", body).status_code == 200
    cz_org = create("/v1/organizations", organization(JINTAN, name="Jintan volunteer association"))
    cz_volunteer = create("/v1/volunteers", volunteer(JINTAN, name="Zhou", organization_id=cz_org))
    assert_created(admin.post(f"/v1/volunteers/{cz_volunteer}/timebank"))
    cz_point = create("/v1/exchange-points", exchange_point(JINTAN, name="Jintan exchange point"))
    assert admin.put(f"/v1/exchange-points/{cz_point}/items/tea", item(60, 10)).status_code == 200
    service = create("/v1/transactions", service_record(alice, org, minutes=600, started_at=SERVICE_START))
    deposit_id = create("/v1/transactions", deposit(alice, org, 600))
    return World(org, alice, bob, carol, point, cz_org, cz_volunteer, cz_point, service, deposit_id)


@pytest.fixture
def api(ledger: HourLedger) -> Iterator[Api]:
    client = Api(ledger)
    with client.client:
        yield client


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


# One store and world per module, for tests that record nothing (each asserts it does not)
# or only add things of their own: built once instead of once per test.


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from tests.conftest import fresh_store

    with fresh_store(request.param, tmp_path_factory.mktemp("shared")) as url:
        ledger = HourLedger(env=persistence_env(url))
        try:
            client = Api(ledger)
            with client.client:
                yield client
        finally:
            ledger.close()


@pytest.fixture(scope="module")
def shared_world(shared_api: Api) -> World:
    return build_world(shared_api)

