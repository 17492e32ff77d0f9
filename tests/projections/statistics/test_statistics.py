"""Statistics read models against hand-computed figures, on SQLite and PostgreSQL.

The scenario serves in 2021 (service is dated by the client; the ledger's clock is fixed in
2022 so nothing is "in the future"), while registrations, account openings, withdrawals,
redemptions and star levels count on the day they were recorded, which is today: so a 2021
window sees only service, and a window on today only what was recorded.

Star thresholds are small here (2, 4, 6, 8, 10 hours) so that a few records reach them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.commands import (
    DepositTimebank,
    RecordService,
    Redeem,
    RedemptionLine,
    Reverse,
    TransferTimebank,
    WithdrawTimebank,
)
from ledger.config import LedgerSettings
from ledger.errors import ValidationError
from ledger.persistence import persistence_env
from ledger.vocabulary import CHINA_STANDARD_TIME as CST
from ledger.vocabulary import local_day
from projections import ReadModels
from tests.conftest import fresh_store

NOW = datetime(2022, 1, 1, tzinfo=timezone.utc)
THRESHOLDS = (120, 240, 360, 480, 600)
ZERO_STARS = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}


def at(text: str) -> datetime:
    """A China Standard Time moment, as clients send them."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def figures(**given: object) -> dict[str, object]:
    out: dict[str, object] = {
        "volunteers": 0, "active_volunteers": 0, "service_records": 0, "service_minutes": 0,
        "redemptions": 0, "redeemed_minutes": 0, "timebank_accounts": 0,
        "timebank_deposited_minutes": 0, "timebank_withdrawn_minutes": 0, "beneficiaries": 0,
        "stars": dict(ZERO_STARS),
    }
    out.update(given)
    return out


@dataclass
class Scenario:
    ledger: HourLedger
    models: ReadModels
    today: date
    ids: dict[str, UUID] = field(default_factory=dict)


def make_scenario(env: dict[str, str]) -> Scenario:
    ledger = HourLedger(env=env, settings=LedgerSettings(star_thresholds_minutes=THRESHOLDS), clock=lambda: NOW)
    try:
        s = Scenario(ledger, ReadModels(ledger), date.today())
        build(s)
        s.models.catch_up()
        return s
    except BaseException:
        ledger.close()
        raise


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """One scenario per store for the tests that only read."""
    with fresh_store(request.param, tmp_path_factory.mktemp("stats")) as url:
        s = make_scenario(persistence_env(url))
        try:
            yield s
        finally:
            s.ledger.close()


@pytest.fixture
def scenario(store_env: dict[str, str]) -> Iterator[Scenario]:
    """A scenario of its own, for tests that post more."""
    s = make_scenario(store_env)
    try:
        yield s
    finally:
        s.ledger.close()


def build(s: Scenario) -> None:
    app, ids = s.ledger, s.ids
    org_a = app.register_organization(SYSTEM, "盱眙志愿服务队", "320830").aggregate.id
    org_b = app.register_organization(SYSTEM, "金湖志愿服务队", "320831").aggregate.id
    org_c = app.register_organization(SYSTEM, "常州志愿服务队", "3204").aggregate.id
    ids.update(org_a=org_a, org_b=org_b, org_c=org_c)
    for name, region, org in (
        ("v1", "320830001001", org_a),
        ("v2", "320830001002", org_a),
        ("v3", "320831002003", org_b),
        ("v4", "320402", org_c),
        ("v5", "3208", None),  # registered at city level, in no organisation
    ):
        ids[name] = app.register_volunteer(SYSTEM, f"志愿者{name}", region, organization_id=org).aggregate.id
    ids["p1"] = app.register_exchange_point(SYSTEM, "金湖兑换点", "320831").aggregate.id
    ids["p2"] = app.register_exchange_point(SYSTEM, "天宁兑换点", "320402").aggregate.id
    for point in ("p1", "p2"):
        app.put_item(SYSTEM, ids[point], "soap", "肥皂", 30, 100)
    e1, e2 = uuid4(), uuid4()
    ids.update(e1=e1, e2=e2)

    def service(who: str, org: UUID, category: str, start: str, minutes: int) -> UUID:
        begins = at(start)
        command = RecordService(
            id=uuid4(), volunteer_id=ids[who], organization_id=org, category=category,
            started_at=begins, ended_at=begins + timedelta(minutes=minutes),
        )
        return app.post(SYSTEM, command).transaction.id

    service("v1", org_a, "elder_care", "2021-01-10T09:00", 120)
    service("v1", org_a, "cleanup", "2021-01-20T09:00", 60)
    # 01:00 on 4 February in China is still 3 February in UTC: days are China's.
    service("v1", org_a, "elder_care", "2021-02-04T01:00", 90)
    service("v2", org_a, "elder_care", "2021-01-11T09:00", 200)
    service("v2", org_a, "cleanup", "2021-01-12T09:00", 160)
    mistaken = service("v3", org_b, "elder_care", "2021-01-15T09:00", 240)
    service("v3", org_b, "cleanup", "2021-03-01T09:00", 60)
    service("v4", org_c, "cleanup", "2021-02-10T09:00", 30)

    app.open_timebank(SYSTEM, ids["v1"])
    app.open_timebank(SYSTEM, ids["v3"])

    def deposit(who: str, org: UUID, minutes: int, served: str, beneficiary: UUID) -> UUID:
        command = DepositTimebank(
            id=uuid4(), volunteer_id=ids[who], organization_id=org, minutes=minutes,
            served_at=at(served), beneficiary_id=beneficiary,
        )
        return app.post(SYSTEM, command).transaction.id

    deposit("v1", org_a, 120, "2021-01-12T10:00", e1)
    deposit("v3", org_b, 60, "2021-02-20T10:00", e1)
    mistaken_deposit = deposit("v3", org_b, 60, "2021-02-21T10:00", e2)
    app.post(SYSTEM, WithdrawTimebank(id=uuid4(), volunteer_id=ids["v1"], minutes=30, beneficiary_id=e2))
    app.post(SYSTEM, TransferTimebank(id=uuid4(), from_volunteer_id=ids["v1"], to_volunteer_id=ids["v3"], minutes=10))

    def redeem(who: str, point: str, quantity: int) -> UUID:
        command = Redeem(
            id=uuid4(), exchange_point_id=ids[point], volunteer_id=ids[who],
            items=(RedemptionLine("soap", quantity),),
        )
        return app.post(SYSTEM, command).transaction.id

    redeem("v1", "p1", 2)
    mistaken_redemption = redeem("v2", "p2", 1)
    for original in (mistaken, mistaken_deposit, mistaken_redemption):
        app.post(SYSTEM, Reverse(id=uuid4(), reverses=original, reason="录入错误"))

    # Everything recorded today must be on one China Standard Time day (not across midnight).
    recorded = {local_day(e.timestamp) for e in app.events.get(ids["v1"])} | {
        local_day(e.timestamp) for n in app.recorder.select_notifications(1, 10_000)
        for e in [app.mapper.to_domain_event(n)]
    }
    if len(recorded) != 1:
        pytest.skip("the scenario was recorded across midnight in China; run again")
    (only,) = recorded
    s.today = date(only // 10_000, only // 100 % 100, only % 100)


EVERYTHING = figures(
    volunteers=5, active_volunteers=4, service_records=7, service_minutes=720, redemptions=1,
    redeemed_minutes=60, timebank_accounts=2, timebank_deposited_minutes=180,
    timebank_withdrawn_minutes=30, beneficiaries=2, stars={**ZERO_STARS, "2": 1, "3": 1},
)
XUYI = figures(
    volunteers=2, active_volunteers=2, service_records=5, service_minutes=630, timebank_accounts=1,
    timebank_deposited_minutes=120, timebank_withdrawn_minutes=30, beneficiaries=2,
    stars={**ZERO_STARS, "2": 1, "3": 1},
)
JINHU = figures(
    volunteers=1, active_volunteers=1, service_records=1, service_minutes=60, redemptions=1,
    redeemed_minutes=60, timebank_accounts=1, timebank_deposited_minutes=60, beneficiaries=1,
)
HUAIAN_ITSELF = figures(volunteers=1)  # v5, registered at city level
TIANNING = figures(volunteers=1, active_volunteers=1, service_records=1, service_minutes=30)


def test_summary_of_everything_and_of_each_region(shared: Scenario) -> None:
    scenario = shared
    m = scenario.models
    assert m.summary(None, None, None) == EVERYTHING
    assert m.summary("32", None, None) == EVERYTHING
    # A beneficiary served from Xuyi and from Jinhu is one beneficiary of Huai'an.
    assert m.summary("3208", None, None) == figures(
        volunteers=4, active_volunteers=3, service_records=6, service_minutes=690, redemptions=1,
        redeemed_minutes=60, timebank_accounts=2, timebank_deposited_minutes=180,
        timebank_withdrawn_minutes=30, beneficiaries=2, stars={**ZERO_STARS, "2": 1, "3": 1},
    )
    assert m.summary("320830", None, None) == XUYI
    assert m.summary("320830001", None, None) == XUYI
    assert m.summary("320830001001", None, None) == figures(
        volunteers=1, active_volunteers=1, service_records=3, service_minutes=270, timebank_accounts=1,
        timebank_deposited_minutes=120, timebank_withdrawn_minutes=30, beneficiaries=2,
        stars={**ZERO_STARS, "2": 1},
    )
    # The redemption at Jinhu's point counts there, not in the volunteer's Xuyi.
    assert m.summary("320831", None, None) == JINHU
    assert m.summary("3204", None, None) == TIANNING
    assert m.summary("11", None, None) == figures()


def test_summary_by_time_of_service_in_china_standard_time(shared: Scenario) -> None:
    scenario = shared
    m = scenario.models
    january = m.summary(None, date(2021, 1, 1), date(2021, 1, 31))
    assert january == figures(
        active_volunteers=2, service_records=4, service_minutes=540,
        timebank_deposited_minutes=120, beneficiaries=1,
    )
    assert m.summary(None, date(2021, 2, 1), date(2021, 3, 31)) == figures(
        active_volunteers=3, service_records=3, service_minutes=180,
        timebank_deposited_minutes=60, beneficiaries=1,
    )
    assert m.summary(None, date(2021, 1, 1), date(2021, 3, 31))["active_volunteers"] == 4
    assert m.summary(None, date(2021, 2, 4), date(2021, 2, 4)) == figures(
        active_volunteers=1, service_records=1, service_minutes=90
    )
    assert m.summary(None, date(2021, 2, 3), date(2021, 2, 3)) == figures()
    assert m.summary(None, date(2021, 1, 10), date(2021, 1, 10)) == figures(
        active_volunteers=1, service_records=1, service_minutes=120
    )


def test_recorded_figures_count_on_the_day_they_were_recorded(shared: Scenario) -> None:
    scenario = shared
    m, today = scenario.models, scenario.today
    assert m.summary(None, today, today) == figures(
        volunteers=5, redemptions=1, redeemed_minutes=60, timebank_accounts=2,
        timebank_withdrawn_minutes=30, beneficiaries=1, stars={**ZERO_STARS, "2": 1, "3": 1},
    )
    yesterday = today - timedelta(days=1)
    assert m.summary(None, None, yesterday)["volunteers"] == 0
    assert m.summary(None, None, yesterday)["stars"] == ZERO_STARS
    assert m.summary(None, today, None) == m.summary(None, today, today)


def test_breakdown_by_region(shared: Scenario) -> None:
    scenario = shared
    m = scenario.models
    counties = m.breakdown("region", "county", "32", None, None)
    assert counties["by"] == "region"
    # Keys in code order; v5 was registered at city level: a group of its own.
    assert [(g["key"], g["name"]) for g in counties["groups"]] == [
        ("320402", "天宁区"), ("3208", "淮安市"), ("320830", "盱眙县"), ("320831", "金湖县"),
    ]
    groups = {g.pop("key"): g for g in counties["groups"]}
    for g in groups.values():
        g.pop("name")
    assert groups == {"3208": HUAIAN_ITSELF, "320402": TIANNING, "320830": XUYI, "320831": JINHU}

    cities = m.breakdown("region", "city", None, None, None)["groups"]
    assert [(g["key"], g["name"], g["volunteers"], g["service_minutes"]) for g in cities] == [
        ("3204", "常州市", 1, 30), ("3208", "淮安市", 4, 690),
    ]
    towns = {g["key"]: g for g in m.breakdown("region", "town", "3208", None, None)["groups"]}
    assert set(towns) == {"3208", "320830001", "320831", "320831002"}
    assert towns["320831"]["redemptions"] == 1  # the point is registered at county level
    assert towns["320831002"]["service_minutes"] == 60
    assert towns["320830001"]["service_records"] == 5
    villages = {g["key"]: g for g in m.breakdown("region", "village", "320830", None, None)["groups"]}
    assert {k: g["service_minutes"] for k, g in villages.items()} == {"320830001001": 270, "320830001002": 360}
    assert villages["320830001001"]["beneficiaries"] == 2
    # The default level is the one below the region's.
    assert [g["key"] for g in m.breakdown("region", None, "3208", None, None)["groups"]] == [
        "3208", "320830", "320831",
    ]
    january = {g["key"]: g for g in m.breakdown("region", "county", None, date(2021, 1, 1), date(2021, 1, 31))["groups"]}
    assert set(january) == {"320830"}
    assert january["320830"] == {"key": "320830", "name": "盱眙县", **figures(
        active_volunteers=2, service_records=4, service_minutes=540,
        timebank_deposited_minutes=120, beneficiaries=1,
    )}


def test_breakdown_by_organization_category_point_and_month(shared: Scenario) -> None:
    scenario = shared
    m, ids = scenario.models, scenario.ids
    orgs = {g["key"]: g for g in m.breakdown("organization", None, None, None, None)["groups"]}
    assert set(orgs) == {str(ids["org_a"]), str(ids["org_b"]), str(ids["org_c"]), "unaffiliated"}
    a = orgs[str(ids["org_a"])]
    assert a["name"] == "盱眙志愿服务队"
    assert a == {"key": str(ids["org_a"]), "name": "盱眙志愿服务队", **figures(
        volunteers=2, active_volunteers=2, service_records=5, service_minutes=630,
        redemptions=1, redeemed_minutes=60,  # v1's redemption, wherever it was
        timebank_accounts=1, timebank_deposited_minutes=120, timebank_withdrawn_minutes=30,
        beneficiaries=2, stars={**ZERO_STARS, "2": 1, "3": 1},
    )}
    assert orgs["unaffiliated"]["volunteers"] == 1
    assert orgs[str(ids["org_b"])]["service_minutes"] == 60
    assert orgs[str(ids["org_b"])]["timebank_deposited_minutes"] == 60

    categories = m.breakdown("category", None, None, None, None)["groups"]
    assert [(g["key"], g["service_records"], g["service_minutes"], g["active_volunteers"]) for g in categories] == [
        ("cleanup", 4, 310, 4), ("elder_care", 3, 410, 2),
    ]
    in_xuyi = m.breakdown("category", None, "320830001", date(2021, 1, 1), date(2021, 1, 31))["groups"]
    assert [(g["key"], g["service_minutes"], g["active_volunteers"]) for g in in_xuyi] == [
        ("cleanup", 220, 2), ("elder_care", 320, 2),
    ]

    points = m.breakdown("exchange_point", None, None, None, None)["groups"]
    assert points == [{"key": str(ids["p1"]), "name": "金湖兑换点", **figures(redemptions=1, redeemed_minutes=60), "items": 2}]
    assert m.breakdown("exchange_point", None, "3204", None, None)["groups"] == []

    months = m.breakdown("month", None, None, date(2021, 1, 1), date(2021, 3, 31))["groups"]
    assert [g["key"] for g in months] == ["2021-01", "2021-02", "2021-03"]
    assert months[0] == {"key": "2021-01", "name": "2021-01", **figures(
        active_volunteers=2, service_records=4, service_minutes=540,
        timebank_deposited_minutes=120, beneficiaries=1,
    )}
    assert months[1] == {"key": "2021-02", "name": "2021-02", **figures(
        active_volunteers=3, service_records=2, service_minutes=120,
        timebank_deposited_minutes=60, beneficiaries=1,
    )}
    assert months[2] == {"key": "2021-03", "name": "2021-03", **figures(
        active_volunteers=1, service_records=1, service_minutes=60,
    )}
    every_month = m.breakdown("month", None, "320831", None, None)["groups"]
    # January held only a service record that was reversed.
    assert every_month[0]["key"] == "2021-02" and every_month[-1]["key"] == scenario.today.strftime("%Y-%m")
    assert sum(g["service_minutes"] for g in every_month) == 60
    assert every_month[-1]["volunteers"] == 1 and every_month[-1]["redemptions"] == 1


def test_reversed_transactions_count_in_no_figure(scenario: Scenario) -> None:
    """Reverse everything v1 did that counts; v1's figures vanish from every figure and
    breakdown (registration stays: v1 is still a volunteer)."""
    app, m, ids = scenario.ledger, scenario.models, scenario.ids
    before = m.summary("320830001001", None, None)
    assert before["service_records"] == 3
    counted = []
    for n in app.recorder.select_notifications(1, 10_000):
        e = app.mapper.to_domain_event(n)
        if type(e).__qualname__ == "Transaction.Posted" and str(ids["v1"]) in (
            e.content.get("volunteer_id"), e.content.get("from_volunteer_id")
        ):
            counted.append((e.type, e.originator_id))
    for _, transaction_id in reversed(counted):
        app.post(SYSTEM, Reverse(id=uuid4(), reverses=transaction_id, reason="撤销"))
    m.catch_up()
    assert m.summary("320830001001", None, None) == figures(volunteers=1, timebank_accounts=1)
    assert m.summary("320831", None, None)["redemptions"] == 0
    assert m.summary(None, None, None)["stars"] == {**ZERO_STARS, "3": 1}
    assert m.summary(None, date(2021, 1, 1), date(2021, 1, 31))["active_volunteers"] == 1
    assert m.breakdown("exchange_point", None, None, None, None)["groups"] == []


def test_star_levels_follow_reversals_back_in_time(scenario: Scenario) -> None:
    """Stars as of a day come from the unreversed service recorded by then."""
    app, m, ids = scenario.ledger, scenario.models, scenario.ids
    more = RecordService(
        id=uuid4(), volunteer_id=ids["v4"], organization_id=ids["org_c"], category="cleanup",
        started_at=at("2021-04-01T09:00"), ended_at=at("2021-04-01T13:00"),
    )
    posted = app.post(SYSTEM, more)
    m.catch_up()
    assert m.summary("3204", None, None)["stars"] == {**ZERO_STARS, "2": 1}  # 270 minutes
    app.post(SYSTEM, Reverse(id=uuid4(), reverses=posted.transaction.id, reason="重复"))
    m.catch_up()
    assert m.summary("3204", None, None)["stars"] == ZERO_STARS


def test_bad_arguments_are_validation_errors(shared: Scenario) -> None:
    scenario = shared
    m = scenario.models
    for call, field in (
        (lambda: m.summary("3208x", None, None), "region"),
        (lambda: m.summary("320", None, None), "region"),
        (lambda: m.summary(None, date(2021, 2, 1), date(2021, 1, 1)), "from"),
        (lambda: m.breakdown("colour", None, None, None, None), "by"),
        (lambda: m.breakdown("region", "street", None, None, None), "level"),
        (lambda: m.breakdown("region", "city", "320830", None, None), "level"),
        (lambda: m.breakdown("region", None, "1", None, None), "region"),
    ):
        with pytest.raises(ValidationError) as raised:
            call()
        assert raised.value.field == field
