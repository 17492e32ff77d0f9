"""Every error SPEC §3 names, as these endpoints produce it: status, problem+json, stable code,
the field named for a 422 — and, for each, that the failed request recorded nothing.
Both stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.api_client import (
    Api,
    World,
    api,
    assert_created,
    assert_problem,
    deposit,
    nothing_recorded,
    organization,
    redemption,
    reversal,
    transfer,
    withdrawal,
    shared_api,
    shared_world,
    world,
)
from tests.support.refused_requests import INVALID, RULES, Make, Request


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
