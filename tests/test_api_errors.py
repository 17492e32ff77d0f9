"""Every error SPEC §3 names, as these endpoints produce it: status, problem+json, stable code,
the field named for a 422 — and, for each, that the failed request recorded nothing.
Both stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.api_client import (
    SERVICE_START,
    Api,
    World,
    api,  # noqa: F401 - fixture
    assert_created,
    assert_problem,
    deposit,
    donation,
    exchange_point,
    grant,
    item,
    new_id,
    nothing_recorded,
    organization,
    redemption,
    reversal,
    service_record,
    transfer,
    volunteer,
    withdrawal,
    shared_api,  # noqa: F401 - fixture
    shared_world,  # noqa: F401 - fixture
    world,  # noqa: F401 - fixture
)

Request = Callable[[World], tuple[str, str, Any]]


def tx(make: Callable[[World], dict[str, Any]]) -> Request:
    return lambda w: ("POST", "/v1/transactions", make(w))


def without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != field}


NAIVE = "2025-03-01T09:00:00"
FUTURE = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)

# (what is wrong, the request, the field the 422 names)
INVALID: list[tuple[str, Request, str]] = [
    ("unknown field", lambda w: ("POST", "/v1/organizations", organization(colour="red")), "colour"),
    ("region of 3 digits", lambda w: ("POST", "/v1/organizations", organization("320")), "region_code"),
    ("region with a letter", lambda w: ("POST", "/v1/volunteers", volunteer("32a0")), "region_code"),
    ("region of 5 digits", lambda w: ("POST", "/v1/exchange-points", exchange_point("32083")), "region_code"),
    ("region as a number", lambda w: ("POST", "/v1/organizations", organization(320830)), "region_code"),
    ("name missing", lambda w: ("POST", "/v1/organizations", {"region_code": "32"}), "name"),
    ("empty name", lambda w: ("POST", "/v1/volunteers", volunteer(name="")), "name"),
    ("blank name", lambda w: ("POST", "/v1/volunteers", volunteer(name="   ")), "name"),
    ("birth year out of range", lambda w: ("POST", "/v1/volunteers", volunteer(birth_year=1800)), "birth_year"),
    ("birth year in the future", lambda w: ("POST", "/v1/volunteers", volunteer(birth_year=2099)), "birth_year"),
    ("bad organisation UUID", lambda w: ("POST", "/v1/volunteers", volunteer(organization_id="org-1")), "organization_id"),
    ("bad client-chosen id", lambda w: ("POST", "/v1/exchange-points", exchange_point(id="123")), "id"),
    ("negative price", lambda w: ("PUT", f"/v1/exchange-points/{w.point}/items/tea", item(-1)), "price_minutes"),
    ("stock as text", lambda w: ("PUT", f"/v1/exchange-points/{w.point}/items/tea", {**item(), "stock": "5"}), "stock"),
    ("min star 6", lambda w: ("PUT", f"/v1/exchange-points/{w.point}/items/tea", item(min_star=6)), "min_star"),
    ("sku with a space", lambda w: ("PUT", f"/v1/exchange-points/{w.point}/items/green%20tea", item()), "sku"),
    ("bad UUID in the path", lambda w: ("PUT", "/v1/exchange-points/nope/items/tea", item()), "exchange_point_id"),
    ("bad UUID in the path (GET)", lambda w: ("GET", "/v1/volunteers/12345", None), "volunteer_id"),
    ("bad UUID in the path (POST)", lambda w: ("POST", "/v1/volunteers/xyz/timebank", None), "volunteer_id"),
    ("bad UUID in the path (DELETE)", lambda w: ("DELETE", "/v1/api-keys/xyz", None), "key_id"),
    ("bad transaction UUID in the path", lambda w: ("GET", "/v1/transactions/0-0", None), "transaction_id"),
    ("minutes as text", tx(lambda w: deposit(w.alice, w.org, "10")), "minutes"),  # type: ignore[arg-type]
    ("fractional minutes", tx(lambda w: deposit(w.alice, w.org, 10.5)), "minutes"),  # type: ignore[arg-type]
    ("whole float minutes", tx(lambda w: withdrawal(w.alice, 10.0)), "minutes"),  # type: ignore[arg-type]
    ("boolean minutes", tx(lambda w: donation(w.alice, True)), "minutes"),  # type: ignore[arg-type]
    ("zero minutes", tx(lambda w: withdrawal(w.alice, 0)), "minutes"),
    ("negative minutes", tx(lambda w: deposit(w.alice, w.org, -60)), "minutes"),
    ("too many minutes", tx(lambda w: grant(w.alice, 1_000_001)), "minutes"),
    ("minutes missing", tx(lambda w: without(donation(w.alice, 5), "minutes")), "minutes"),
    ("unknown transaction field", tx(lambda w: deposit(w.alice, w.org, 10, colour="red")), "colour"),
    ("transaction id missing", tx(lambda w: without(deposit(w.alice, w.org, 10), "id")), "id"),
    ("bad transaction id", tx(lambda w: {**deposit(w.alice, w.org, 10), "id": "tx-1"}), "id"),
    ("bad volunteer UUID", tx(lambda w: withdrawal("not-a-uuid", 10)), "volunteer_id"),
    ("timestamp without zone", tx(lambda w: deposit(w.alice, w.org, 10, served_at=NAIVE)), "served_at"),
    ("timestamp as a number", tx(lambda w: deposit(w.alice, w.org, 10, served_at=1740790800)), "served_at"),
    ("not a timestamp", tx(lambda w: deposit(w.alice, w.org, 10, served_at="yesterday")), "served_at"),
    ("start without zone", tx(lambda w: service_record(w.bob, w.org) | {"started_at": NAIVE}), "started_at"),
    ("service ends in the future", tx(lambda w: service_record(w.bob, w.org, 60, started_at=FUTURE)), "ended_at"),
    ("deposit served in the future", tx(lambda w: deposit(w.alice, w.org, 10, served_at=FUTURE.isoformat())), "served_at"),
    ("service of 1,441 minutes", tx(lambda w: service_record(w.bob, w.org, 1441)), "ended_at"),
    ("service ending before it starts", tx(lambda w: service_record(w.bob, w.org, -30)), "ended_at"),
    ("service under a minute", tx(lambda w: service_record(w.bob, w.org, 0)), "ended_at"),
    ("empty category", tx(lambda w: service_record(w.bob, w.org, category="")), "category"),
    ("empty reason", tx(lambda w: grant(w.alice, 10, reason="")), "reason"),
    ("blank reason", tx(lambda w: reversal(w.deposit, reason="  ")), "reason"),
    ("transfer to oneself", tx(lambda w: transfer(w.alice, w.alice, 10)), "to_volunteer_id"),
    ("reversal of itself", tx(lambda w: (lambda b: b | {"reverses": b["id"]})(reversal(w.deposit))), "reverses"),
    ("redemption of nothing", tx(lambda w: redemption(w.point, w.alice)), "items"),
    ("quantity zero", tx(lambda w: redemption(w.point, w.alice, ("tea", 0))), "items.0.quantity"),
    ("quantity as text", tx(lambda w: redemption(w.point, w.alice, ("tea", "1"))), "items.0.quantity"),  # type: ignore[arg-type]
    ("unknown type", tx(lambda w: {**donation(w.alice, 10), "type": "gift"}), "body"),
    ("type missing", tx(lambda w: without(donation(w.alice, 10), "type")), "body"),
    ("a list for a body", lambda w: ("POST", "/v1/transactions", [donation(w.alice, 10)]), "body"),
    ("date as a Unix time", lambda w: ("GET", "/v1/stats/summary?from=0.0", None), "from"),
    ("date as a number", lambda w: ("GET", "/v1/stats/breakdown?by=month&to=1700000000", None), "to"),
    ("batch without transactions", lambda w: ("POST", "/v1/transactions/batch", {"atomic": True}), "transactions"),
    ("empty batch", lambda w: ("POST", "/v1/transactions/batch", {"transactions": []}), "transactions"),
    ("atomic as text", lambda w: ("POST", "/v1/transactions/batch", {"transactions": [{}], "atomic": "yes"}), "atomic"),
]


@pytest.mark.parametrize("what, request_of, field", INVALID, ids=[case[0] for case in INVALID])
def test_a_body_that_fails_validation_is_a_422_naming_the_field(
    shared_api: Api, shared_world: World, what: str, request_of: Request, field: str
) -> None:
    api, world = shared_api, shared_world
    method, path, body = request_of(world)
    with nothing_recorded(api, world.alice, world.bob, points=(world.point,)):
        response = api.admin.request(method, path, json=body)
        assert_problem(response, 422, "validation_error", field)


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/v1/organizations"),
        ("POST", "/v1/volunteers"),
        ("POST", "/v1/exchange-points"),
        ("PUT", "/v1/exchange-points/{point}/items/tea"),
        ("POST", "/v1/api-keys"),
        ("POST", "/v1/transactions"),
        ("POST", "/v1/transactions/batch"),
    ],
)
def test_malformed_json_is_a_400(shared_api: Api, shared_world: World, method: str, path: str) -> None:
    api, world = shared_api, shared_world
    url = path.format(point=world.point)
    with nothing_recorded(api, world.alice, points=(world.point,)):
        for raw in (b'{"name": "x",', b"{'name': 'x'}", b"not json", b'{"a": 1} trailing'):
            response = api.admin.request(method, url, content=raw, headers={"content-type": "application/json"})
            assert_problem(response, 400, "validation_error")
        # Bytes that are not UTF-8 are no better.
        response = api.admin.request(method, url, content=b'{"name": "\xff"}', headers={"content-type": "application/json"})
        assert response.status_code in (400, 422)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_a_body_over_two_mebibytes_is_a_413(shared_api: Api, shared_world: World) -> None:
    api, world = shared_api, shared_world
    big = b'{"transactions": [' + b'{"id": "x"},' * 200_000 + b'{}]}'
    assert len(big) > 2 * 1024 * 1024

    def chunks() -> Iterator[bytes]:
        # Sent without a Content-Length: the server counts what arrives.
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    with nothing_recorded(api, world.alice):
        announced = api.admin.post("/v1/transactions/batch", content=big, headers={"content-type": "application/json"})
        assert_problem(announced, 413, announced.json()["code"])
        streamed = api.admin.post("/v1/transactions/batch", content=chunks(), headers={"content-type": "application/json"})
        assert "content-length" not in streamed.request.headers
        assert_problem(streamed, 413, streamed.json()["code"])
    # Just under the cap is read (and refused for what it says, not for its size).
    response = api.admin.post("/v1/transactions", content=b" " * (2 * 1024 * 1024 - 2) + b"{}",
                              headers={"content-type": "application/json"})
    assert_problem(response, 422, "validation_error")


# Rules of the ledger -------------------------------------------------------------------

Make = Callable[[World], dict[str, Any]]

# (the error, the request that fails in the world as built, status)
RULES: list[tuple[str, Make, int]] = [
    ("insufficient_balance", lambda w: withdrawal(w.alice, 601), 409),
    ("insufficient_balance", lambda w: donation(w.alice, 601), 409),
    ("insufficient_balance", lambda w: transfer(w.bob, w.alice, 1), 409),
    ("insufficient_balance", lambda w: grant(w.bob, 1), 409),  # the pool is empty
    ("insufficient_balance", lambda w: redemption(w.point, w.alice, ("tea", 10), ("badge", 1)), 409),
    ("out_of_stock", lambda w: redemption(w.point, w.alice, ("umbrella", 1)), 409),
    ("out_of_stock", lambda w: redemption(w.point, w.alice, ("tea", 1), ("badge", 2)), 409),
    ("star_level_too_low", lambda w: redemption(w.point, w.alice, ("medal", 1)), 409),
    ("timebank_not_open", lambda w: deposit(w.carol, w.org, 60), 409),
    ("timebank_not_open", lambda w: withdrawal(w.carol, 60), 409),
    ("timebank_not_open", lambda w: transfer(w.alice, w.carol, 60), 409),
    ("timebank_cap_exceeded", lambda w: deposit(w.alice, w.org, 90_000 - 599), 409),
    ("overlapping_service", lambda w: service_record(w.alice, w.org, 30, started_at=SERVICE_START + timedelta(minutes=599)), 409),
    ("transaction_id_conflict", lambda w: {**withdrawal(w.alice, 5), "id": w.deposit}, 409),
    ("not_found", lambda w: withdrawal(new_id(), 5), 404),
    ("not_found", lambda w: deposit(w.alice, new_id(), 5), 404),
    ("not_found", lambda w: service_record(w.alice, new_id()), 404),
    ("not_found", lambda w: redemption(new_id(), w.alice, ("tea", 1)), 404),
    ("not_found", lambda w: redemption(w.point, w.alice, ("caviar", 1)), 404),
    ("not_found", lambda w: transfer(w.alice, new_id(), 5), 404),
    ("not_found", lambda w: reversal(new_id()), 404),
]


@pytest.mark.parametrize("code, make, status", RULES, ids=[f"{c[0]}-{i}" for i, c in enumerate(RULES)])
def test_a_rule_of_the_ledger_refuses_the_transaction(
    shared_api: Api, shared_world: World, code: str, make: Make, status: int
) -> None:
    assert_refused_and_nothing_recorded(shared_api, shared_world, make(shared_world), status, code)


def post_ok(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    return assert_created(api.admin.post("/v1/transactions", body))


def reversed_redemption(api: Api, w: World) -> dict[str, Any]:
    bought = post_ok(api, redemption(w.point, w.alice, ("tea", 1)))
    return post_ok(api, reversal(bought["id"]))


# (the error, what is done first, the request that then fails)
RULES_AFTER: list[tuple[str, Callable[[Api, World], Any], Callable[[World, Any], dict[str, Any]]]] = [
    # The earned hours were spent: the service record cannot be taken back.
    ("insufficient_balance", lambda api, w: post_ok(api, redemption(w.point, w.alice, ("tea", 1))),
     lambda w, _: reversal(w.service)),
    ("insufficient_balance", lambda api, w: post_ok(api, withdrawal(w.alice, 1)), lambda w, _: reversal(w.deposit)),
    ("timebank_cap_exceeded", lambda api, w: post_ok(api, deposit(w.bob, w.org, 90_000)),
     lambda w, _: transfer(w.alice, w.bob, 1)),
    ("already_reversed", lambda api, w: post_ok(api, reversal(w.deposit)), lambda w, _: reversal(w.deposit)),
    ("not_reversible", reversed_redemption, lambda w, undo: reversal(undo["id"])),
]


@pytest.mark.parametrize("code, before, make", RULES_AFTER, ids=[c[0] for c in RULES_AFTER])
def test_a_rule_of_the_ledger_refuses_what_earlier_transactions_rule_out(
    api: Api, world: World, code: str, before: Callable[[Api, World], Any], make: Callable[[World, Any], dict[str, Any]]
) -> None:
    done = before(api, world)
    assert_refused_and_nothing_recorded(api, world, make(world, done), 409, code)


def assert_refused_and_nothing_recorded(api: Api, w: World, body: dict[str, Any], status: int, code: str) -> None:
    with nothing_recorded(api, w.alice, w.bob, w.carol, points=(w.point,)):
        assert_problem(api.admin.post("/v1/transactions", body), status, code)
        # Retrying the refused request is refused the same way: the id was not taken.
        assert_problem(api.admin.post("/v1/transactions", body), status, code)
        if code != "transaction_id_conflict":
            assert_problem(api.admin.get(f"/v1/transactions/{body['id']}"), 404, "not_found")


def test_a_refused_id_can_be_used_once_the_rule_is_met(api: Api, world: World) -> None:
    body = withdrawal(world.bob, 100)
    assert_problem(api.admin.post("/v1/transactions", body), 409, "insufficient_balance")
    post_ok(api, deposit(world.bob, world.org, 100))
    assert post_ok(api, body)["minutes"] == 100
    assert api.balance(world.bob)["timebank"]["balance_minutes"] == 0


# Keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer hl_" + "0" * 32 + "_unknownsecret",
        "Bearer hl_nothex_secret",
        "Bearer hl_",
        "Bearer not-a-key",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "hl_" + "0" * 32 + "_noscheme",
    ],
    ids=["no key", "unknown key", "malformed key", "prefix only", "not ours", "empty", "basic auth", "no scheme"],
)
def test_a_request_without_a_valid_key_is_a_401(shared_api: Api, shared_world: World, authorization: str | None) -> None:
    api, world = shared_api, shared_world
    headers = {"Authorization": authorization} if authorization is not None else {}
    with nothing_recorded(api, world.alice):
        for method, path, body in (
            ("GET", f"/v1/volunteers/{world.alice}", None),
            ("GET", f"/v1/volunteers/{world.alice}/balance", None),
            ("POST", "/v1/transactions", deposit(world.alice, world.org, 5)),
            ("POST", "/v1/organizations", organization()),
            ("POST", "/v1/api-keys", {"role": "admin", "name": "intruder"}),
        ):
            response = api.client.request(method, path, json=body, headers=headers)
            assert_problem(response, 401, "unauthorized")
            assert response.headers.get("www-authenticate", "").startswith("Bearer")


def test_a_forged_secret_for_a_real_key_is_a_401(shared_api: Api, shared_world: World) -> None:
    api, world = shared_api, shared_world
    operator = api.key("operator")
    forged = operator.secret[:-4] + ("AAAA" if not operator.secret.endswith("AAAA") else "BBBB")
    response = api.client.get(f"/v1/volunteers/{world.alice}", headers={"Authorization": f"Bearer {forged}"})
    assert_problem(response, 401, "unauthorized")


def test_unauthenticated_bad_input_is_still_a_4xx(shared_api: Api) -> None:
    api = shared_api
    # Validation may run before the key is checked; either way no 5xx and a problem.
    response = api.client.post("/v1/transactions", content=b"{", headers={"content-type": "application/json"})
    assert response.status_code in (400, 401)
    assert response.headers["content-type"].startswith("application/problem+json")
