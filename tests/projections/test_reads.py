"""The balance's fast read (`ReadModels.balance(..., wait=)`, what the API asks), on SQLite and
PostgreSQL: one statement brings the row, the log's head and the read models' position; the
current generation is remembered between reads. Rebuilds switch generations under it (and drop
the old tables, or leave them retired): a read asks again and answers from the new tables,
never from stale ones and never with an error. Read-your-writes holds across processes."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.commands import RecordService
from ledger.errors import UnavailableError
from projections import ReadModels
from tests.support.api_client import Api

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=timezone.utc)
WAIT = 3.0
_days = itertools.count(1)


@pytest.fixture
def app(store_env: dict[str, str]) -> Iterator[HourLedger]:
    ledger = HourLedger(env=store_env, clock=lambda: NOW)
    try:
        yield ledger
    finally:
        ledger.close()


def volunteer_with_service(app: HourLedger, minutes: int) -> tuple[UUID, UUID]:
    org = app.register_organization(SYSTEM, "盱眙志愿服务队", "320830").aggregate.id
    vid = app.register_volunteer(SYSTEM, "王芳", "320830001001", organization_id=org).aggregate.id
    service(app, vid, org, minutes)
    return vid, org


def service(app: HourLedger, vid: UUID, org: UUID, minutes: int) -> int:
    begins = datetime(2025, 1, 1, 9, tzinfo=timezone.utc) + timedelta(days=next(_days))
    return app.post(SYSTEM, RecordService(
        id=uuid4(), volunteer_id=vid, organization_id=org, category="elder_care",
        started_at=begins, ended_at=begins + timedelta(minutes=minutes),
    )).position or 0


def earned(models: ReadModels, vid: UUID, **kwargs: Any) -> int:
    found = models.balance(vid, wait=WAIT, **kwargs)
    assert found is not None
    return found["service"]["earned_minutes"]


def test_a_read_right_after_a_write_sees_it_in_any_process(app: HourLedger, store_env: dict[str, str]) -> None:
    reader = HourLedger(env=store_env, clock=lambda: NOW)  # another process, no follower anywhere
    try:
        models = ReadModels(reader)
        vid, org = volunteer_with_service(app, 30)
        assert earned(models, vid) == 30
        for n in range(1, 4):
            service(app, vid, org, 10)
            assert earned(models, vid) == 30 + 10 * n
        assert models.balance(uuid4(), wait=WAIT) is None
    finally:
        reader.close()


def test_min_position_beyond_the_head_is_unavailable_after_the_wait(app: HourLedger) -> None:
    models = ReadModels(app)
    vid, _ = volunteer_with_service(app, 30)
    head = app.head_position()
    assert earned(models, vid, min_position=head) == 30
    with pytest.raises(UnavailableError, match=str(head + 1000)):
        models.balance(vid, wait=0.2, min_position=head + 1000)


def test_a_read_after_a_rebuild_elsewhere_answers_from_the_new_tables(app: HourLedger) -> None:
    models = ReadModels(app)
    vid, org = volunteer_with_service(app, 30)
    assert earned(models, vid) == 30  # the current generation is remembered now

    ReadModels(app).rebuild()  # another instance (as another process): switches, drops the old tables
    assert earned(models, vid) == 30
    service(app, vid, org, 15)
    assert earned(models, vid) == 45
    as_of = models.balance(vid, datetime.now(timezone.utc), wait=WAIT)
    assert as_of is not None and as_of["service"]["earned_minutes"] == 45


def test_a_retired_generation_left_in_place_is_not_read(app: HourLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild whose last step (dropping the old tables) did not happen: the old tables are
    still there but no longer followed; a read that remembered them must not answer from them."""
    models = ReadModels(app)
    vid, org = volunteer_with_service(app, 30)
    assert earned(models, vid) == 30
    rebuilder = ReadModels(app)
    monkeypatch.setattr(rebuilder.store, "drop_generation", lambda generation, names: None)
    rebuilder.rebuild()
    assert [state for _, state in models.store.generations()] == ["retired", "current"]

    service(app, vid, org, 20)
    assert earned(models, vid) == 50


def test_reads_racing_rebuilds_always_answer(app: HourLedger) -> None:
    models = ReadModels(app)
    vid, org = volunteer_with_service(app, 30)
    for _ in range(3):
        service(app, vid, org, 5)
    expected = 45
    assert earned(models, vid) == expected
    stop = threading.Event()
    answers: list[int] = []
    failures: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                answers.append(earned(models, vid))
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        rebuilder = ReadModels(app)
        for _ in range(3):
            rebuilder.rebuild()
    finally:
        stop.set()
        reader.join()
    assert not failures, failures
    assert answers and set(answers) == {expected}


def test_the_api_answers_a_balance_across_a_rebuild(store_env: dict[str, str]) -> None:
    ledger = HourLedger(env=store_env)
    try:
        api = Api(ledger)
        with api.client:
            org = api.admin.post("/v1/organizations", {"name": "org", "region_code": "320830"}).json()["id"]
            person = api.admin.post("/v1/volunteers", {"name": "王芳", "region_code": "320830", "organization_id": org})
            vid = person.json()["id"]
            before = api.balance(vid)
            api.client.app.state.read_models.rebuild()  # type: ignore[attr-defined]
            assert api.balance(vid) == before
            ReadModels(ledger).rebuild()  # and one from elsewhere
            assert api.balance(vid) == before
    finally:
        ledger.close()


def test_the_api_answers_404_for_what_is_not_a_volunteer_whoever_asks(store_env: dict[str, str]) -> None:
    """Unscoped keys read the balance without looking the volunteer's region up first: what is
    not a volunteer is still a 404 (before a bad as_of's 422), for every kind of key."""
    ledger = HourLedger(env=store_env)
    try:
        api = Api(ledger)
        with api.client:
            org = api.admin.post("/v1/organizations", {"name": "org", "region_code": "320830"}).json()["id"]
            point = api.admin.post("/v1/exchange-points", {"name": "point", "region_code": "320830"}).json()["id"]
            vid = api.admin.post("/v1/volunteers", {"name": "王芳", "region_code": "320830"}).json()["id"]
            keys = [
                api.admin,
                api.key("auditor"),
                api.key("operator", region_code="3208"),
                api.key("exchange_point", exchange_point_id=point),
            ]
            for key in keys:
                for unknown in (str(uuid4()), org, point):
                    for params in ({}, {"as_of": "not a moment"}):
                        response = key.get(f"/v1/volunteers/{unknown}/balance", params=params)
                        assert (response.status_code, response.json()["code"]) == (404, "not_found"), params
                assert key.get(f"/v1/volunteers/{vid}/balance").status_code == 200
                assert key.get(f"/v1/volunteers/{vid}/balance", params={"as_of": "x"}).status_code == 422
    finally:
        ledger.close()
