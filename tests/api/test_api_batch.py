"""POST /v1/transactions/batch: one result per item, in order, each as the single call would
answer; `atomic: true` records all or none; up to 1,000 items; replays. Both stores."""

from __future__ import annotations

from typing import Any

from tests.support.api_client import (
    Api,
    As,
    World,
    api,  # noqa: F401 - fixture
    assert_created,
    assert_problem,
    deposit,
    new_id,
    nothing_recorded,
    redemption,
    reversal,
    service_record,
    withdrawal,
    world,  # noqa: F401 - fixture
)


def batch(key: As, items: list[Any], atomic: bool = False) -> list[dict[str, Any]]:
    response = key.post("/v1/transactions/batch", {"transactions": items, "atomic": atomic})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == len(items)
    return results


def statuses(results: list[dict[str, Any]]) -> list[Any]:
    return [(r["status"], r["error"]["code"]) if "error" in r else r["status"] for r in results]


def test_a_batch_answers_each_item_as_the_single_call_would(api: Api, world: World) -> None:
    w = world
    earlier = deposit(w.alice, w.org, 10)
    assert_created(api.admin.post("/v1/transactions", earlier))
    first = deposit(w.bob, w.org, 100)
    items: list[Any] = [
        first,
        earlier,  # posted before: 200 with the original
        {**withdrawal(w.bob, 5), "minutes": "5"},  # invalid shape
        withdrawal(w.carol, 5),  # no time-bank account
        redemption(w.point, w.alice, ("tea", 1)),
        first,  # repeated within the batch
        {**first, "minutes": 101},  # its id with another body
        withdrawal(new_id(), 5),  # unknown volunteer
        42,  # not even an object
        withdrawal(w.bob, 40),  # sees item 0's deposit
    ]
    results = batch(api.admin, items)
    assert statuses(results) == [
        201, 200, (422, "validation_error"), (409, "timebank_not_open"), 201, 200,
        (409, "transaction_id_conflict"), (404, "not_found"), (422, "validation_error"), 201,
    ]
    assert results[2]["error"]["field"] == "minutes"
    assert results[0]["transaction"] == results[5]["transaction"]
    assert len(results[4]["transaction"]["pickup_code"]) == 6
    assert api.balance(w.bob)["timebank"]["balance_minutes"] == 60
    assert api.stock(w.point)["tea"] == 9

    # Each item posted alone now answers what the batch answered: the created ones 200 with
    # the same transaction (position, pickup code), the refused ones the same problem.
    with nothing_recorded(api, w.alice, w.bob, points=(w.point,)):
        for body, result in zip(items, results):
            single = api.admin.post("/v1/transactions", json=body)
            if "transaction" in result:
                assert single.status_code == 200
                assert single.json() == result["transaction"]
            else:
                assert single.status_code == result["status"]
                assert single.headers["content-type"].startswith("application/problem+json")
                assert single.json() == result["error"]


def test_an_atomic_batch_with_a_refused_item_records_nothing(api: Api, world: World) -> None:
    w = world
    items = [deposit(w.bob, w.org, 100), redemption(w.point, w.alice, ("tea", 1)), withdrawal(w.alice, 10_000)]
    with nothing_recorded(api, w.alice, w.bob, points=(w.point,)):
        results = batch(api.admin, items, atomic=True)
    assert statuses(results) == [(424, "not_applied"), (424, "not_applied"), (409, "insufficient_balance")]
    assert "item 2" in results[0]["error"]["detail"]
    assert results[0]["error"]["status"] == 424
    for body in items:
        assert_problem(api.admin.get(f"/v1/transactions/{body['id']}"), 404, "not_found")

    # The same batch, once it can succeed, records every item.
    assert_created(api.admin.post("/v1/transactions", deposit(w.alice, w.org, 10_000 - 600)))
    assert statuses(batch(api.admin, items, atomic=True)) == [201, 201, 201]


def test_an_atomic_batch_with_an_invalid_item_records_nothing(api: Api, world: World) -> None:
    w = world
    items: list[Any] = [
        deposit(w.bob, w.org, 100),
        {**service_record(w.bob, w.org), "started_at": "2025-03-01T09:00:00"},  # no zone
        redemption(w.point, w.alice, ("tea", 1)),
    ]
    with nothing_recorded(api, w.alice, w.bob, points=(w.point,)):
        results = batch(api.admin, items, atomic=True)
    assert statuses(results) == [(424, "not_applied"), (422, "validation_error"), (424, "not_applied")]
    assert results[1]["error"]["field"] == "started_at"


def test_an_atomic_batch_is_all_or_nothing_across_later_rules(api: Api, world: World) -> None:
    """Item 1 is fine alone but conflicts with item 0 of the same batch: neither is recorded."""
    w = world
    service = service_record(w.bob, w.org, 60)
    overlapping = {**service_record(w.bob, w.org, 60), "started_at": service["started_at"], "ended_at": service["ended_at"]}
    with nothing_recorded(api, w.bob):
        results = batch(api.admin, [service, overlapping], atomic=True)
    assert statuses(results) == [(424, "not_applied"), (409, "overlapping_service")]


def test_an_atomic_batch_replayed_answers_the_originals(api: Api, world: World) -> None:
    w = world
    bought = redemption(w.point, w.alice, ("tea", 2))
    items = [deposit(w.bob, w.org, 100), bought, withdrawal(w.bob, 30), reversal(bought["id"])]
    first = batch(api.admin, items, atomic=True)
    assert statuses(first) == [201, 201, 201, 201]
    assert api.balance(w.bob)["timebank"]["balance_minutes"] == 70
    assert api.stock(w.point)["tea"] == 10  # taken and given back

    with nothing_recorded(api, w.alice, w.bob, points=(w.point,)):
        again = batch(api.admin, items, atomic=True)
        assert statuses(again) == [200, 200, 200, 200]
        # The second bought item was reversed since: the replay shows it as it stands now.
        for before, now in zip(first, again):
            assert now["transaction"] == {**before["transaction"], "reversed_by": now["transaction"]["reversed_by"]}
        assert again[1]["transaction"]["reversed_by"] == items[3]["id"]
        # Each one reads back at the position its batch answered.
        for result in first:
            found = api.admin.get(f"/v1/transactions/{result['transaction']['id']}").json()
            assert found["position"] == result["transaction"]["position"]
        # A non-atomic replay answers the same.
        assert statuses(batch(api.admin, items)) == [200, 200, 200, 200]


def test_a_batch_takes_up_to_a_thousand_items(api: Api, world: World) -> None:
    items = [deposit(world.bob, world.org, 1) for _ in range(1000)]
    results = batch(api.admin, items, atomic=True)
    assert {r["status"] for r in results} == {201}
    assert [r["transaction"]["id"] for r in results] == [i["id"] for i in items]
    assert api.balance(world.bob)["timebank"]["balance_minutes"] == 1000

    with nothing_recorded(api, world.bob):
        assert {r["status"] for r in batch(api.admin, items, atomic=True)} == {200}
        too_many = api.admin.post(
            "/v1/transactions/batch", {"transactions": items + [deposit(world.bob, world.org, 1)], "atomic": True}
        )
        assert_problem(too_many, 422, "validation_error", "transactions")


def test_a_batch_checks_each_item_against_the_key(api: Api, world: World) -> None:
    w = world
    counter = api.key("exchange_point", "Xuyi counter", exchange_point_id=w.point)
    own, other = redemption(w.point, w.alice, ("tea", 1)), deposit(w.alice, w.org, 5)

    with nothing_recorded(api, w.alice, points=(w.point,)):
        assert statuses(batch(counter, [own, other], atomic=True)) == [(424, "not_applied"), (403, "forbidden")]
    assert statuses(batch(counter, [own, other])) == [201, (403, "forbidden")]
    with nothing_recorded(api, w.alice):
        assert_problem(api.anonymous.post("/v1/transactions/batch", {"transactions": [other]}), 401, "unauthorized")
