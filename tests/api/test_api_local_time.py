"""Times in responses carry the offset of `HOUR_LEDGER_TIMEZONE` (Asia/Shanghai, +08:00, by
default); inputs take any offset and keep their instant; messages show local time. The audit
log's canonical records stay in UTC (they are hashed bytes). Both stores."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_client import (
    Api,
    World,
    api,  # noqa: F401 - fixture
    assert_created,
    assert_problem,
    build_world,
    service_record,
    world,  # noqa: F401 - fixture
)
from tests.support.api_stores import STORES, api_on

OFFSET = re.compile(r"[+-][0-9]{2}:[0-9]{2}$")
START = datetime(2003, 5, 1, 8, 30, tzinfo=timezone(timedelta(hours=8)))


def moment(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None, text
    return parsed


def times_in(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(where, text) of every RFC 3339 timestamp in a JSON answer."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += times_in(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += times_in(item, f"{path}.{index}")
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})", value):
        found.append((path, value))
    return found


def assert_all_local(answer: Any, offset: str = "+08:00") -> int:
    found = times_in(answer)
    for where, text in found:
        assert text.endswith(offset), f"{where}: {text}"
    return len(found)


@pytest.mark.parametrize("spelled", ["-05:00", "Z", "+08:00", "+05:45"])
def test_a_service_record_posted_in_any_offset_is_answered_in_local_time(api: Api, world: World, spelled: str) -> None:
    zone = timezone.utc if spelled == "Z" else datetime.fromisoformat(f"2000-01-01T00:00:00{spelled}").tzinfo
    started = START.astimezone(zone)
    body = service_record(world.bob, world.org, 90, started_at=started)
    assert body["started_at"].endswith("+00:00" if spelled == "Z" else spelled)
    posted = assert_created(api.admin.post("/v1/transactions", body))
    assert posted["started_at"] == "2003-05-01T08:30:00+08:00"
    assert posted["ended_at"] == "2003-05-01T10:00:00+08:00"
    assert moment(posted["started_at"]) == started
    assert assert_all_local(posted) == 3  # started_at, ended_at, posted_at
    again = api.admin.get(f"/v1/transactions/{body['id']}").json()
    assert again["started_at"] == posted["started_at"] and again["posted_at"] == posted["posted_at"]
    # A replay spelled in yet another offset is the same request.
    replay = {**body, "started_at": started.astimezone(timezone(timedelta(hours=-3))).isoformat()}
    assert api.admin.post("/v1/transactions", replay).status_code == 200


def test_every_answer_shows_local_time_but_the_audit_records(api: Api, world: World) -> None:
    admin = api.admin
    answers = {
        "volunteer": admin.get(f"/v1/volunteers/{world.alice}"),
        "organization": admin.get(f"/v1/organizations/{world.org}"),
        "exchange point": admin.get(f"/v1/exchange-points/{world.point}"),
        "balance": admin.get(f"/v1/volunteers/{world.alice}/balance"),
        "balance as of": admin.get(f"/v1/volunteers/{world.alice}/balance", params={"as_of": "2030-01-01T00:00:00Z"}),
        "statement": admin.get(f"/v1/volunteers/{world.alice}/statement", params={"book": "timebank"}),
        "events": admin.get(f"/v1/volunteers/{world.alice}/events"),
        "transaction": admin.get(f"/v1/transactions/{world.service}"),
        "signed": admin.post("/v1/audit/checkpoints"),
        "checkpoints": admin.get("/v1/audit/checkpoints"),
        "certificate": admin.post(f"/v1/volunteers/{world.alice}/certificates"),
    }
    counted = 0
    for name, response in answers.items():
        assert response.status_code in (200, 201), (name, response.text)
        counted += assert_all_local(response.json() if name != "certificate" else {
            k: v for k, v in response.json().items() if k != "record"
        })
    assert counted >= 15
    assert answers["balance as of"].json()["as_of"] == "2030-01-01T08:00:00+08:00"
    events = answers["events"].json()
    assert any("started_at" in e["data"] for e in events)  # a time inside an event's data, shown locally
    # The audit log's records are the hashed bytes: UTC, as docs/audit.md says.
    log = admin.get("/v1/audit/log").json()["events"]
    assert log and all(entry["recorded_at"].endswith("Z") for entry in log)


def test_messages_show_local_time_only(api: Api, world: World) -> None:
    # Alice's own record started at 08:00 (+08:00) and lasted 600 minutes: this one overlaps it,
    # posted with times in New York's offset.
    new_york = timezone(timedelta(hours=-4))
    clash = service_record(world.alice, world.org, 30, started_at=datetime(2000, 6, 1, 9, 0, tzinfo=timezone(timedelta(hours=8))).astimezone(new_york))
    body = assert_problem(api.admin.post("/v1/transactions", clash), 409, "overlapping_service")
    offsets = set(re.findall(r"T[0-9:.]+([+-][0-9]{2}:[0-9]{2}|Z)", body["detail"]))
    assert offsets == {"+08:00"}, body["detail"]
    assert "2000-06-01T09:00:00+08:00" in body["detail"] and "2000-06-01T08:00:00+08:00" in body["detail"]


@pytest.mark.parametrize("store", STORES)
def test_another_zone_is_answered_in_its_own_offset(store: str, tmp_path: Path) -> None:
    with api_on(store, tmp_path, HOUR_LEDGER_TIMEZONE="America/New_York") as api:
        world = build_world(api)
        winter = service_record(world.bob, world.org, 60, started_at=datetime(2004, 1, 10, 14, 0, tzinfo=timezone.utc))
        summer = service_record(world.bob, world.org, 60, started_at=datetime(2004, 7, 10, 14, 0, tzinfo=timezone.utc))
        assert assert_created(api.admin.post("/v1/transactions", winter))["started_at"] == "2004-01-10T09:00:00-05:00"
        assert assert_created(api.admin.post("/v1/transactions", summer))["started_at"] == "2004-07-10T10:00:00-04:00"
        person = api.admin.get(f"/v1/volunteers/{world.bob}").json()
        assert OFFSET.search(person["registered_at"]).group() in ("-05:00", "-04:00")
