"""The exchange-point counter (SPEC §7) over HTTP, on both stores: a clerk finds the volunteer
in front of them (by ID number, or by id), hands over items on a receipt that names them,
finds a redemption by its pickup code, and undoes their own mistake within
HOUR_LEDGER_COUNTER_REVERSAL_HOURS — and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from ledger.application import HourLedger
from tests.support.api_client import (
    CHANGZHOU,
    HUAIAN,
    Api,
    World,
    assert_created,
    assert_problem,
    build_world,
    deposit,
    item,
    new_id,
    nothing_recorded,
    redemption,
    reversal,
    volunteer,
)


class Clock:
    """The ledger's "now": real time, moved on by `later`. Transactions are recorded at the real
    time, so after `later(25)` a redemption made just now was posted 25 hours ago."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def later(self, hours: float) -> None:
        self.offset += timedelta(hours=hours)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(store_env: dict[str, str], clock: Clock) -> Iterator[Api]:
    ledger = HourLedger(env={**store_env, "HOUR_LEDGER_COUNTER_REVERSAL_HOURS": "24"}, clock=clock)
    try:
        client = Api(ledger)
        with client.client:
            yield client
    finally:
        ledger.close()


@pytest.fixture
def world(api: Api) -> World:
    w = build_world(api)
    assert api.admin.put(f"/v1/exchange-points/{w.point}/items/umbrella", item(30, 3, name="雨伞")).status_code == 200
    return w


def test_a_clerks_day(api: Api, world: World) -> None:
    w = world
    counter = api.key("exchange_point", "盱眙县兑换点柜台", exchange_point_id=w.point)
    registered = assert_created(api.admin.post("/v1/volunteers", volunteer(name="王秀英", id_number="320830195001011234")))
    assert_created(api.admin.post("/v1/transactions", deposit(w.alice, w.org, 1)))  # noise

    # Who is at the counter: by ID card, or by the id on their volunteer card.
    found = counter.get("/v1/volunteers", params={"id_number": "320830195001011234"}).json()["items"]
    assert [v["name"] for v in found] == ["王秀英"]
    alice = counter.get(f"/v1/volunteers/{w.alice}").json()
    assert (alice["name"], alice["service"]["available_minutes"], alice["star_level"]) == ("Alice", 600, 0)
    assert alice["birth_year"] is None

    # The receipt names what was handed over.
    bought = assert_created(counter.post("/v1/transactions", redemption(w.point, w.alice, ("umbrella", 2), ("tea", 1))))
    assert sorted((line["sku"], line["name"], line["quantity"]) for line in bought["lines"]) == [
        ("tea", "item", 1), ("umbrella", "雨伞", 2),
    ]

    # Later the volunteer comes back with the pickup code, typed as heard.
    for typed in (bought["pickup_code"], bought["pickup_code"].lower(), f" {bought['pickup_code']} "):
        response = counter.get(f"/v1/exchange-points/{w.point}/redemptions", params={"pickup_code": typed})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [r["id"] for r in items] == [bought["id"]]
    assert items[0]["volunteer_name"] == "Alice" and items[0]["lines"] == bought["lines"]
    assert items[0]["pickup_code"] == bought["pickup_code"] and items[0]["reversed_by"] is None

    # The wrong umbrella: the clerk undoes it a minute later.
    with_stock = api.stock(w.point)
    undone = assert_created(counter.post("/v1/transactions", reversal(bought["id"], reason="拿错了")))
    assert undone["posted_by"]["name"] == "盱眙县兑换点柜台"
    assert api.stock(w.point) == {**with_stock, "umbrella": with_stock["umbrella"] + 2, "tea": with_stock["tea"] + 1}
    assert api.balance(w.alice)["service"]["available_minutes"] == 600
    again = counter.get(f"/v1/exchange-points/{w.point}/redemptions", params={"pickup_code": bought["pickup_code"]})
    assert again.json()["items"][0]["reversed_by"] == undone["id"]
    assert counter.get(f"/v1/transactions/{undone['id']}").json()["reverses"] == bought["id"]
    assert registered["id"] not in [r["volunteer_id"] for r in again.json()["items"]]


def test_the_counters_list_of_redemptions_newest_first(api: Api, world: World) -> None:
    w = world
    counter = api.key("exchange_point", exchange_point_id=w.point)
    made = [assert_created(counter.post("/v1/transactions", redemption(w.point, w.alice, ("tea", 1))))["id"] for _ in range(5)]
    assert_created(api.admin.post("/v1/transactions", redemption(w.cz_point, w.alice, ("tea", 1))))
    listed, cursor = [], None
    while True:
        page = counter.get(f"/v1/exchange-points/{w.point}/redemptions", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        listed.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [r["id"] for r in listed] == made[::-1]
    assert {r["volunteer_name"] for r in listed} == {"Alice"}
    unknown = counter.get(f"/v1/exchange-points/{w.point}/redemptions", params={"pickup_code": "ZZZZZZ"})
    assert unknown.status_code == 200 and unknown.json() == {"items": [], "next_cursor": None}


def test_outside_the_window_the_counter_asks_an_operator(api: Api, world: World, clock: Clock) -> None:
    w = world
    counter = api.key("exchange_point", "盱眙县兑换点柜台", exchange_point_id=w.point)
    bought = assert_created(counter.post("/v1/transactions", redemption(w.point, w.alice, ("umbrella", 1))))

    clock.later(23.9)
    late = reversal(bought["id"])
    clock.later(0.2)
    with nothing_recorded(api, w.alice, points=(w.point,)):
        problem = assert_problem(counter.post("/v1/transactions", late), 403, "forbidden")
    assert "24 hours" in problem["detail"] and bought["id"] in problem["detail"]

    assert_created(api.key("operator", region_code=HUAIAN).post("/v1/transactions", late))
    assert api.stock(w.point)["umbrella"] == 3


def test_inside_the_window_a_retry_of_the_reversal_answers_it_again(api: Api, world: World, clock: Clock) -> None:
    w = world
    counter = api.key("exchange_point", exchange_point_id=w.point)
    bought = assert_created(counter.post("/v1/transactions", redemption(w.point, w.alice, ("umbrella", 1))))
    clock.later(23.5)
    undo = reversal(bought["id"])
    first = assert_created(counter.post("/v1/transactions", undo))
    clock.later(48)
    assert assert_created(counter.post("/v1/transactions", undo), 200)["id"] == first["id"]


def test_the_counter_reverses_nothing_but_its_own_points_redemptions(api: Api, world: World) -> None:
    w = world
    counter = api.key("exchange_point", exchange_point_id=w.point)
    theirs = assert_created(api.admin.post("/v1/transactions", redemption(w.cz_point, w.alice, ("tea", 1))))
    mine = assert_created(counter.post("/v1/transactions", redemption(w.point, w.alice, ("tea", 1))))
    undone = assert_created(api.admin.post("/v1/transactions", reversal(mine["id"])))

    with nothing_recorded(api, w.alice, points=(w.point, w.cz_point)):
        for target in (theirs["id"], w.service, w.deposit, undone["id"]):
            assert_problem(counter.post("/v1/transactions", reversal(target)), 403, "forbidden")
        assert_problem(counter.post("/v1/transactions", reversal(new_id())), 404, "not_found")
        batch = counter.post("/v1/transactions/batch", {"transactions": [reversal(theirs["id"])]})
        assert batch.json()["results"][0]["status"] == 403


def test_who_may_look_up_a_points_redemptions(api: Api, world: World) -> None:
    w = world
    bought = assert_created(api.admin.post("/v1/transactions", redemption(w.point, w.alice, ("tea", 1))))
    path = f"/v1/exchange-points/{w.point}/redemptions"
    params = {"pickup_code": bought["pickup_code"]}
    for key in (api.admin, api.key("operator"), api.key("operator", region_code=HUAIAN), api.key("auditor")):
        assert [r["id"] for r in key.get(path, params=params).json()["items"]] == [bought["id"]]
    for key in (api.key("operator", region_code=CHANGZHOU), api.key("exchange_point", exchange_point_id=w.cz_point)):
        assert_problem(key.get(path, params=params), 403, "forbidden")
    other_counter = api.key("exchange_point", exchange_point_id=w.cz_point)
    assert_problem(other_counter.get(f"/v1/transactions/{bought['id']}"), 403, "forbidden")
    assert_problem(api.anonymous.get(path, params=params), 401, "unauthorized")
    assert_problem(api.admin.get(f"/v1/exchange-points/{new_id()}/redemptions"), 404, "not_found")
    for bad in ("ABC", "ABCDEFG", "ABCDE0", "ABCDEI", "ABC DE"):
        assert_problem(api.admin.get(path, params={"pickup_code": bad}), 422, "validation_error", "pickup_code")


def test_stock_errors_name_the_item(api: Api, world: World) -> None:
    w = world
    counter = api.key("exchange_point", exchange_point_id=w.point)
    assert api.admin.put(f"/v1/exchange-points/{w.point}/items/medal", item(10, 5, min_star=1, name="志愿者勋章")).status_code == 200
    with nothing_recorded(api, w.alice, points=(w.point,)):
        too_many = assert_problem(counter.post("/v1/transactions", redemption(w.point, w.alice, ("umbrella", 4))), 409, "out_of_stock")
        assert too_many["detail"] == "item '雨伞 (umbrella)': 3 in stock, 4 asked"
        stars = assert_problem(counter.post("/v1/transactions", redemption(w.point, w.alice, ("medal", 1))), 409, "star_level_too_low")
        assert stars["detail"].startswith("item '志愿者勋章 (medal)' needs star level 1")
