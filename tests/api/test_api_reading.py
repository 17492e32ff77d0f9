"""Reading over HTTP (SPEC §3 "Reading" and "Consistency"), on SQLite and PostgreSQL.

One story per store, told through the API and only read afterwards: Alice of Xuyi serves,
opens her time bank, deposits, withdraws, gives hours to Bob, donates to the pool, Bob is
granted hours, Alice redeems a tea at the Xuyi counter, and three mistakes are reversed. After
every step the story reads both balances with `min_position` = the step's position; the tests
then check those balances, the balances as of every step's recorded time (exactly then, and a
microsecond before), the statements of both books with their pages, and the raw events.

Consistency tests of their own write more: reads with the projection follower running in the
background, read-your-writes under concurrent writers, and 503 for a position never reached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import HourLedger
from tests.support.api_client import (
    CHANGZHOU,
    HUAIAN,
    JINTAN,
    Api,
    As,
    assert_created,
    assert_problem,
    deposit,
    donation,
    exchange_point,
    grant,
    item,
    new_id,
    organization,
    redemption,
    reversal,
    service_record,
    transfer,
    volunteer,
    withdrawal,
)
from tests.support.api_stores import CHINA, SMALL_STARS, STORES, api_on, china_day, moment

MICROSECOND = timedelta(microseconds=1)
UTC = timezone.utc


def books(earned: int = 0, redeemed: int = 0, star: int = 0, open: bool = False, timebank: int = 0) -> dict[str, Any]:
    """A balance as GET /balance answers it (without `as_of`)."""
    return {
        "service": {
            "earned_minutes": earned,
            "redeemed_minutes": redeemed,
            "available_minutes": earned - redeemed,
            "star_level": star,
        },
        "timebank": {"open": open, "balance_minutes": timebank},
    }


# Star thresholds are 120, 240, ... minutes (tests/api_stores.py): 180 earned is ★1, 270 is ★2.
STORY: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # step                          Alice after it                                 Bob after it
    ("alice registered",            books(),                                       books()),
    ("service of 180 minutes",      books(180, 0, 1),                              books()),
    ("alice opens her time bank",   books(180, 0, 1, True, 0),                     books()),
    ("bob opens his time bank",     books(180, 0, 1, True, 0),                     books(open=True)),
    ("deposit of 120",              books(180, 0, 1, True, 120),                   books(open=True)),
    ("withdrawal of 30",            books(180, 0, 1, True, 90),                    books(open=True)),
    ("transfer of 20 to bob",       books(180, 0, 1, True, 70),                    books(open=True, timebank=20)),
    ("donation of 10 to the pool",  books(180, 0, 1, True, 60),                    books(open=True, timebank=20)),
    ("grant of 5 to bob",           books(180, 0, 1, True, 60),                    books(open=True, timebank=25)),
    ("redemption of a tea (60)",    books(180, 60, 1, True, 60),                   books(open=True, timebank=25)),
    ("redemption reversed",         books(180, 0, 1, True, 60),                    books(open=True, timebank=25)),
    ("service of 90 minutes",       books(270, 0, 2, True, 60),                    books(open=True, timebank=25)),
    ("that service reversed",       books(180, 0, 1, True, 60),                    books(open=True, timebank=25)),
    ("withdrawal reversed",         books(180, 0, 1, True, 90),                    books(open=True, timebank=25)),
]


@dataclass
class Step:
    label: str
    recorded_at: datetime  # the transaction's posted_at (opened_at, registered_at)
    position: int | None
    transaction: dict[str, Any] | None
    alice: dict[str, Any]  # as read right after the step, with min_position
    bob: dict[str, Any]


@dataclass
class Story:
    api: Api
    org: str
    point: str
    alice: str
    bob: str
    zhou: str  # a volunteer of Jintan (Changzhou)
    desk: As  # operator scoped to Huai'an: posts most of the story
    counter: As  # the Xuyi exchange point's key: posts the redemption
    auditor_huaian: As
    auditor_changzhou: As
    steps: list[Step] = field(default_factory=list)

    def step(self, label: str) -> Step:
        (found,) = [s for s in self.steps if s.label == label]
        return found

    def id(self, label: str) -> str:
        transaction = self.step(label).transaction
        assert transaction is not None
        return transaction["id"]


def balance_now(api: Api, volunteer_id: str, **params: Any) -> dict[str, Any]:
    response = api.admin.get(f"/v1/volunteers/{volunteer_id}/balance", params=params)
    assert response.status_code == 200, response.text
    found = response.json()
    del found["as_of"]
    return found


def tell(api: Api) -> Story:
    admin = api.admin

    def create(path: str, body: dict[str, Any]) -> dict[str, Any]:
        return assert_created(admin.post(path, body))

    org = create("/v1/organizations", organization(name="盱眙志愿服务队"))["id"]
    point = create("/v1/exchange-points", exchange_point(name="盱眙兑换点"))["id"]
    assert admin.put(f"/v1/exchange-points/{point}/items/tea", item(60, 5, name="tea")).status_code == 200
    registered = create("/v1/volunteers", volunteer(name="Alice", organization_id=org))
    alice = registered["id"]
    bob = create("/v1/volunteers", volunteer(name="Bob", organization_id=org))["id"]
    zhou = create("/v1/volunteers", volunteer(JINTAN, name="Zhou"))["id"]
    story = Story(
        api, org, point, alice, bob, zhou,
        desk=api.key("operator", "Xuyi front desk", region_code=HUAIAN),
        counter=api.key("exchange_point", "Xuyi counter", exchange_point_id=point),
        auditor_huaian=api.key("auditor", "Huai'an auditor", region_code=HUAIAN),
        auditor_changzhou=api.key("auditor", "Changzhou auditor", region_code=CHANGZHOU),
    )

    def record(label: str, recorded_at: str, position: int | None, transaction: dict[str, Any] | None = None) -> None:
        pinned = {"min_position": position} if position is not None else {}
        story.steps.append(Step(
            label, moment(recorded_at), position, transaction,
            balance_now(api, alice, **pinned), balance_now(api, bob, **pinned),
        ))

    def post(label: str, body: dict[str, Any], by: As | None = None) -> None:
        posted = assert_created((by or story.desk).post("/v1/transactions", body))
        record(label, posted["posted_at"], posted["position"], posted)

    def open_timebank(label: str, who: str) -> None:
        opened = assert_created(story.desk.post(f"/v1/volunteers/{who}/timebank"))
        record(label, opened["opened_at"], opened["position"])

    record("alice registered", registered["registered_at"], None)
    post("service of 180 minutes", service_record(alice, org, minutes=180))
    open_timebank("alice opens her time bank", alice)
    open_timebank("bob opens his time bank", bob)
    post("deposit of 120", deposit(alice, org, 120))
    post("withdrawal of 30", withdrawal(alice, 30))
    post("transfer of 20 to bob", transfer(alice, bob, 20))
    post("donation of 10 to the pool", donation(alice, 10))
    post("grant of 5 to bob", grant(bob, 5))
    post("redemption of a tea (60)", redemption(point, alice, ("tea", 1)), by=story.counter)
    post("redemption reversed", reversal(story.id("redemption of a tea (60)")))
    post("service of 90 minutes", service_record(alice, org, minutes=90))
    post("that service reversed", reversal(story.id("service of 90 minutes")))
    post("withdrawal reversed", reversal(story.id("withdrawal of 30")))
    return story


@pytest.fixture(scope="module", params=STORES)
def story(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with api_on(request.param, tmp_path_factory.mktemp("reading"), **SMALL_STARS) as api:
        yield tell(api)


def as_of(moment_: datetime) -> str:
    return moment_.astimezone(UTC).isoformat()


# Balances --------------------------------------------------------------------------------


def test_balances_after_each_kind_of_transaction(story: Story) -> None:
    observed = [(s.label, s.alice, s.bob) for s in story.steps]
    assert observed == STORY
    # The read model agrees with the ledger's own aggregates (GET /v1/volunteers/{id}).
    for person in (story.alice, story.bob):
        profile = story.api.admin.get(f"/v1/volunteers/{person}").json()
        assert {"service": profile["service"], "timebank": profile["timebank"]} == balance_now(story.api, person)


def test_a_current_balance_is_as_of_the_moment_it_was_read(story: Story) -> None:
    before = datetime.now(UTC)
    response = story.api.admin.get(f"/v1/volunteers/{story.alice}/balance")
    after = datetime.now(UTC)
    assert response.status_code == 200
    assert response.json()["service"]["earned_minutes"] == 180
    assert before - timedelta(seconds=1) <= moment(response.json()["as_of"]) <= after + timedelta(seconds=1)


def test_as_of_includes_what_was_recorded_exactly_then_and_not_a_microsecond_earlier(story: Story) -> None:
    api = story.api
    at, just_before, expected_at, expected_before = [], [], [], []
    previous = (books(), books())  # before Alice's registration, everything is zero
    for step in story.steps:
        for who in (story.alice, story.bob):
            at.append(balance_now(api, who, as_of=as_of(step.recorded_at)))
            just_before.append(balance_now(api, who, as_of=as_of(step.recorded_at - MICROSECOND)))
        expected_at += [step.alice, step.bob]
        expected_before += list(previous)
        previous = (step.alice, step.bob)
    assert at == expected_at
    assert just_before == expected_before


def test_as_of_in_any_zone_and_as_a_bare_date(story: Story) -> None:
    api, alice = story.api, story.alice
    step = story.step("deposit of 120")
    instant = step.recorded_at
    url = f"/v1/volunteers/{alice}/balance"
    in_china = instant.astimezone(CHINA).isoformat()  # e.g. 2026-03-05T09:00:00.123456+08:00
    answers = {
        "UTC, + URL-encoded": api.admin.get(url, params={"as_of": instant.astimezone(UTC).isoformat()}),
        "+08:00, + URL-encoded": api.admin.get(url, params={"as_of": in_china}),
        "Z": api.admin.get(url, params={"as_of": instant.astimezone(UTC).isoformat().replace("+00:00", "Z")}),
        # A client that forgets to encode "+" sends a space; the API reads it as the "+" it was.
        "+08:00, + not encoded": api.admin.get(f"{url}?as_of={in_china}"),
    }
    for form, response in answers.items():
        assert response.status_code == 200, (form, response.text)
        found = response.json()
        assert moment(found.pop("as_of")) == instant, form
        assert found == step.alice, form

    # A bare date is the end of that day in China (23:59:59.999999 +08:00).
    last_day = china_day(story.steps[-1].transaction["posted_at"])  # type: ignore[index]
    response = api.admin.get(url, params={"as_of": last_day.isoformat()})
    assert response.status_code == 200, response.text
    found = response.json()
    assert moment(found.pop("as_of")) == datetime(
        last_day.year, last_day.month, last_day.day, 23, 59, 59, 999_999, tzinfo=CHINA
    )
    assert found == story.steps[-1].alice
    day_before_registration = china_day(as_of(story.steps[0].recorded_at)) - timedelta(days=1)
    assert balance_now(api, alice, as_of=day_before_registration.isoformat()) == books()


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-05T09:00:00",  # no zone
        "2026-03-05 09:00:00",  # no zone
        "yesterday",
        "2026-02-30",  # no such day
        "2026-03-05T25:00:00+08:00",
        "",
        "2026-W10-4",  # an ISO week date is not YYYY-MM-DD
        "20260305T090000+08:00",  # nor is the basic format RFC 3339
        "0001-01-01T00:00:00+14:00",  # before anything UTC can express
        "9999-12-31T23:59:59-14:00",  # after it
        "2026-03-05T09:00:00+08:00" + "0" * 40,  # too long
    ],
)
def test_an_as_of_that_is_not_an_rfc3339_moment_or_a_date_is_422(story: Story, value: str) -> None:
    response = story.api.admin.get(f"/v1/volunteers/{story.alice}/balance", params={"as_of": value})
    assert_problem(response, 422, "validation_error", "as_of")


def test_who_may_read_a_balance(story: Story) -> None:
    api = story.api
    url = "/v1/volunteers/{}/balance".format
    assert_problem(api.admin.get(url(new_id())), 404, "not_found")
    assert_problem(story.auditor_huaian.get(url(new_id())), 404, "not_found")
    # An exchange point's key reads any volunteer's balance, in its region or not.
    for person in (story.alice, story.zhou):
        response = story.counter.get(url(person))
        assert response.status_code == 200, response.text
    assert story.counter.get(url(story.alice)).json()["service"]["available_minutes"] == 180
    # Region-scoped auditors read inside their region only.
    assert story.auditor_huaian.get(url(story.alice)).status_code == 200
    assert_problem(story.auditor_changzhou.get(url(story.alice)), 403, "forbidden")
    assert story.auditor_changzhou.get(url(story.zhou)).status_code == 200
    assert_problem(story.auditor_huaian.get(url(story.zhou)), 403, "forbidden")
    assert_problem(api.anonymous.get(url(story.alice)), 401, "unauthorized")
    assert_problem(api.admin.get(url("not-a-uuid")), 422, "validation_error", "volunteer_id")


# Statements ------------------------------------------------------------------------------

# (step, type, signed minutes, balance after) of each book, oldest first.
ALICE_SERVICE = [
    ("service of 180 minutes", "service_record", 180, 180),
    ("redemption of a tea (60)", "redemption", -60, 120),
    ("redemption reversed", "reversal", 60, 180),
    ("service of 90 minutes", "service_record", 90, 270),
    ("that service reversed", "reversal", -90, 180),
]
ALICE_TIMEBANK = [
    ("deposit of 120", "timebank_deposit", 120, 120),
    ("withdrawal of 30", "timebank_withdrawal", -30, 90),
    ("transfer of 20 to bob", "timebank_transfer", -20, 70),
    ("donation of 10 to the pool", "timebank_donation", -10, 60),
    ("withdrawal reversed", "reversal", 30, 90),
]
BOB_TIMEBANK = [
    ("transfer of 20 to bob", "timebank_transfer", 20, 20),
    ("grant of 5 to bob", "timebank_grant", 5, 25),
]


def statement(api: Api, volunteer_id: str, **params: Any) -> dict[str, Any]:
    response = api.admin.get(f"/v1/volunteers/{volunteer_id}/statement", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def entries_of(story: Story, expected: list[tuple[str, str, int, int]]) -> list[dict[str, Any]]:
    """The statement entries the story's steps should have made."""
    return [
        {
            "transaction_id": story.id(label),
            "type": type_,
            "minutes": minutes,
            "balance_after_minutes": after,
            "recorded_at": story.step(label).recorded_at,
        }
        for label, type_, minutes, after in expected
    ]


def readable(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "recorded_at": moment(e["recorded_at"])} for e in entries]


@pytest.mark.parametrize(
    ("who", "book", "expected", "closing"),
    [
        ("alice", "service", ALICE_SERVICE, 180),
        ("alice", "timebank", ALICE_TIMEBANK, 90),
        ("bob", "timebank", BOB_TIMEBANK, 25),
        ("bob", "service", [], 0),
    ],
)
def test_a_statement_lists_signed_entries_with_running_balances(
    story: Story, who: str, book: str, expected: list[tuple[str, str, int, int]], closing: int
) -> None:
    found = statement(story.api, getattr(story, who), book=book)
    assert readable(found["entries"]) == entries_of(story, expected)
    assert (found["opening_minutes"], found["closing_minutes"], found["next_cursor"]) == (0, closing, None)
    # The running balance is the opening plus every signed amount so far.
    running = found["opening_minutes"]
    for entry in found["entries"]:
        running += entry["minutes"]
        assert entry["balance_after_minutes"] == running


def test_the_service_book_is_the_default(story: Story) -> None:
    assert statement(story.api, story.alice) == statement(story.api, story.alice, book="service")


def test_a_statement_from_to_includes_both_ends_exactly(story: Story) -> None:
    api, alice = story.api, story.alice
    first, last = story.step("withdrawal of 30").recorded_at, story.step("donation of 10 to the pool").recorded_at

    found = statement(api, alice, book="timebank", **{"from": as_of(first), "to": as_of(last)})
    assert readable(found["entries"]) == entries_of(story, ALICE_TIMEBANK[1:4])
    assert (found["opening_minutes"], found["closing_minutes"]) == (120, 60)

    found = statement(api, alice, book="timebank", **{"from": as_of(first + MICROSECOND), "to": as_of(last - MICROSECOND)})
    assert readable(found["entries"]) == entries_of(story, ALICE_TIMEBANK[2:3])
    assert (found["opening_minutes"], found["closing_minutes"]) == (90, 70)

    # Bare dates are whole days in China: from the first day to the last, everything.
    days = {china_day(as_of(s.recorded_at)) for s in story.steps}
    found = statement(api, alice, book="timebank", **{"from": min(days).isoformat(), "to": max(days).isoformat()})
    assert readable(found["entries"]) == entries_of(story, ALICE_TIMEBANK)
    assert (found["opening_minutes"], found["closing_minutes"]) == (0, 90)
    found = statement(api, alice, book="service", to=(min(days) - timedelta(days=1)).isoformat())
    assert (found["entries"], found["opening_minutes"], found["closing_minutes"]) == ([], 0, 0)
    found = statement(api, alice, book="service", **{"from": (max(days) + timedelta(days=1)).isoformat()})
    assert (found["entries"], found["opening_minutes"], found["closing_minutes"]) == ([], 180, 180)


def pages(api: Api, volunteer_id: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a statement, following next_cursor until it is null."""
    found = [statement(api, volunteer_id, **params)]
    while found[-1]["next_cursor"] is not None:
        assert len(found) < 50, "next_cursor never ends"
        found.append(statement(api, volunteer_id, **params, cursor=found[-1]["next_cursor"]))
    return found


@pytest.mark.parametrize(
    ("book", "params", "expected", "opening", "closing"),
    [
        ("service", {"limit": 2}, ALICE_SERVICE, 0, 180),
        ("timebank", {"limit": 2}, ALICE_TIMEBANK, 0, 90),
        ("timebank", {"limit": 1, "from": "withdrawal of 30"}, ALICE_TIMEBANK[1:], 120, 90),
        ("service", {"limit": 5}, ALICE_SERVICE, 0, 180),  # exactly one full page
    ],
)
def test_walking_the_pages_of_a_statement_gives_every_entry_once_oldest_first(
    story: Story, book: str, params: dict[str, Any], expected: list[Any], opening: int, closing: int
) -> None:
    if "from" in params:
        params = {**params, "from": as_of(story.step(params["from"]).recorded_at)}
    walked = pages(story.api, story.alice, book=book, **params)
    limit = params["limit"]
    assert len(walked) == -(-len(expected) // limit)
    assert all(1 <= len(page["entries"]) <= limit for page in walked)
    # Opening and closing describe the whole statement, on every page.
    assert {(p["opening_minutes"], p["closing_minutes"]) for p in walked} == {(opening, closing)}
    entries = [e for page in walked for e in page["entries"]]
    assert readable(entries) == entries_of(story, expected)
    assert [e["recorded_at"] for e in readable(entries)] == sorted(e["recorded_at"] for e in readable(entries))


def test_bad_statement_parameters_are_422_naming_them(story: Story) -> None:
    api, alice = story.api, story.alice
    url = f"/v1/volunteers/{alice}/statement"
    cursor = statement(api, alice, book="service", limit=1)["next_cursor"]
    bobs = statement(api, story.bob, book="timebank", limit=1)["next_cursor"]
    assert cursor and bobs
    cases = [
        ({"book": "pool"}, "book"),
        ({"book": ""}, "book"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "two"}, "limit"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": "!!!!"}, "cursor"),
        ({"book": "timebank", "cursor": cursor}, "cursor"),  # the service book's cursor
        ({"book": "timebank", "cursor": bobs}, "cursor"),  # Bob's cursor
        ({"from": "2026-03-05T09:00:00"}, "from"),
        ({"to": "soon"}, "to"),
        ({"from": "2026-03-06", "to": "2026-03-05"}, "from"),
    ]
    for params, name in cases:
        assert_problem(api.admin.get(url, params=params), 422, "validation_error", name)


def test_who_may_read_a_statement(story: Story) -> None:
    url = "/v1/volunteers/{}/statement".format
    assert_problem(story.api.admin.get(url(new_id())), 404, "not_found")
    assert_problem(story.counter.get(url(story.alice)), 403, "forbidden")  # balances only
    assert_problem(story.auditor_changzhou.get(url(story.alice)), 403, "forbidden")
    found = story.auditor_huaian.get(url(story.alice), params={"book": "timebank"})
    assert found.status_code == 200 and len(found.json()["entries"]) == len(ALICE_TIMEBANK)


# Raw events ------------------------------------------------------------------------------


def test_the_events_of_a_volunteer_in_order_with_who_posted_each(story: Story) -> None:
    response = story.auditor_huaian.get(f"/v1/volunteers/{story.alice}/events")
    assert response.status_code == 200, response.text
    events = response.json()
    admin, desk, counter = "first admin", "Xuyi front desk", "Xuyi counter"
    assert [(e["type"], e["posted_by"]["name"], e["data"].get("transaction_id")) for e in events] == [
        ("Volunteer.Registered", admin, None),
        ("Volunteer.ServiceRecorded", desk, story.id("service of 180 minutes")),
        ("TimebankAccount.Opened", desk, None),
        ("TimebankAccount.Credited", desk, story.id("deposit of 120")),
        ("TimebankAccount.Debited", desk, story.id("withdrawal of 30")),
        ("TimebankAccount.Debited", desk, story.id("transfer of 20 to bob")),
        ("TimebankAccount.Debited", desk, story.id("donation of 10 to the pool")),
        ("Volunteer.Redeemed", counter, story.id("redemption of a tea (60)")),
        ("Volunteer.RedemptionReversed", desk, story.id("redemption of a tea (60)")),
        ("Volunteer.ServiceRecorded", desk, story.id("service of 90 minutes")),
        ("Volunteer.ServiceReversed", desk, story.id("service of 90 minutes")),
        ("TimebankAccount.Credited", desk, story.id("withdrawal reversed")),
    ]
    keys = {story.desk.key_id: desk, story.counter.key_id: counter, story.api.admin.key_id: admin}
    assert all(keys[e["posted_by"]["key_id"]] == e["posted_by"]["name"] for e in events)
    times = [moment(e["recorded_at"]) for e in events]
    assert times == sorted(times)
    assert times[0] == story.steps[0].recorded_at  # the registration
    # Two streams: the volunteer's and their time-bank account's, each numbered 1, 2, 3...
    streams: dict[str, list[int]] = {}
    for e in events:
        streams.setdefault(e["originator_id"], []).append(e["originator_version"])
    assert set(streams) - {story.alice} and story.alice in streams and len(streams) == 2
    assert all(versions == list(range(1, len(versions) + 1)) for versions in streams.values())
    assert events[1]["data"]["minutes"] == 180 and events[0]["data"]["name"] == "Alice"
    assert "id_number" not in events[0]["data"]


def test_who_may_read_the_events(story: Story) -> None:
    url = "/v1/volunteers/{}/events".format
    assert_problem(story.api.admin.get(url(new_id())), 404, "not_found")
    assert_problem(story.auditor_changzhou.get(url(story.alice)), 403, "forbidden")
    assert_problem(story.counter.get(url(story.alice)), 403, "forbidden")
    assert_problem(story.api.anonymous.get(url(story.alice)), 401, "unauthorized")
    zhou = story.auditor_changzhou.get(url(story.zhou))
    assert zhou.status_code == 200 and [e["type"] for e in zhou.json()] == ["Volunteer.Registered"]


# Consistency -----------------------------------------------------------------------------


def test_every_write_answers_its_position_in_the_log(story: Story) -> None:
    positions = [s.position for s in story.steps[1:]]
    assert all(isinstance(p, int) and p > 0 for p in positions), positions
    assert positions == sorted(set(positions)), "positions must grow with every write"  # type: ignore[type-var]
    assert story.api.ledger.head_position() >= positions[-1]  # type: ignore[operator]
    for step in story.steps:
        if step.transaction is not None:
            again = story.api.admin.get(f"/v1/transactions/{step.transaction['id']}")
            assert again.json()["position"] == step.position
    # (Every balance in STORY was read with min_position = its step's position.)


def test_a_position_never_reached_answers_503_after_a_short_wait_not_a_hang(story: Story) -> None:
    api = story.api
    beyond = api.ledger.head_position() + 1_000_000
    pinned = {"min_position": beyond}
    reads = {
        "balance": (f"/v1/volunteers/{story.alice}/balance", pinned),
        "statement": (f"/v1/volunteers/{story.alice}/statement", pinned),
        "summary": ("/v1/stats/summary", pinned),
        "breakdown": ("/v1/stats/breakdown", {**pinned, "by": "category"}),
    }
    started = time.monotonic()
    with ThreadPoolExecutor(len(reads)) as pool:
        answers = dict(zip(reads, pool.map(lambda read: api.admin.get(read[0], params=read[1]), reads.values())))
    elapsed = time.monotonic() - started
    for name, response in answers.items():
        body = assert_problem(response, 503, "unavailable")
        assert str(beyond) in body["detail"], name
    assert elapsed < 10, f"a read waiting for position {beyond} took {elapsed:.1f} s"
    # The read models were not harmed: the head itself is answered at once.
    head = api.ledger.head_position()
    assert balance_now(api, story.alice, min_position=head) == story.steps[-1].alice
    for bad in (-1, 2**62 + 1, "next"):
        response = api.admin.get(reads["balance"][0], params={"min_position": bad})
        assert_problem(response, 422, "validation_error", "min_position")


@pytest.fixture
def following(ledger: HourLedger) -> Iterator[tuple[As, Any]]:
    """The admin over an app whose lifespan runs the projection follower in the background,
    and that app's read models."""
    secret = Api(ledger).admin.secret
    app = create_app(ledger, follow_projections=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield As(client, secret), app.state.read_models


def eventually(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)  # polling interval, not synchronisation: the deadline decides
    return bool(condition())


def test_with_the_follower_running_reads_right_after_writes_see_them(following: tuple[As, Any]) -> None:
    admin, models = following
    assert models.following, "the app's lifespan should start the follower"
    org = assert_created(admin.post("/v1/organizations", organization()))["id"]
    person = assert_created(admin.post("/v1/volunteers", volunteer(organization_id=org)))["id"]
    opened = assert_created(admin.post(f"/v1/volunteers/{person}/timebank"))

    # The follower catches up on its own, without any read asking it to.
    assert eventually(lambda: models.position() >= opened["position"]), "the follower did not catch up"

    earned = deposited = 0
    for minutes in (30, 45, 60, 75):
        earned += minutes
        deposited += minutes * 2
        assert_created(admin.post("/v1/transactions", service_record(person, org, minutes=minutes)))
        posted = assert_created(admin.post("/v1/transactions", deposit(person, org, minutes * 2)))
        # Without min_position, a read right after the write sees it ...
        books_now = admin.get(f"/v1/volunteers/{person}/balance").json()
        assert (books_now["service"]["earned_minutes"], books_now["timebank"]["balance_minutes"]) == (earned, deposited)
        summary = admin.get("/v1/stats/summary").json()
        assert (summary["service_minutes"], summary["timebank_deposited_minutes"]) == (earned, deposited)
        # ... and with it too.
        pinned = admin.get(f"/v1/volunteers/{person}/statement", params={"book": "timebank", "min_position": posted["position"]})
        assert pinned.json()["entries"][-1]["transaction_id"] == posted["id"]
        assert pinned.json()["closing_minutes"] == deposited


WRITERS, WRITES = 4, 5


def test_read_your_writes_under_concurrent_writers(following: tuple[As, Any]) -> None:
    admin, models = following
    app = admin.client.app  # type: ignore[union-attr]
    org = assert_created(admin.post("/v1/organizations", organization()))["id"]
    people = [
        assert_created(admin.post("/v1/volunteers", volunteer(name=f"Writer {n}", organization_id=org)))["id"]
        for n in range(WRITERS)
    ]
    barrier = threading.Barrier(WRITERS)

    def write_and_read(person: str) -> list[tuple[int, int, int, int]]:
        """(earned expected, earned read, entries expected, entries read) after each write."""
        own = As(TestClient(app, raise_server_exceptions=False), admin.secret)
        barrier.wait(timeout=10)
        seen, earned = [], 0
        for n in range(WRITES):
            minutes = 10 + n
            posted = own.post("/v1/transactions", service_record(person, org, minutes=minutes))
            assert posted.status_code == 201, posted.text
            earned += minutes
            pinned = {"min_position": posted.json()["position"]}
            balance = own.get(f"/v1/volunteers/{person}/balance", params=pinned)
            entries = own.get(f"/v1/volunteers/{person}/statement", params=pinned)
            assert balance.status_code == 200 and entries.status_code == 200, (balance.text, entries.text)
            seen.append((earned, balance.json()["service"]["earned_minutes"], n + 1, len(entries.json()["entries"])))
        return seen

    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(write_and_read, people))
    for seen in results:
        assert [(e, r) for e, r, _, _ in seen] == [(e, e) for e, _, _, _ in seen]
        assert [(e, r) for _, _, e, r in seen] == [(e, e) for _, _, e, _ in seen]
    assert models.following
    totals = admin.get("/v1/stats/summary").json()
    assert totals["service_records"] == WRITERS * WRITES
    assert totals["service_minutes"] == WRITERS * sum(10 + n for n in range(WRITES))

