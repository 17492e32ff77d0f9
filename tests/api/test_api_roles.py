"""SPEC §3's role table over HTTP: every endpoint × every kind of key, and region scopes.

admin: everything. operator: everything but API keys, inside its region if scoped.
exchange_point: redemptions at its own point (and reversals of its recent ones), reading
balances and profiles, its own point's redemptions, finding a volunteer by ID number.
auditor: read-only, inside its region if scoped. No key or a revoked key: 401. Both stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api_client import (
    CHANGZHOU,
    HUAIAN,
    JINTAN,
    XUYI,
    Api,
    As,
    World,
    api,  # noqa: F401 - fixture
    assert_created,
    assert_problem,
    deposit,
    exchange_point,
    item,
    nothing_recorded,
    organization,
    redemption,
    reversal,
    service_record,
    transfer,
    volunteer,
    shared_api,  # noqa: F401 - fixture
    shared_world,  # noqa: F401 - fixture
    world,  # noqa: F401 - fixture
)

ROLES = ["admin", "operator", "operator 3208", "operator 3204", "exchange point", "auditor",
         "auditor 3208", "auditor 3204", "no key", "revoked key"]

# What each kind of key gets from each endpoint, acting on things in Xuyi (320830, in 3208).
# For the batch: the batch's status / its one item's status.
MATRIX: dict[str, tuple[Any, ...]] = {
    #                          admin  op  op3208 op3204 point  aud  aud3208 aud3204 none revoked
    "create organization":    (201,  201,  201,  403,   403,  403,  403,   403,   401, 401),
    "read organization":      (200,  200,  200,  403,   403,  200,  200,   403,   401, 401),
    "create volunteer":       (201,  201,  201,  403,   403,  403,  403,   403,   401, 401),
    "read volunteer":         (200,  200,  200,  403,   200,  200,  200,   403,   401, 401),
    "list volunteers":        (200,  200,  200,  200,   403,  200,  200,   200,   401, 401),
    "find by ID number":      (200,  200,  200,  200,   200,  200,  200,   200,   401, 401),
    "list organizations":     (200,  200,  200,  200,   403,  200,  200,   200,   401, 401),
    "list exchange points":   (200,  200,  200,  200,   403,  200,  200,   200,   401, 401),
    "list API keys":          (200,  403,  403,  403,   403,  403,  403,   403,   401, 401),
    "list transactions":      (200,  200,  200,  200,   200,  200,  200,   200,   401, 401),
    "find by pickup code":    (200,  200,  200,  403,   200,  200,  200,   403,   401, 401),
    "open time bank":         (201,  201,  201,  403,   403,  403,  403,   403,   401, 401),
    "create exchange point":  (201,  201,  201,  403,   403,  403,  403,   403,   401, 401),
    "put item":               (200,  200,  200,  403,   403,  403,  403,   403,   401, 401),
    "read exchange point":    (200,  200,  200,  403,   200,  200,  200,   403,   401, 401),
    "issue API key":          (201,  403,  403,  403,   403,  403,  403,   403,   401, 401),
    "revoke API key":         (204,  403,  403,  403,   403,  403,  403,   403,   401, 401),
    "post deposit":           (201,  201,  201,  403,   403,  403,  403,   403,   401, 401),
    "post redemption":        (201,  201,  201,  403,   201,  403,  403,   403,   401, 401),
    "post batch":             ("200/201", "200/201", "200/201", "200/403", "200/403", "200/403",
                               "200/403", "200/403", 401, 401),
    "read transaction":       (200,  200,  200,  403,   403,  200,  200,   403,   401, 401),
    "read balance":           (200,  200,  200,  403,   200,  200,  200,   403,   401, 401),
}


def endpoints(api: Api, w: World) -> dict[str, tuple[str, str, Any]]:
    victim = api.key("auditor", "to be revoked")
    newcomer = assert_created(api.admin.post("/v1/volunteers", volunteer(name="Newcomer")))["id"]
    return {
        "create organization": ("POST", "/v1/organizations", organization()),
        "read organization": ("GET", f"/v1/organizations/{w.org}", None),
        "create volunteer": ("POST", "/v1/volunteers", volunteer(organization_id=w.org)),
        "read volunteer": ("GET", f"/v1/volunteers/{w.alice}", None),
        "list volunteers": ("GET", "/v1/volunteers", None),
        "find by ID number": ("GET", "/v1/volunteers?id_number=320830195001011234", None),
        "list organizations": ("GET", "/v1/organizations", None),
        "list exchange points": ("GET", "/v1/exchange-points", None),
        "list API keys": ("GET", "/v1/api-keys", None),
        "list transactions": ("GET", "/v1/transactions", None),
        "find by pickup code": ("GET", f"/v1/exchange-points/{w.point}/redemptions?pickup_code=ABCDEF", None),
        "open time bank": ("POST", f"/v1/volunteers/{newcomer}/timebank", None),
        "create exchange point": ("POST", "/v1/exchange-points", exchange_point()),
        "put item": ("PUT", f"/v1/exchange-points/{w.point}/items/rice", item(30, 5)),
        "read exchange point": ("GET", f"/v1/exchange-points/{w.point}", None),
        "issue API key": ("POST", "/v1/api-keys", {"role": "auditor", "name": "another auditor"}),
        "revoke API key": ("DELETE", f"/v1/api-keys/{victim.key_id}", None),
        "post deposit": ("POST", "/v1/transactions", deposit(w.alice, w.org, 30)),
        "post redemption": ("POST", "/v1/transactions", redemption(w.point, w.alice, ("tea", 1))),
        "post batch": ("POST", "/v1/transactions/batch", {"transactions": [deposit(w.bob, w.org, 30)]}),
        "read transaction": ("GET", f"/v1/transactions/{w.service}", None),
        "read balance": ("GET", f"/v1/volunteers/{w.alice}/balance", None),
    }


def key_for(role: str, api: Api, w: World) -> As:
    make: dict[str, Callable[[], As]] = {
        "admin": lambda: api.admin,
        "operator": lambda: api.key("operator"),
        "operator 3208": lambda: api.key("operator", region_code=HUAIAN),
        "operator 3204": lambda: api.key("operator", region_code=CHANGZHOU),
        "exchange point": lambda: api.key("exchange_point", exchange_point_id=w.point),
        "auditor": lambda: api.key("auditor"),
        "auditor 3208": lambda: api.key("auditor", region_code=HUAIAN),
        "auditor 3204": lambda: api.key("auditor", region_code=CHANGZHOU),
        "no key": lambda: api.anonymous,
        "revoked key": lambda: revoked(api),
    }
    return make[role]()


def revoked(api: Api) -> As:
    key = api.key("operator", "left the office")
    assert api.admin.delete(f"/v1/api-keys/{key.key_id}").status_code == 204
    return key


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_what_the_role_table_says(shared_api: Api, shared_world: World, role: str) -> None:
    api, world = shared_api, shared_world
    column = ROLES.index(role)
    key = key_for(role, api, world)
    wanted, got = {}, {}
    for name, (method, path, body) in endpoints(api, world).items():
        head = api.ledger.head_position()
        response = key.request(method, path, json=body)
        outcome: Any = response.status_code
        if path.endswith("/batch") and response.status_code == 200:
            outcome = f"200/{response.json()['results'][0]['status']}"
        wanted[name], got[name] = MATRIX[name][column], outcome
        if response.status_code in (401, 403):
            assert_problem(response, response.status_code, {401: "unauthorized", 403: "forbidden"}[response.status_code])
        if response.status_code >= 400 or str(outcome).endswith("403"):
            assert api.ledger.head_position() == head, f"{name}: a refused request recorded events"
    assert got == wanted


# Region scopes -------------------------------------------------------------------------


def test_a_region_scoped_operator_acts_only_inside_its_region(api: Api, world: World) -> None:
    w = world
    huaian = api.key("operator", "Huai'an civil affairs", region_code=HUAIAN)
    cz_service = assert_created(api.admin.post("/v1/transactions", service_record(w.cz_volunteer, w.cz_org, 60)))

    inside = [
        ("POST", "/v1/organizations", organization("320831")),
        ("POST", "/v1/volunteers", volunteer("320830001", organization_id=w.org)),
        ("POST", "/v1/transactions", transfer(w.alice, w.bob, 10)),
        ("POST", "/v1/transactions", reversal(w.service)),
    ]
    for method, path, body in inside:
        assert key_status(huaian, method, path, body) in (200, 201), path

    outside = [
        ("POST", "/v1/organizations", organization(JINTAN)),
        ("POST", "/v1/organizations", organization("32")),  # the province encloses the scope
        ("POST", "/v1/volunteers", volunteer(JINTAN)),
        ("POST", "/v1/volunteers", volunteer(organization_id=w.cz_org)),  # an org outside
        ("POST", "/v1/exchange-points", exchange_point(JINTAN)),
        ("POST", f"/v1/volunteers/{w.cz_volunteer}/timebank", None),
        ("PUT", f"/v1/exchange-points/{w.cz_point}/items/tea", item(1, 1)),
        ("GET", f"/v1/volunteers/{w.cz_volunteer}", None),
        ("GET", f"/v1/volunteers/{w.cz_volunteer}/balance", None),
        ("GET", f"/v1/organizations/{w.cz_org}", None),
        ("GET", f"/v1/exchange-points/{w.cz_point}", None),
        ("GET", f"/v1/transactions/{cz_service['id']}", None),
        ("POST", "/v1/transactions", deposit(w.cz_volunteer, w.cz_org, 10)),
        ("POST", "/v1/transactions", deposit(w.alice, w.cz_org, 10)),  # a Changzhou org pays
        ("POST", "/v1/transactions", transfer(w.alice, w.cz_volunteer, 10)),  # one side outside
        ("POST", "/v1/transactions", redemption(w.cz_point, w.alice, ("tea", 1))),  # a Changzhou point
        ("POST", "/v1/transactions", reversal(cz_service["id"])),
    ]
    with nothing_recorded(api, w.alice, w.cz_volunteer, points=(w.cz_point,)):
        for method, path, body in outside:
            assert_problem(huaian.request(method, path, json=body), 403, "forbidden")


def test_a_county_scope_is_narrower_than_its_city(api: Api, world: World) -> None:
    xuyi = api.key("operator", "Xuyi civil affairs", region_code=XUYI)
    assert xuyi.post("/v1/organizations", organization("320830105")).status_code == 201
    assert xuyi.get(f"/v1/volunteers/{world.alice}").status_code == 200
    with nothing_recorded(api):
        assert_problem(xuyi.post("/v1/organizations", organization("320831")), 403, "forbidden")
        assert_problem(xuyi.post("/v1/organizations", organization(HUAIAN)), 403, "forbidden")


def test_a_region_scoped_auditor_reads_only_inside_its_region(api: Api, world: World) -> None:
    w = world
    auditor = api.key("auditor", "Huai'an audit office", region_code=HUAIAN)
    both = assert_created(api.admin.post("/v1/transactions", transfer(w.alice, w.cz_volunteer, 10)))

    for path in (
        f"/v1/volunteers/{w.alice}",
        f"/v1/volunteers/{w.alice}/balance",
        f"/v1/organizations/{w.org}",
        f"/v1/exchange-points/{w.point}",
        f"/v1/transactions/{w.service}",
    ):
        assert auditor.get(path).status_code == 200, path
    for path in (
        f"/v1/volunteers/{w.cz_volunteer}",
        f"/v1/volunteers/{w.cz_volunteer}/balance",
        f"/v1/organizations/{w.cz_org}",
        f"/v1/exchange-points/{w.cz_point}",
        f"/v1/transactions/{both['id']}",  # touches a volunteer outside the scope
    ):
        assert_problem(auditor.get(path), 403, "forbidden")
    # Read-only, even inside its region.
    with nothing_recorded(api, w.alice):
        assert_problem(auditor.post("/v1/transactions", deposit(w.alice, w.org, 5)), 403, "forbidden")
        assert_problem(auditor.post("/v1/organizations", organization()), 403, "forbidden")


def test_an_exchange_point_key_redeems_only_at_its_own_point(api: Api, world: World) -> None:
    w = world
    counter = api.key("exchange_point", "Xuyi counter", exchange_point_id=w.point)
    bought = assert_created(counter.post("/v1/transactions", redemption(w.point, w.alice, ("tea", 1))))
    assert bought["posted_by"] == {"key_id": counter.key_id, "name": "Xuyi counter"}
    # It reads any volunteer's balance and profile (it is not region-scoped), its own point
    # and its own redemptions.
    assert counter.get(f"/v1/volunteers/{w.cz_volunteer}/balance").status_code == 200
    assert counter.get(f"/v1/volunteers/{w.cz_volunteer}").json()["name"] == "Zhou"
    assert counter.get(f"/v1/exchange-points/{w.point}").status_code == 200
    assert counter.get(f"/v1/transactions/{bought['id']}").json()["pickup_code"] == bought["pickup_code"]

    with nothing_recorded(api, w.alice, points=(w.point, w.cz_point)):
        for body in (
            redemption(w.cz_point, w.alice, ("tea", 1)),
            reversal(w.service),  # only its own point's redemptions (tests/api/test_api_counter.py)
            service_record(w.alice, w.org, 30),
            deposit(w.alice, w.org, 5),
        ):
            assert_problem(counter.post("/v1/transactions", body), 403, "forbidden")
        for path in (f"/v1/exchange-points/{w.cz_point}", f"/v1/transactions/{w.service}"):
            assert_problem(counter.get(path), 403, "forbidden")
        assert_problem(counter.put(f"/v1/exchange-points/{w.point}/items/tea", item(1, 100)), 403, "forbidden")


def key_status(key: As, method: str, path: str, body: Any) -> int:
    return key.request(method, path, json=body).status_code
