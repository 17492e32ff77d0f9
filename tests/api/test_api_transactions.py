"""Transactions over HTTP: each of the eight types posts, answers SPEC's shape and moves the
books; a posted transaction reads back; a retried id answers the original. Both stores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.support.api_client import (
    Api,
    World,
    api,  # noqa: F401 - fixture
    assert_created,
    assert_problem,
    deposit,
    donation,
    grant,
    legs_by_account,
    new_id,
    nothing_recorded,
    redemption,
    reversal,
    service_record,
    transfer,
    withdrawal,
    world,  # noqa: F401 - fixture
)


def post(api: Api, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    return assert_created(api.admin.post("/v1/transactions", body), status)


def books(api: Api, volunteer_id: str) -> tuple[int, int, int]:
    """(earned, redeemed, time-bank balance) minutes."""
    found = api.balance(volunteer_id)
    return found["service"]["earned_minutes"], found["service"]["redeemed_minutes"], found["timebank"]["balance_minutes"]


def assert_transaction(posted: dict[str, Any], body: dict[str, Any], api: Api) -> None:
    """SPEC's transaction shape: the client's fields, then legs, posted_at, posted_by, position."""
    assert posted["id"] == body["id"]
    assert posted["type"] == body["type"]
    for field in ("volunteer_id", "organization_id", "minutes", "from_volunteer_id", "reverses", "reason"):
        if field in body:
            assert posted[field] == body[field], field
    assert sum(leg["minutes"] for leg in posted["legs"]) == 0
    assert datetime.fromisoformat(posted["posted_at"]).tzinfo is not None
    assert posted["posted_by"] == {"key_id": api.admin.key_id, "name": "first admin"}
    assert posted["position"] == api.ledger.head_position()
    assert posted["reversed_by"] is None


def test_a_service_record_credits_the_service_book(api: Api, world: World) -> None:
    body = service_record(world.bob, world.org, minutes=90, activity="reading to elders")
    posted = post(api, body)
    assert_transaction(posted, body, api)
    assert posted["minutes"] == 90
    assert posted["activity"] == "reading to elders"
    assert legs_by_account(posted) == {f"volunteer:{world.bob}:service": 90, f"org:{world.org}:service": -90}
    assert books(api, world.bob) == (90, 0, 0)


def test_every_time_bank_movement(api: Api, world: World) -> None:
    """Deposit, withdrawal, family transfer, donation to the pool, grant from the pool."""
    steps = [
        (deposit(world.bob, world.org, 300), {f"volunteer:{world.bob}:timebank": 300, f"org:{world.org}:timebank": -300}),
        (withdrawal(world.bob, 50, note="home visit"), {f"volunteer:{world.bob}:timebank": -50, f"org:{world.org}:timebank": 50}),
        (transfer(world.alice, world.bob, 100), {f"volunteer:{world.alice}:timebank": -100, f"volunteer:{world.bob}:timebank": 100}),
        (donation(world.bob, 200), {f"volunteer:{world.bob}:timebank": -200, "pool": 200}),
        (grant(world.alice, 150), {"pool": -150, f"volunteer:{world.alice}:timebank": 150}),
    ]
    for body, legs in steps:
        posted = post(api, body)
        assert_transaction(posted, body, api)
        assert posted["minutes"] == body["minutes"]
        assert legs_by_account(posted) == legs, body["type"]

    assert books(api, world.bob)[2] == 300 - 50 + 100 - 200
    assert books(api, world.alice)[2] == 600 - 100 + 150


def test_a_redemption_takes_hours_and_stock_and_gives_a_pickup_code(api: Api, world: World) -> None:
    body = redemption(world.point, world.alice, ("tea", 2), ("badge", 1))
    posted = post(api, body)
    assert_transaction(posted, body, api)
    assert posted["minutes"] == 2 * 60 + 10
    assert len(posted["pickup_code"]) == 6 and posted["pickup_code"].isalnum()
    assert sorted((line["sku"], line["quantity"], line["price_minutes"]) for line in posted["lines"]) == [
        ("badge", 1, 10),
        ("tea", 2, 60),
    ]
    assert legs_by_account(posted) == {f"volunteer:{world.alice}:service": -130, f"point:{world.point}": 130}
    assert books(api, world.alice) == (600, 130, 600)
    assert api.stock(world.point) == {"tea": 8, "badge": 0, "medal": 10, "umbrella": 0}
    assert api.balance(world.alice)["service"]["available_minutes"] == 470


def test_a_reversal_posts_the_opposite_legs_and_returns_the_stock(api: Api, world: World) -> None:
    bought = post(api, redemption(world.point, world.alice, ("tea", 3)))
    body = reversal(bought["id"], reason="wrong volunteer")
    undone = post(api, body)
    assert_transaction(undone, body, api)
    assert legs_by_account(undone) == {k: -v for k, v in legs_by_account(bought).items()}
    assert books(api, world.alice) == (600, 0, 600)
    assert api.stock(world.point)["tea"] == 10

    original = api.admin.get(f"/v1/transactions/{bought['id']}").json()
    assert original["reversed_by"] == undone["id"]

    # Every type can be reversed; the books return to where they were.
    for body in (service_record(world.bob, world.org, minutes=60), deposit(world.bob, world.org, 40)):
        post(api, reversal(post(api, body)["id"]))
    assert books(api, world.bob) == (0, 0, 0)


def test_a_posted_transaction_reads_back_as_it_was_answered(api: Api, world: World) -> None:
    posted = post(api, redemption(world.point, world.alice, ("tea", 1)))
    found = api.admin.get(f"/v1/transactions/{posted['id']}")
    assert found.status_code == 200
    assert found.json() == posted

    service = api.admin.get(f"/v1/transactions/{world.service}").json()
    assert (service["type"], service["minutes"], service["volunteer_id"]) == ("service_record", 600, world.alice)


def test_the_balance_shows_both_books(api: Api, world: World) -> None:
    response = api.admin.get(f"/v1/volunteers/{world.alice}/balance")
    assert response.status_code == 200
    found = response.json()
    assert found["service"] == {"earned_minutes": 600, "redeemed_minutes": 0, "available_minutes": 600, "star_level": 0}
    assert found["timebank"] == {"open": True, "balance_minutes": 600}
    assert datetime.fromisoformat(found["as_of"]).tzinfo is not None
    assert api.balance(world.carol)["timebank"] == {"open": False, "balance_minutes": 0}


def test_enough_service_earns_a_star(api: Api, world: World) -> None:
    """★1 at 100 hours: four long days of 1,440 minutes and one more of 480."""
    start = datetime.fromisoformat("2024-01-01T00:00:00+08:00")
    for day, minutes in enumerate((1440, 1440, 1440, 1440, 240)):
        post(api, service_record(world.carol, world.org, minutes=minutes, started_at=start + timedelta(days=day)))
    assert api.balance(world.carol)["service"]["star_level"] == 1
    profile = api.admin.get(f"/v1/volunteers/{world.carol}").json()
    assert profile["star_level"] == 1
    # Now the medal (★1 and up) can be redeemed.
    assert post(api, redemption(world.point, world.carol, ("medal", 1)))["minutes"] == 10


# Retries -------------------------------------------------------------------------------


def test_a_retried_transaction_answers_the_original(api: Api, world: World) -> None:
    body = redemption(world.point, world.alice, ("tea", 1))
    first = post(api, body)

    with nothing_recorded(api, world.alice, points=(world.point,)):
        again = post(api, body, status=200)
        assert again == first  # same position, same pickup code

    # The same request with its timestamps written in another zone is the same request.
    service = service_record(world.bob, world.org, minutes=30)
    created = post(api, service)
    utc = {
        **service,
        "started_at": datetime.fromisoformat(service["started_at"]).astimezone(timezone.utc).isoformat(),
        "ended_at": datetime.fromisoformat(service["ended_at"]).astimezone(timezone.utc).isoformat(),
    }
    with nothing_recorded(api, world.bob):
        assert post(api, utc, status=200)["position"] == created["position"]


def test_a_transaction_id_reused_for_another_body_is_a_conflict(api: Api, world: World) -> None:
    first = post(api, deposit(world.bob, world.org, 30))
    with nothing_recorded(api, world.alice, world.bob):
        for other in (
            {**deposit(world.bob, world.org, 31), "id": first["id"]},
            {**withdrawal(world.bob, 30), "id": first["id"]},
            {**deposit(world.alice, world.org, 30), "id": first["id"]},
            # An id a thing has is taken too.
            {**deposit(world.bob, world.org, 30), "id": world.alice},
        ):
            assert_problem(api.admin.post("/v1/transactions", other), 409, "transaction_id_conflict")


def test_a_reversal_of_an_unknown_transaction_is_not_found(api: Api, world: World) -> None:
    with nothing_recorded(api, world.alice):
        assert_problem(api.admin.post("/v1/transactions", reversal(new_id())), 404, "not_found")
