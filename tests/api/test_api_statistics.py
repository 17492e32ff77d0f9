"""Statistics over HTTP (SPEC §3: GET /v1/stats/summary and /v1/stats/breakdown), every figure
against a small world posted through the API and counted by hand, on SQLite and PostgreSQL.

The world (star thresholds 2, 4, 6, 8, 10 hours; days are China's, Asia/Shanghai):

    Huai'an 3208                                       Changzhou 3204
      Xuyi 320830                 Jinhu 320831           Jintan 320413
        xu1 (village 320830001001, 盱眙志愿服务队)       jh1 (金湖志愿服务队)      jt1 (金坛志愿者协会)
        xu2 (320830, 盱眙志愿服务队)                     jh2 (no organisation)
        point 盱眙兑换点 (soap, 20 min)                                     point 金坛兑换点 (tea, 30 min)

Service in 2024 (the time of service counts):
    S1 xu1 elder_care 03-05 09:00 180 min     S2 xu1 cleanup 04-10 01:00 60 (04-09 in UTC)
    S3 xu2 elder_care 03-20 14:00 120         S4 jh1 elder_care 03-31 23:00 90 (ends 04-01)
    S5 jh1 cleanup 05-02 300, reversed        S6 jt1 cleanup 04-15 09:00 150
    S7 xu2 cleanup 05-20 09:00 60, issued by Jinhu's organisation
Time bank: accounts of xu1, jh1, jt1; deposits (served_at counts) D1 xu1 120 on 03-06 for E1,
    D2 jh1 60 on 04-20 for E1, D3 jt1 45 on 04-21 for E2, D4 jh1 30 on 05-03 for E3 (reversed);
    withdrawals (today) xu1 50 for E2, jt1 15; a transfer, a donation and a grant (not counted).
Redemptions (today, under the point's region): R1 xu1 2 tea at Jintan (60), R2 xu2 1 soap at
    Xuyi (20), R3 jt1 1 tea at Jintan (reversed).
Earned: xu1 240 (★2), xu2 180 (★1), jh1 90 (0: the reversed 300 no longer counts), jt1 150 (★1).

Registrations, openings, withdrawals, redemptions and stars are recorded today, so a window in
2024 sees only service and deposits, and a window on today only what was recorded today.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from tests.support.api_client import (
    CHANGZHOU,
    HUAIAN,
    Api,
    As,
    assert_created,
    assert_problem,
    deposit,
    donation,
    exchange_point,
    grant,
    item,
    organization,
    redemption,
    reversal,
    service_record,
    transfer,
    volunteer,
    withdrawal,
)
from tests.support.api_stores import CHINA, SMALL_STARS, STORES, api_on, china_day

ZERO_STARS = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}


def figures(stars: dict[str, int] | None = None, **given: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "volunteers": 0, "active_volunteers": 0, "service_records": 0, "service_minutes": 0,
        "redemptions": 0, "redeemed_minutes": 0, "timebank_accounts": 0,
        "timebank_deposited_minutes": 0, "timebank_withdrawn_minutes": 0, "beneficiaries": 0,
        "stars": {**ZERO_STARS, **(stars or {})},
    }
    assert set(given) <= set(out), set(given) - set(out)
    out.update(given)
    return out


EVERYTHING = figures(
    volunteers=5, active_volunteers=4, service_records=6, service_minutes=660, redemptions=2,
    redeemed_minutes=80, timebank_accounts=3, timebank_deposited_minutes=225,
    timebank_withdrawn_minutes=65, beneficiaries=2, stars={"1": 2, "2": 1},
)
# E1 was served from Xuyi and from Jinhu: one beneficiary of Huai'an. R1 counts in Changzhou.
HUAIAN_FIGURES = figures(
    volunteers=4, active_volunteers=3, service_records=5, service_minutes=510, redemptions=1,
    redeemed_minutes=20, timebank_accounts=2, timebank_deposited_minutes=180,
    timebank_withdrawn_minutes=50, beneficiaries=2, stars={"1": 1, "2": 1},
)
XUYI_FIGURES = figures(
    volunteers=2, active_volunteers=2, service_records=4, service_minutes=420, redemptions=1,
    redeemed_minutes=20, timebank_accounts=1, timebank_deposited_minutes=120,
    timebank_withdrawn_minutes=50, beneficiaries=2, stars={"1": 1, "2": 1},
)
XUYI_TOWN = figures(  # xu1 alone, in village 320830001001
    volunteers=1, active_volunteers=1, service_records=2, service_minutes=240, timebank_accounts=1,
    timebank_deposited_minutes=120, timebank_withdrawn_minutes=50, beneficiaries=2, stars={"2": 1},
)
XUYI_ITSELF = figures(  # registered at county level: xu2, and the Xuyi point's redemption
    volunteers=1, active_volunteers=1, service_records=2, service_minutes=180, redemptions=1,
    redeemed_minutes=20, stars={"1": 1},
)
JINHU_FIGURES = figures(
    volunteers=2, active_volunteers=1, service_records=1, service_minutes=90, timebank_accounts=1,
    timebank_deposited_minutes=60, beneficiaries=1,
)
CHANGZHOU_FIGURES = figures(
    volunteers=1, active_volunteers=1, service_records=1, service_minutes=150, redemptions=1,
    redeemed_minutes=60, timebank_accounts=1, timebank_deposited_minutes=45,
    timebank_withdrawn_minutes=15, beneficiaries=1, stars={"1": 1},
)


@dataclass
class World:
    api: Api
    today: date  # the day in China everything was recorded
    ids: dict[str, str] = field(default_factory=dict)
    auditor_huaian: As | None = None
    auditor_changzhou: As | None = None


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA)


def build(api: Api) -> World:
    admin = api.admin
    ids: dict[str, str] = {}
    recorded: list[str] = []  # every recorded time the API answered

    def create(name: str, path: str, body: dict[str, Any]) -> None:
        created = assert_created(admin.post(path, body))
        ids[name] = created["id"]
        recorded.append(created["registered_at"])

    def post(body: dict[str, Any], name: str | None = None) -> str:
        posted = assert_created(admin.post("/v1/transactions", body))
        recorded.append(posted["posted_at"])
        if name:
            ids[name] = posted["id"]
        return posted["id"]

    create("org_xy", "/v1/organizations", organization("320830", name="盱眙志愿服务队"))
    create("org_jh", "/v1/organizations", organization("320831", name="金湖志愿服务队"))
    create("org_jt", "/v1/organizations", organization("320413", name="金坛志愿者协会"))
    create("xu1", "/v1/volunteers", volunteer("320830001001", name="徐一", organization_id=ids["org_xy"]))
    create("xu2", "/v1/volunteers", volunteer("320830", name="徐二", organization_id=ids["org_xy"]))
    create("jh1", "/v1/volunteers", volunteer("320831", name="金一", organization_id=ids["org_jh"]))
    create("jh2", "/v1/volunteers", volunteer("320831", name="金二"))
    create("jt1", "/v1/volunteers", volunteer("320413", name="坛一", organization_id=ids["org_jt"]))
    create("pt_xy", "/v1/exchange-points", exchange_point("320830", name="盱眙兑换点"))
    create("pt_jt", "/v1/exchange-points", exchange_point("320413", name="金坛兑换点"))
    assert admin.put(f"/v1/exchange-points/{ids['pt_xy']}/items/soap", item(20, 10, name="肥皂")).status_code == 200
    assert admin.put(f"/v1/exchange-points/{ids['pt_jt']}/items/tea", item(30, 10, name="茶叶")).status_code == 200

    def service(who: str, org: str, category: str, start: str, minutes: int) -> str:
        return post(service_record(ids[who], ids[org], minutes=minutes, started_at=at(start), category=category))

    service("xu1", "org_xy", "elder_care", "2024-03-05T09:00", 180)
    service("xu1", "org_xy", "cleanup", "2024-04-10T01:00", 60)
    service("xu2", "org_xy", "elder_care", "2024-03-20T14:00", 120)
    service("jh1", "org_jh", "elder_care", "2024-03-31T23:00", 90)
    mistaken_service = service("jh1", "org_jh", "cleanup", "2024-05-02T09:00", 300)
    service("jt1", "org_jt", "cleanup", "2024-04-15T09:00", 150)
    service("xu2", "org_jh", "cleanup", "2024-05-20T09:00", 60)
    post(reversal(mistaken_service))

    for who in ("xu1", "jh1", "jt1"):
        recorded.append(assert_created(admin.post(f"/v1/volunteers/{ids[who]}/timebank"))["opened_at"])
    e1, e2, e3 = (str(uuid4()) for _ in range(3))
    ids.update(e1=e1, e2=e2, e3=e3)

    def deposit_(who: str, org: str, minutes: int, served: str, beneficiary: str) -> str:
        return post(deposit(ids[who], ids[org], minutes, served_at=at(served).isoformat(), beneficiary_id=beneficiary))

    deposit_("xu1", "org_xy", 120, "2024-03-06T10:00", e1)
    deposit_("jh1", "org_jh", 60, "2024-04-20T10:00", e1)
    deposit_("jt1", "org_jt", 45, "2024-04-21T10:00", e2)
    post(reversal(deposit_("jh1", "org_jh", 30, "2024-05-03T10:00", e3)))
    post(withdrawal(ids["xu1"], 50, beneficiary_id=e2))
    post(withdrawal(ids["jt1"], 15))
    post(transfer(ids["xu1"], ids["jh1"], 10))
    post(donation(ids["jt1"], 10))
    post(grant(ids["jh1"], 5))

    post(redemption(ids["pt_jt"], ids["xu1"], ("tea", 2)))
    post(redemption(ids["pt_xy"], ids["xu2"], ("soap", 1)))
    post(reversal(post(redemption(ids["pt_jt"], ids["jt1"], ("tea", 1)))))

    days = {china_day(text) for text in recorded}
    if len(days) != 1:
        pytest.skip("the world was recorded across midnight in China; run again")
    (today,) = days
    return World(
        api, today, ids,
        auditor_huaian=api.key("auditor", "Huai'an auditor", region_code=HUAIAN),
        auditor_changzhou=api.key("auditor", "Changzhou auditor", region_code=CHANGZHOU),
    )


@pytest.fixture(scope="module", params=STORES)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with api_on(request.param, tmp_path_factory.mktemp("statistics"), **SMALL_STARS) as api:
        yield build(api)


def summary(who: As, **params: Any) -> dict[str, Any]:
    response = who.get("/v1/stats/summary", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def breakdown(who: As, by: str, **params: Any) -> list[dict[str, Any]]:
    response = who.get("/v1/stats/breakdown", params={"by": by, **params})
    assert response.status_code == 200, response.text
    assert response.json()["by"] == by
    return response.json()["groups"]


def group(key: str, name: str, figures_: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"key": key, "name": name, **figures_, **extra}


# Summary ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        (None, EVERYTHING),
        ("32", EVERYTHING),  # everything is in Jiangsu
        ("3208", HUAIAN_FIGURES),
        ("320830", XUYI_FIGURES),
        ("320830001", XUYI_TOWN),
        ("320830001001", XUYI_TOWN),
        ("320831", JINHU_FIGURES),
        ("3204", CHANGZHOU_FIGURES),
        ("320413", CHANGZHOU_FIGURES),
        ("3205", figures()),  # Suzhou: nothing there
    ],
)
def test_the_summary_of_each_region_rolls_up_by_prefix(world: World, region: str | None, expected: dict[str, Any]) -> None:
    params = {"region": region} if region else {}
    assert summary(world.api.admin, **params) == expected


def test_regions_add_up_where_figures_are_additive(world: World) -> None:
    admin = world.api.admin
    parts = [summary(admin, region=r) for r in ("320830", "320831", "3204")]
    whole = summary(admin)
    for name in ("volunteers", "service_records", "service_minutes", "redemptions", "redeemed_minutes",
                 "timebank_accounts", "timebank_deposited_minutes", "timebank_withdrawn_minutes"):
        assert sum(p[name] for p in parts) == whole[name], name
    # Distinct counts do not add up: E1 is a beneficiary of Xuyi and of Jinhu, once in Huai'an.
    assert (parts[0]["beneficiaries"], parts[1]["beneficiaries"], summary(admin, region="3208")["beneficiaries"]) == (2, 1, 2)


def today_figures(world: World) -> dict[str, Any]:
    return figures(
        volunteers=5, redemptions=2, redeemed_minutes=80, timebank_accounts=3,
        timebank_withdrawn_minutes=65, beneficiaries=1, stars={"1": 2, "2": 1},
    )


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        # March: S1, S3 and S4, which starts at 23:00 on the 31st (both ends inclusive); D1.
        ({"from": "2024-03-01", "to": "2024-03-31"}, figures(
            active_volunteers=3, service_records=3, service_minutes=390,
            timebank_deposited_minutes=120, beneficiaries=1)),
        # S4 ended on 1 April but counts on the day it started.
        ({"from": "2024-04-01", "to": "2024-04-01"}, figures()),
        # S2 starts at 01:00 on 10 April in China, which is still 9 April in UTC.
        ({"from": "2024-04-10", "to": "2024-04-10"}, figures(active_volunteers=1, service_records=1, service_minutes=60)),
        ({"from": "2024-04-09", "to": "2024-04-09"}, figures()),
        # May: only S7; the reversed S5 and D4 (and D4's beneficiary E3) count nowhere.
        ({"from": "2024-05-01", "to": "2024-05-31"}, figures(active_volunteers=1, service_records=1, service_minutes=60)),
        # Up to the end of 2024: all service and deposits, but nobody was registered yet.
        ({"to": "2024-12-31"}, figures(
            active_volunteers=4, service_records=6, service_minutes=660,
            timebank_deposited_minutes=225, beneficiaries=2)),
        # From April on: S2, S6, S7, D2, D3, and everything recorded today.
        ({"from": "2024-04-01"}, figures(
            volunteers=5, active_volunteers=4, service_records=3, service_minutes=270, redemptions=2,
            redeemed_minutes=80, timebank_accounts=3, timebank_deposited_minutes=105,
            timebank_withdrawn_minutes=65, beneficiaries=2, stars={"1": 2, "2": 1})),
        # Huai'an in April: S2 (xu1) and D2 (jh1, for E1).
        ({"region": "3208", "from": "2024-04-01", "to": "2024-04-30"}, figures(
            active_volunteers=2, service_records=1, service_minutes=60,
            timebank_deposited_minutes=60, beneficiaries=1)),
    ],
    ids=["march", "1-april", "10-april", "9-april", "may", "to-2024", "from-april", "huaian-april"],
)
def test_from_and_to_are_inclusive_days_in_china_by_time_of_service(
    world: World, window: dict[str, str], expected: dict[str, Any]
) -> None:
    assert summary(world.api.admin, **window) == expected


def test_a_window_on_today_sees_what_was_recorded_today(world: World) -> None:
    admin, today = world.api.admin, world.today.isoformat()
    assert summary(admin, **{"from": today, "to": today}) == today_figures(world)
    assert summary(admin, region="3204", **{"from": today, "to": today}) == figures(
        volunteers=1, redemptions=1, redeemed_minutes=60, timebank_accounts=1,
        timebank_withdrawn_minutes=15, stars={"1": 1},
    )
    yesterday = (world.today - timedelta(days=1)).isoformat()
    # Up to yesterday: no one was registered, no redemption or withdrawal was recorded.
    assert summary(admin, to=yesterday) == figures(
        active_volunteers=4, service_records=6, service_minutes=660,
        timebank_deposited_minutes=225, beneficiaries=2,
    )


# Breakdowns ------------------------------------------------------------------------------


def test_breakdown_by_region_at_each_level(world: World) -> None:
    admin = world.api.admin
    assert breakdown(admin, "region") == [group("32", "江苏省", EVERYTHING)]
    assert breakdown(admin, "region", level="city") == [
        group("3204", "常州市", CHANGZHOU_FIGURES),
        group("3208", "淮安市", HUAIAN_FIGURES),
    ]
    counties = [group("320830", "盱眙县", XUYI_FIGURES), group("320831", "金湖县", JINHU_FIGURES)]
    assert breakdown(admin, "region", region="3208") == counties  # the level below 3208
    assert breakdown(admin, "region", region="3208", level="county") == counties
    assert breakdown(admin, "region", region="32", level="county") == [
        group("320413", "金坛区", CHANGZHOU_FIGURES), *counties,
    ]
    assert breakdown(admin, "region", region="3208", level="city") == [group("3208", "淮安市", HUAIAN_FIGURES)]
    # A volunteer (and a point) registered at county level, in a town breakdown: a group of
    # its own, keyed by its code, so that the groups add up to Xuyi.
    assert breakdown(admin, "region", region="320830", level="town") == [
        group("320830", "盱眙县", XUYI_ITSELF),
        group("320830001", "320830001", XUYI_TOWN),
    ]
    assert breakdown(admin, "region", region="3208", level="county", **{"from": "2024-03-01", "to": "2024-03-31"}) == [
        group("320830", "盱眙县", figures(
            active_volunteers=2, service_records=2, service_minutes=300,
            timebank_deposited_minutes=120, beneficiaries=1)),
        group("320831", "金湖县", figures(active_volunteers=1, service_records=1, service_minutes=90)),
    ]


ORG_XY = figures(
    volunteers=2, active_volunteers=2, service_records=3, service_minutes=360, redemptions=2,
    redeemed_minutes=80, timebank_accounts=1, timebank_deposited_minutes=120,
    timebank_withdrawn_minutes=50, beneficiaries=2, stars={"1": 1, "2": 1},
)
# Jinhu's team issued S4 (jh1) and S7 (xu2 of Xuyi): two active volunteers, one registered.
ORG_JH = figures(
    volunteers=1, active_volunteers=2, service_records=2, service_minutes=150, timebank_accounts=1,
    timebank_deposited_minutes=60, beneficiaries=1,
)
ORG_JT = figures(
    volunteers=1, active_volunteers=1, service_records=1, service_minutes=150, timebank_accounts=1,
    timebank_deposited_minutes=45, timebank_withdrawn_minutes=15, beneficiaries=1, stars={"1": 1},
)


def by_key(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keys = [g["key"] for g in groups]
    assert len(keys) == len(set(keys)), keys
    return {g["key"]: g for g in groups}


def test_breakdown_by_organization(world: World) -> None:
    admin, ids = world.api.admin, world.ids
    groups = breakdown(admin, "organization")
    assert by_key(groups) == {
        ids["org_xy"]: group(ids["org_xy"], "盱眙志愿服务队", ORG_XY),
        ids["org_jh"]: group(ids["org_jh"], "金湖志愿服务队", ORG_JH),
        ids["org_jt"]: group(ids["org_jt"], "金坛志愿者协会", ORG_JT),
        "unaffiliated": group("unaffiliated", "未隶属组织", figures(volunteers=1)),  # jh2
    }
    assert [g["name"] for g in groups] == sorted(g["name"] for g in groups)
    # In Huai'an: the redemption at Jintan (by xu1 of Xuyi's team) counts in Changzhou instead.
    assert by_key(breakdown(admin, "organization", region="3208")) == {
        ids["org_xy"]: group(ids["org_xy"], "盱眙志愿服务队", {**ORG_XY, "redemptions": 1, "redeemed_minutes": 20}),
        ids["org_jh"]: group(ids["org_jh"], "金湖志愿服务队", ORG_JH),
        "unaffiliated": group("unaffiliated", "未隶属组织", figures(volunteers=1)),
    }
    # In April: S2 for Xuyi's team, D2 for Jinhu's, S6 and D3 for Jintan's; nobody was
    # registered yet, so the group of volunteers of no organisation is empty and left out.
    assert by_key(breakdown(admin, "organization", **{"from": "2024-04-01", "to": "2024-04-30"})) == {
        ids["org_xy"]: group(ids["org_xy"], "盱眙志愿服务队", figures(
            active_volunteers=1, service_records=1, service_minutes=60)),
        ids["org_jh"]: group(ids["org_jh"], "金湖志愿服务队", figures(
            active_volunteers=1, timebank_deposited_minutes=60, beneficiaries=1)),
        ids["org_jt"]: group(ids["org_jt"], "金坛志愿者协会", figures(
            active_volunteers=1, service_records=1, service_minutes=150, timebank_deposited_minutes=45,
            beneficiaries=1)),
    }
    assert by_key(breakdown(admin, "organization", region="3204")) == {
        ids["org_xy"]: group(ids["org_xy"], "盱眙志愿服务队", figures(redemptions=1, redeemed_minutes=60)),
        ids["org_jt"]: group(ids["org_jt"], "金坛志愿者协会", ORG_JT),
    }


def test_breakdown_by_category_counts_service_only(world: World) -> None:
    admin = world.api.admin
    assert breakdown(admin, "category") == [
        group("cleanup", "cleanup", figures(active_volunteers=3, service_records=3, service_minutes=270)),
        group("elder_care", "elder_care", figures(active_volunteers=3, service_records=3, service_minutes=390)),
    ]
    assert breakdown(admin, "category", region="3204") == [
        group("cleanup", "cleanup", figures(active_volunteers=1, service_records=1, service_minutes=150)),
    ]
    assert breakdown(admin, "category", **{"from": "2024-05-01", "to": "2024-05-31"}) == [
        group("cleanup", "cleanup", figures(active_volunteers=1, service_records=1, service_minutes=60)),
    ]


def test_breakdown_by_exchange_point_counts_redemptions_and_items(world: World) -> None:
    admin, ids = world.api.admin, world.ids
    xuyi = group(ids["pt_xy"], "盱眙兑换点", figures(redemptions=1, redeemed_minutes=20), items=1)
    jintan = group(ids["pt_jt"], "金坛兑换点", figures(redemptions=1, redeemed_minutes=60), items=2)  # R3 reversed
    groups = breakdown(admin, "exchange_point")
    assert by_key(groups) == {ids["pt_xy"]: xuyi, ids["pt_jt"]: jintan}
    assert [g["name"] for g in groups] == sorted(g["name"] for g in groups)
    assert breakdown(admin, "exchange_point", region="3208") == [xuyi]
    assert breakdown(admin, "exchange_point", region="320413") == [jintan]
    # Redemptions count on the day they were recorded, not in 2024.
    assert breakdown(admin, "exchange_point", **{"from": "2024-01-01", "to": "2024-12-31"}) == []


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def test_breakdown_by_month(world: World) -> None:
    admin = world.api.admin
    march = figures(active_volunteers=3, service_records=3, service_minutes=390,
                    timebank_deposited_minutes=120, beneficiaries=1)
    april = figures(active_volunteers=3, service_records=2, service_minutes=210,
                    timebank_deposited_minutes=105, beneficiaries=2)
    may = figures(active_volunteers=1, service_records=1, service_minutes=60)
    spring = [group("2024-03", "2024-03", march), group("2024-04", "2024-04", april), group("2024-05", "2024-05", may)]
    assert breakdown(admin, "month", **{"from": "2024-03-01", "to": "2024-05-31"}) == spring

    # Without dates: every month from the first with data to the last, empty ones included;
    # volunteers, accounts and stars are as of each month's end.
    groups = breakdown(admin, "month")
    keys, month = [], date(2024, 3, 1)
    while month_key(month) <= month_key(world.today):
        keys.append(month_key(month))
        month = (month + timedelta(days=31)).replace(day=1)
    assert [g["key"] for g in groups] == keys
    assert groups[:3] == spring
    assert all(g == group(g["key"], g["key"], figures()) for g in groups[3:-1])
    assert groups[-1] == group(keys[-1], keys[-1], today_figures(world))
    assert sum(g["service_records"] for g in groups) == EVERYTHING["service_records"]


def test_region_scoped_auditors_read_their_own_region(world: World) -> None:
    admin, huaian, changzhou = world.api.admin, world.auditor_huaian, world.auditor_changzhou
    assert huaian is not None and changzhou is not None
    assert summary(huaian) == HUAIAN_FIGURES  # no region: its own
    assert summary(huaian, region="320830") == XUYI_FIGURES
    assert summary(changzhou) == CHANGZHOU_FIGURES
    assert breakdown(huaian, "region") == breakdown(admin, "region", region="3208")
    assert breakdown(huaian, "exchange_point") == breakdown(admin, "exchange_point", region="3208")
    assert breakdown(huaian, "month", **{"from": "2024-04-01", "to": "2024-04-30"}) == breakdown(
        admin, "month", region="3208", **{"from": "2024-04-01", "to": "2024-04-30"}
    )
    for path, params in (
        ("/v1/stats/summary", {"region": "3204"}),
        ("/v1/stats/summary", {"region": "32"}),  # wider than its region
        ("/v1/stats/breakdown", {"by": "organization", "region": "320413"}),
        ("/v1/stats/breakdown", {"by": "region", "region": "32", "level": "city"}),
    ):
        assert_problem(huaian.get(path, params=params), 403, "forbidden")
    assert_problem(changzhou.get("/v1/stats/summary", params={"region": "3208"}), 403, "forbidden")


def test_who_may_read_statistics(world: World) -> None:
    api = world.api
    operator = api.key("operator", "Jiangsu civilisation office")
    assert summary(operator) == EVERYTHING
    counter = api.key("exchange_point", "Xuyi counter", exchange_point_id=world.ids["pt_xy"])
    assert_problem(counter.get("/v1/stats/summary"), 403, "forbidden")
    assert_problem(counter.get("/v1/stats/breakdown", params={"by": "exchange_point"}), 403, "forbidden")
    assert_problem(api.anonymous.get("/v1/stats/summary"), 401, "unauthorized")


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("summary", {"region": "320"}, "region"),
        ("summary", {"region": "3208x"}, "region"),
        ("summary", {"region": ""}, "region"),
        ("summary", {"region": "3208301"}, "region"),  # 7 digits: no level
        ("summary", {"from": "2024-13-01"}, "from"),
        ("summary", {"from": "20240301"}, "from"),
        ("summary", {"to": "2024/03/01"}, "to"),
        ("summary", {"to": "2024-03-01T00:00:00+08:00"}, "to"),
        ("summary", {"from": "2024-05-01", "to": "2024-04-01"}, "from"),
        ("breakdown", {}, "by"),
        ("breakdown", {"by": "volunteer"}, "by"),
        ("breakdown", {"by": "region", "level": "district"}, "level"),
        ("breakdown", {"by": "region", "region": "320830", "level": "city"}, "level"),  # above region
        ("breakdown", {"by": "region", "region": "32a"}, "region"),
        ("breakdown", {"by": "month", "from": "2024-02-30"}, "from"),
        ("breakdown", {"by": "category", "to": "today"}, "to"),
        ("breakdown", {"by": "organization", "from": "2024-05-01", "to": "2024-04-01"}, "from"),
        ("breakdown", {"by": "month", "from": "1900-01-01", "to": "2200-12-31"}, "from"),  # > 1,200 months
    ],
)
def test_bad_statistics_parameters_are_422_naming_them(world: World, path: str, params: dict[str, str], name: str) -> None:
    response = world.api.admin.get(f"/v1/stats/{path}", params=params)
    assert_problem(response, 422, "validation_error", name)
