"""Lists with cursor pagination (SPEC §7) over HTTP, on both stores: every list walked page by
page shows each item exactly once, also while others are being added; every filter; what
region-scoped and exchange-point keys may see (scope leaks tried for every list); bad
parameters are 422s naming the parameter."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.actors import SYSTEM
from ledger.commands import DepositTimebank
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
    new_id,
    organization,
    redemption,
    reversal,
    service_record,
    shared_api,  # noqa: F401 - fixture
    shared_world,  # noqa: F401 - fixture
    transfer,
    volunteer,
    world,  # noqa: F401 - fixture
)

JINHU = "320831"


def walk(key: As, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, following next_cursor page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        response = key.get(path, params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        found = response.json()
        assert len(found["items"]) <= limit
        items.extend(found["items"])
        cursor = found["next_cursor"]
        if cursor is None:
            return items
        assert found["items"], "a page with a next_cursor has items"
    raise AssertionError("the walk did not end")


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def create(api: Api, path: str, body: dict[str, Any]) -> str:
    return assert_created(api.admin.post(path, body))["id"]


# Walking a list ----------------------------------------------------------------------------


def test_walking_the_volunteers_shows_each_exactly_once_in_registration_order(api: Api) -> None:
    registered = [create(api, "/v1/volunteers", volunteer(name=f"志愿者{n}")) for n in range(23)]

    for limit in (1, 5, 23, 50):
        assert ids(walk(api.admin, "/v1/volunteers", limit)) == registered
    first = api.admin.get("/v1/volunteers", params={"limit": 23}).json()
    assert first["next_cursor"] is None and ids(first["items"]) == registered


def test_a_walk_meets_every_volunteer_once_while_others_register(api: Api) -> None:
    before = [create(api, "/v1/volunteers", volunteer(name=f"早{n}")) for n in range(40)]
    added: list[str] = []
    stop = threading.Event()

    def register() -> None:
        n = 0
        while not stop.is_set() and n < 200:
            added.append(str(api.ledger.register_volunteer(SYSTEM, f"晚{n}", XUYI).aggregate.id))
            n += 1

    writer = threading.Thread(target=register)
    writer.start()
    try:
        seen = ids(walk(api.admin, "/v1/volunteers", 3))
    finally:
        stop.set()
        writer.join()

    assert len(seen) == len(set(seen)), "an item was shown twice"
    assert seen[: len(before)] == before
    assert set(seen) - set(before) <= set(added)
    order = {vid: n for n, vid in enumerate([*before, *added])}
    assert [order[v] for v in seen] == sorted(order[v] for v in seen)
    assert ids(walk(api.admin, "/v1/volunteers", 500)) == [*before, *added]


def test_a_walk_meets_every_transaction_once_newest_first_while_others_are_posted(api: Api, world: World) -> None:
    w = world
    posted = [create(api, "/v1/transactions", deposit(w.bob, w.org, 1)) for _ in range(30)]
    stop = threading.Event()
    added: list[str] = []

    def post() -> None:
        while not stop.is_set() and len(added) < 100:
            command = DepositTimebank(id=uuid4(), volunteer_id=UUID(w.bob), organization_id=UUID(w.org), minutes=1,
                                      served_at=datetime(2025, 3, 1, tzinfo=timezone.utc))
            added.append(str(api.ledger.post(SYSTEM, command).transaction.id))

    writer = threading.Thread(target=post)
    writer.start()
    try:
        seen = ids(walk(api.admin, "/v1/transactions", 4, volunteer_id=w.bob))
    finally:
        stop.set()
        writer.join()

    assert len(seen) == len(set(seen))
    assert [t for t in seen if t in posted] == list(reversed(posted))
    assert set(seen) <= set(posted) | set(added)
    everything = ids(walk(api.admin, "/v1/transactions", 500, volunteer_id=w.bob))
    assert everything == list(reversed([*posted, *added]))


def test_the_limit_defaults_to_50_and_goes_up_to_500(api: Api) -> None:
    for n in range(55):
        create(api, "/v1/organizations", organization(name=f"志愿服务队{n}"))
    default = api.admin.get("/v1/organizations").json()
    assert len(default["items"]) == 50 and default["next_cursor"] is not None
    rest = api.admin.get("/v1/organizations", params={"cursor": default["next_cursor"]}).json()
    assert len(rest["items"]) == 5 and rest["next_cursor"] is None
    assert len(api.admin.get("/v1/organizations", params={"limit": 500}).json()["items"]) == 55


# Filters -------------------------------------------------------------------------------------


def test_volunteers_by_region_prefix_and_by_organization(api: Api) -> None:
    xuyi_org = create(api, "/v1/organizations", organization(XUYI))
    jinhu_org = create(api, "/v1/organizations", organization(JINHU, name="金湖县志愿者协会"))
    in_xuyi = create(api, "/v1/volunteers", volunteer(XUYI, organization_id=xuyi_org))
    in_a_xuyi_town = create(api, "/v1/volunteers", volunteer("320830101", organization_id=xuyi_org))
    in_jinhu = create(api, "/v1/volunteers", volunteer(JINHU, organization_id=jinhu_org))
    in_jintan = create(api, "/v1/volunteers", volunteer(JINTAN))
    unaffiliated = create(api, "/v1/volunteers", volunteer(XUYI))

    def listed(**params: Any) -> list[str]:
        return ids(walk(api.admin, "/v1/volunteers", 2, **params))

    assert listed(region="32") == [in_xuyi, in_a_xuyi_town, in_jinhu, in_jintan, unaffiliated]
    assert listed(region=HUAIAN) == [in_xuyi, in_a_xuyi_town, in_jinhu, unaffiliated]
    assert listed(region=XUYI) == [in_xuyi, in_a_xuyi_town, unaffiliated]
    assert listed(region="320830101") == [in_a_xuyi_town]
    assert listed(region=CHANGZHOU) == [in_jintan]
    assert listed(region="3205") == []
    assert listed(organization_id=xuyi_org) == [in_xuyi, in_a_xuyi_town]
    assert listed(organization_id=jinhu_org, region=XUYI) == []
    assert listed(organization_id=new_id()) == []


def test_a_listed_volunteer_is_the_profile_with_balances_and_star_level(api: Api, world: World) -> None:
    w = world
    assert_created(api.admin.post("/v1/transactions", redemption(w.point, w.alice, ("tea", 1))))
    for person in (w.alice, w.bob, w.carol):
        profile = api.admin.get(f"/v1/volunteers/{person}").json()
        listed = [v for v in api.admin.get("/v1/volunteers").json()["items"] if v["id"] == person]
        assert listed == [profile]
    alice = api.admin.get(f"/v1/volunteers/{w.alice}").json()
    assert alice["service"] == {"earned_minutes": 600, "redeemed_minutes": 60, "available_minutes": 540, "star_level": 0}
    assert alice["timebank"] == {"open": True, "balance_minutes": 600}


def test_organizations_and_exchange_points_by_region_and_name(api: Api, world: World) -> None:
    w = world
    huai = create(api, "/v1/organizations", organization(HUAIAN, name="淮安市志愿服务联合会"))
    jinhu_point = create(api, "/v1/exchange-points", exchange_point(JINHU, name="金湖县新时代文明实践站兑换点"))

    orgs = walk(api.admin, "/v1/organizations", 1, region=HUAIAN)
    assert ids(orgs) == [w.org, huai]
    assert orgs[1] == api.admin.get(f"/v1/organizations/{huai}").json()
    assert ids(walk(api.admin, "/v1/organizations", 10, q="联合会")) == [huai]
    assert ids(walk(api.admin, "/v1/organizations", 10, region=CHANGZHOU)) == [w.cz_org]

    points = walk(api.admin, "/v1/exchange-points", 1, region=HUAIAN)
    assert ids(points) == [w.point, jinhu_point]
    assert points[0] == api.point(w.point)  # with its items and stock
    assert ids(walk(api.admin, "/v1/exchange-points", 10, q="文明实践")) == [jinhu_point]
    # Stock follows redemptions and their reversals.
    bought = assert_created(api.admin.post("/v1/transactions", redemption(w.point, w.alice, ("tea", 3))))
    listed_stock = {i["sku"]: i["stock"] for i in walk(api.admin, "/v1/exchange-points", 10, region=XUYI)[0]["items"]}
    assert listed_stock == api.stock(w.point) and listed_stock["tea"] == 7
    assert_created(api.admin.post("/v1/transactions", reversal(bought["id"])))
    listed_stock = {i["sku"]: i["stock"] for i in walk(api.admin, "/v1/exchange-points", 10, region=XUYI)[0]["items"]}
    assert listed_stock["tea"] == 10


def test_transactions_by_volunteer_point_type_and_recorded_time(api: Api, world: World) -> None:
    w = world
    gift = assert_created(api.admin.post("/v1/transactions", transfer(w.alice, w.bob, 60)))
    tea = assert_created(api.admin.post("/v1/transactions", redemption(w.point, w.alice, ("tea", 1))))
    undone = assert_created(api.admin.post("/v1/transactions", reversal(tea["id"])))
    elsewhere = assert_created(api.admin.post("/v1/transactions", redemption(w.cz_point, w.alice, ("tea", 1))))
    for_bob = assert_created(api.admin.post("/v1/transactions", deposit(w.bob, w.org, 30)))

    def listed(**params: Any) -> list[str]:
        return ids(walk(api.admin, "/v1/transactions", 2, **params))

    everything = listed()
    assert everything[:5] == [for_bob["id"], elsewhere["id"], undone["id"], tea["id"], gift["id"]]
    assert everything[5:] == [w.deposit, w.service]
    assert listed(volunteer_id=w.alice) == [elsewhere["id"], undone["id"], tea["id"], gift["id"], w.deposit, w.service]
    assert listed(volunteer_id=w.bob) == [for_bob["id"], gift["id"]]  # a transfer names both
    assert listed(volunteer_id=w.carol) == []
    assert listed(exchange_point_id=w.point) == [undone["id"], tea["id"]]  # a reversal names the point
    assert listed(type="redemption") == [elsewhere["id"], tea["id"]]
    assert listed(type="reversal", volunteer_id=w.alice) == [undone["id"]]
    assert listed(type="redemption", exchange_point_id=w.cz_point) == [elsewhere["id"]]

    # A listed transaction is the transaction as GET /v1/transactions/{id} answers it.
    for found in walk(api.admin, "/v1/transactions", 50):
        assert found == api.admin.get(f"/v1/transactions/{found['id']}").json()
    assert [t for t in walk(api.admin, "/v1/transactions", 50) if t["id"] == tea["id"]][0]["reversed_by"] == undone["id"]

    # from / to: recorded time, inclusive; a date is that China day.
    times = {t["id"]: datetime.fromisoformat(t["posted_at"]) for t in walk(api.admin, "/v1/transactions", 50)}
    middle = times[tea["id"]]
    assert listed(**{"from": middle.isoformat()}) == [for_bob["id"], elsewhere["id"], undone["id"], tea["id"]]
    assert listed(to=middle.isoformat()) == [tea["id"], gift["id"], w.deposit, w.service]
    assert listed(**{"from": middle.isoformat(), "to": middle.isoformat()}) == [tea["id"]]
    today = middle.astimezone(timezone(timedelta(hours=8))).date()
    assert len(listed(**{"from": today.isoformat(), "to": today.isoformat()})) >= 1
    assert listed(to=(today - timedelta(days=2)).isoformat()) == []


def test_transactions_inside_a_region_are_those_all_of_whose_parties_are_inside(api: Api, world: World) -> None:
    w = world
    across = assert_created(api.admin.post("/v1/transactions", transfer(w.alice, w.cz_volunteer, 10)))
    at_home = assert_created(api.admin.post("/v1/transactions", deposit(w.cz_volunteer, w.cz_org, 10)))
    xuyi_org_for_zhou = assert_created(api.admin.post("/v1/transactions", service_record(w.cz_volunteer, w.org, 30)))

    huaian = ids(walk(api.admin, "/v1/transactions", 3, region=HUAIAN))
    changzhou = ids(walk(api.admin, "/v1/transactions", 3, region=CHANGZHOU))
    province = ids(walk(api.admin, "/v1/transactions", 3, region="32"))
    assert huaian == [w.deposit, w.service]  # the others name a party in Changzhou
    assert changzhou == [at_home["id"]]
    assert set(province) == {across["id"], at_home["id"], xuyi_org_for_zhou["id"], w.deposit, w.service}


def test_api_keys_listed_for_admins_with_when_issued_and_revoked_never_a_secret(api: Api, world: World) -> None:
    operator = api.key("operator", "淮安市文明办", region_code=HUAIAN)
    counter = api.key("exchange_point", "盱眙县兑换点", exchange_point_id=world.point)
    assert api.admin.delete(f"/v1/api-keys/{operator.key_id}").status_code == 204

    response = api.admin.get("/v1/api-keys")
    assert response.status_code == 200
    assert "hl_" not in response.text and "secret" not in response.text
    keys = {k["id"]: k for k in walk(api.admin, "/v1/api-keys", 1)}
    assert list(keys) == [api.admin.key_id, operator.key_id, counter.key_id]
    assert keys[operator.key_id]["role"] == "operator" and keys[operator.key_id]["region_code"] == HUAIAN
    assert keys[operator.key_id]["revoked"] is True
    revoked_at = datetime.fromisoformat(keys[operator.key_id]["revoked_at"])
    assert revoked_at >= datetime.fromisoformat(keys[operator.key_id]["created_at"])
    assert keys[counter.key_id]["exchange_point_id"] == world.point and keys[counter.key_id]["revoked_at"] is None
    assert set(keys[counter.key_id]) == {"id", "role", "name", "region_code", "exchange_point_id", "revoked", "created_at", "revoked_at"}
    for key in (api.key("operator"), api.key("auditor"), counter):
        assert_problem(key.get("/v1/api-keys"), 403, "forbidden")


# Scopes ----------------------------------------------------------------------------------------


LISTS = ["/v1/volunteers", "/v1/organizations", "/v1/exchange-points", "/v1/transactions"]


@pytest.mark.parametrize("path", LISTS)
def test_a_region_scoped_key_sees_only_its_region(shared_api: Api, shared_world: World, path: str) -> None:
    api, w = shared_api, shared_world
    huaian_things = {w.org, w.alice, w.bob, w.carol, w.point, w.service, w.deposit}
    changzhou_things = {w.cz_org, w.cz_volunteer, w.cz_point}
    everything = set(ids(walk(api.admin, path, 500)))
    assert everything & huaian_things and (everything & changzhou_things or path == "/v1/transactions")

    for role in ("operator", "auditor"):
        huaian = api.key(role, region_code=HUAIAN)
        changzhou = api.key(role, region_code=CHANGZHOU)
        seen_by_huaian = set(ids(walk(huaian, path, 2)))
        seen_by_changzhou = set(ids(walk(changzhou, path, 2)))
        assert seen_by_huaian and not seen_by_huaian & changzhou_things
        assert not seen_by_changzhou & huaian_things
        assert seen_by_huaian == set(ids(walk(api.admin, path, 500, region=HUAIAN)))
        assert set(ids(walk(huaian, path, 500, region=XUYI))) <= seen_by_huaian
        # Asking for another region, or for one that encloses the scope, is refused.
        for region in (CHANGZHOU, JINTAN, "32"):
            assert_problem(huaian.get(path, params={"region": region}), 403, "forbidden")


def test_a_transaction_with_a_party_outside_the_scope_is_not_listed(api: Api, world: World) -> None:
    w = world
    across = assert_created(api.admin.post("/v1/transactions", transfer(w.alice, w.cz_volunteer, 10)))
    undone = assert_created(api.admin.post("/v1/transactions", reversal(across["id"])))
    paid_elsewhere = assert_created(api.admin.post("/v1/transactions", deposit(w.alice, w.cz_org, 10)))
    hidden = {across["id"], undone["id"], paid_elsewhere["id"]}
    for key in (api.key("operator", region_code=HUAIAN), api.key("auditor", region_code=CHANGZHOU),
                api.key("operator", region_code=XUYI)):
        seen = set(ids(walk(key, "/v1/transactions", 3)))
        assert not seen & hidden
        assert not set(ids(walk(key, "/v1/transactions", 3, volunteer_id=w.alice))) & hidden
        for transaction_id in hidden:
            assert_problem(key.get(f"/v1/transactions/{transaction_id}"), 403, "forbidden")
    assert hidden <= set(ids(walk(api.admin, "/v1/transactions", 3)))


def test_an_exchange_point_key_lists_only_its_own_points_redemptions(api: Api, world: World) -> None:
    w = world
    counter = api.key("exchange_point", "盱眙柜台", exchange_point_id=w.point)
    mine = assert_created(counter.post("/v1/transactions", redemption(w.point, w.alice, ("tea", 1))))
    undone = assert_created(counter.post("/v1/transactions", reversal(mine["id"])))
    theirs = assert_created(api.admin.post("/v1/transactions", redemption(w.cz_point, w.alice, ("tea", 1))))
    again = assert_created(api.admin.post("/v1/transactions", redemption(w.point, w.alice, ("badge", 1))))

    assert ids(walk(counter, "/v1/transactions", 1)) == [again["id"], undone["id"], mine["id"]]
    assert ids(walk(counter, "/v1/transactions", 1, exchange_point_id=w.point)) == [again["id"], undone["id"], mine["id"]]
    assert ids(walk(counter, "/v1/transactions", 1, volunteer_id=w.alice)) == [again["id"], undone["id"], mine["id"]]
    assert ids(walk(counter, "/v1/transactions", 1, volunteer_id=w.bob)) == []
    assert ids(walk(counter, "/v1/transactions", 1, type="redemption")) == [again["id"], mine["id"]]
    assert theirs["id"] not in ids(walk(counter, "/v1/transactions", 50, volunteer_id=w.alice))
    assert_problem(counter.get("/v1/transactions", params={"exchange_point_id": w.cz_point}), 403, "forbidden")
    for path in ("/v1/volunteers", "/v1/organizations", "/v1/exchange-points", "/v1/api-keys"):
        assert_problem(counter.get(path), 403, "forbidden")


# Bad parameters ----------------------------------------------------------------------------------


def test_bad_parameters_are_422s_naming_the_parameter(shared_api: Api, shared_world: World) -> None:
    api = shared_api
    volunteers_cursor = api.admin.get("/v1/volunteers", params={"limit": 1}).json()["next_cursor"]
    assert volunteers_cursor
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/v1/volunteers", {"limit": 0}, "limit"),
        ("/v1/volunteers", {"limit": 501}, "limit"),
        ("/v1/volunteers", {"limit": "ten"}, "limit"),
        ("/v1/volunteers", {"cursor": "not a cursor"}, "cursor"),
        ("/v1/volunteers", {"cursor": "!!!"}, "cursor"),
        ("/v1/organizations", {"cursor": volunteers_cursor}, "cursor"),  # another list's cursor
        ("/v1/transactions", {"cursor": volunteers_cursor}, "cursor"),
        ("/v1/volunteers", {"region": "3"}, "region"),
        ("/v1/volunteers", {"region": "32a8"}, "region"),
        ("/v1/volunteers", {"organization_id": "not-a-uuid"}, "organization_id"),
        ("/v1/volunteers", {"q": "王" * 201}, "q"),
        ("/v1/volunteers", {"id_number": "12"}, "id_number"),
        ("/v1/organizations", {"region": "320830x"}, "region"),
        ("/v1/exchange-points", {"limit": -1}, "limit"),
        ("/v1/api-keys", {"cursor": "djE6MQ"}, "cursor"),
        ("/v1/transactions", {"type": "gift"}, "type"),
        ("/v1/transactions", {"volunteer_id": "alice"}, "volunteer_id"),
        ("/v1/transactions", {"from": "yesterday"}, "from"),
        ("/v1/transactions", {"to": "2026-03-05T09:00:00"}, "to"),
        ("/v1/transactions", {"from": "2026-03-06", "to": "2026-03-05"}, "from"),
        ("/v1/transactions", {"limit": 1000}, "limit"),
    ]
    head = api.ledger.head_position()
    for path, params, name in cases:
        assert_problem(api.admin.get(path, params=params), 422, "validation_error", name)
    assert api.ledger.head_position() == head
