"""Operating the service: `/readyz` answers 503 with the reason while the database is down,
while one of this process's followers is stopped, or while the read models, the lists or the
audit tree are more than HOUR_LEDGER_READY_MAX_LAG events behind without moving for
HOUR_LEDGER_READY_STALL_SECONDS, and 200 again once that is over; `/metrics`
counts requests, latencies and postings by type and shows the lag and the tree's size; the
access log writes one JSON line per request, with no secret and no ID number. Both stores
(the database going away: PostgreSQL)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.routes.operations import FollowerProgress
from ledger.api_key import key_id_of
from ledger.application import HourLedger
from ledger.persistence import persistence_env
from projections import ReadModels
from projections.audit.log import AuditLog
from projections.lists import Lists
from tests.conftest import fresh_store
from tests.support.api_client import (
    Api,
    As,
    assert_created,
    assert_problem,
    deposit,
    organization,
    service_record,
    volunteer,
)
from tests.support.proxy import Proxy, behind_proxy  # noqa: F401 - fixture
from tests.support.served import Server

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
WITHIN = 15.0


def eventually(condition: Callable[[], bool], what: str, within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"not {what} within {within} s"
        time.sleep(0.05)


class Served:
    """An app over a fresh store, as `serve` builds it (followers in the process or not)."""

    def __init__(self, url: str, follow: bool, **settings: str) -> None:
        self.ledger = HourLedger(env={**persistence_env(url), **settings})
        self.lines: list[str] = []
        self.app = create_app(self.ledger, follow_projections=follow, access_log=self.lines.append)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        secret = self.ledger.keys.bootstrap_admin()
        self.admin = As(self.client, secret)

    def ready(self) -> httpx.Response:
        return self.client.get("/readyz")


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_store(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def following(store_url: str) -> Iterator[Served]:
    served = Served(store_url, follow=True)
    try:
        with served.client:
            yield served
    finally:
        served.ledger.close()


def a_little_world(served: Served) -> tuple[str, str]:
    org = assert_created(served.admin.post("/v1/organizations", organization()))["id"]
    person = assert_created(served.admin.post("/v1/volunteers", volunteer(organization_id=org)))["id"]
    assert_created(served.admin.post(f"/v1/volunteers/{person}/timebank"))
    return org, person


# Readiness -------------------------------------------------------------------------------


def test_ready_while_the_followers_keep_up_and_not_while_one_is_stopped(following: Served) -> None:
    org, person = a_little_world(following)
    eventually(lambda: following.ready().status_code == 200, "ready")
    ready = following.ready().json()
    assert ready["status"] == "ready" and ready["database"] == "ok"
    assert ready["read_models"]["following_here"] and ready["audit_tree"]["following_here"]
    assert ready["lists"]["following_here"] and ready["lists"]["lag"] <= ready["max_lag"]
    assert ready["head_position"] >= 4

    following.app.state.read_models.stop()
    assert_created(following.admin.post("/v1/transactions", deposit(person, org, 30)))
    stopped = following.ready()
    body = assert_problem(stopped, 503, "unavailable")
    assert "read models" in body["detail"] and "not running" in body["detail"]
    assert stopped.headers["retry-after"]
    assert "读模型" in assert_problem(following.client.get("/readyz", headers={"Accept-Language": "zh-CN"}), 503, "unavailable")["detail"]

    following.app.state.read_models.start()
    eventually(lambda: following.ready().status_code == 200, "ready again")
    eventually(lambda: following.ready().json()["read_models"]["lag"] == 0, "caught up")

    following.app.state.audit.stop()
    assert "audit tree" in assert_problem(following.ready(), 503, "unavailable")["detail"]
    following.app.state.audit.start()
    eventually(lambda: following.ready().status_code == 200, "ready again")

    following.app.state.lists.stop()
    body = assert_problem(following.ready(), 503, "unavailable")
    assert "lists" in body["detail"] and "not running" in body["detail"] and not body["checks"]["lists"]["following_here"]
    assert "列表" in assert_problem(following.client.get("/readyz", headers={"Accept-Language": "zh-CN"}), 503, "unavailable")["detail"]
    following.app.state.lists.start()
    eventually(lambda: following.ready().status_code == 200, "ready again")


def test_a_process_that_leaves_following_to_another_is_ready_while_the_lag_is_small(store_url: str) -> None:
    # As `serve --no-projections` beside `hour-ledger projections follow`: lag is read from the
    # positions stored in the database.
    served = Served(store_url, follow=False, HOUR_LEDGER_READY_MAX_LAG="3", HOUR_LEDGER_READY_STALL_SECONDS="0")
    try:
        with served.client:
            assert served.ready().status_code == 200
            a_little_world(served)  # 4 events (the key, an organisation, a volunteer, an account)
            body = assert_problem(served.ready(), 503, "unavailable")
            assert all(what in body["detail"] for what in ("read models", "lists", "audit tree")), body
            assert body["checks"]["read_models"]["lag"] > 3 and body["checks"]["lists"]["lag"] > 3

            elsewhere = HourLedger(env=persistence_env(store_url))
            try:
                ReadModels(elsewhere).catch_up()
                assert "read models" not in assert_problem(served.ready(), 503, "unavailable")["detail"]
                AuditLog(elsewhere).catch_up()
                body = assert_problem(served.ready(), 503, "unavailable")  # the lists alone are behind
                assert body["detail"].startswith("the lists are") and body["checks"]["lists"]["lag"] > 3, body
                Lists(elsewhere).catch_up()
            finally:
                elsewhere.close()
            answer = served.ready()
            assert answer.status_code == 200, answer.text
            assert answer.json()["read_models"]["lag"] == answer.json()["lists"]["lag"] == answer.json()["audit_tree"]["lag"] == 0
    finally:
        served.ledger.close()


def test_a_follower_far_behind_keeps_the_service_ready_while_it_moves(store_url: str) -> None:
    # A burst of batches puts the followers tens of thousands of events behind for seconds:
    # what makes the service unready is a follower behind that does not move.
    served = Served(store_url, follow=False, HOUR_LEDGER_READY_MAX_LAG="3", HOUR_LEDGER_READY_STALL_SECONDS="600")
    try:
        with served.client:
            assert served.ready().status_code == 200
            a_little_world(served)
            assert served.ready().status_code == 200  # behind, but fine a moment ago
            elsewhere = HourLedger(env=persistence_env(store_url))
            try:
                for follower in (ReadModels(elsewhere), Lists(elsewhere), AuditLog(elsewhere)):
                    follower.catch_up()
            finally:
                elsewhere.close()
            a_little_world(served)
            a_little_world(served)
            answer = served.ready()
            assert answer.status_code == 200, answer.text  # further behind, but moved since
            assert answer.json()["read_models"]["lag"] > 3
    finally:
        served.ledger.close()


def test_a_follower_is_stalled_once_it_has_been_behind_without_moving_for_longer_than_allowed() -> None:
    progress = FollowerProgress()
    assert not progress.stalled("lists", 10, behind=False, within=15, now=100.0)
    assert not progress.stalled("lists", 10, behind=True, within=15, now=110.0)  # fine 10 s ago
    assert progress.stalled("lists", 10, behind=True, within=15, now=116.0)
    assert not progress.stalled("lists", 500, behind=True, within=15, now=117.0)  # it moved
    assert not progress.stalled("lists", 500, behind=True, within=15, now=131.0)
    assert progress.stalled("lists", 500, behind=True, within=15, now=133.0)
    assert progress.stalled("audit_tree", 0, behind=True, within=15, now=133.0)  # never seen fine
    assert not progress.stalled("audit_tree", 0, behind=False, within=15, now=134.0)


@pytest.mark.slow
def test_not_ready_while_the_database_is_down_and_ready_when_it_is_back(behind_proxy: tuple[Api, Proxy]) -> None:
    api, proxy = behind_proxy
    assert api.client.get("/readyz").status_code == 200
    proxy.cut()
    eventually(lambda: api.client.get("/readyz").status_code == 503, "unready", within=30)
    body = assert_problem(api.client.get("/readyz"), 503, "unavailable")
    assert body["checks"]["database"] == "unavailable" and "database" in body["detail"]
    assert api.client.get("/healthz").status_code == 200  # alive all the same
    metrics = scrape(api.client)
    assert metrics[("hour_ledger_database_up", ())] == 0
    # A request refused because the store is down is counted as a database error.
    assert_problem(api.admin.get("/v1/stats/summary"), 503, "unavailable")
    assert sum(v for (name, _), v in scrape(api.client).items() if name == "hour_ledger_database_errors_total") >= 1
    proxy.open()
    eventually(lambda: api.client.get("/readyz").status_code == 200, "ready again", within=60)
    assert scrape(api.client)[("hour_ledger_database_up", ())] == 1


# Metrics -----------------------------------------------------------------------------------


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_move_with_postings_and_requests(following: Served) -> None:
    org, person = a_little_world(following)
    before = scrape(following.client)
    posted = [deposit(person, org, 30), deposit(person, org, 20), service_record(person, org, 60)]
    for body in posted:
        assert_created(following.admin.post("/v1/transactions", body))
    assert following.admin.post("/v1/transactions", posted[0]).status_code == 200  # a replay: no posting
    batch = following.admin.post(
        "/v1/transactions/batch",
        {"transactions": [deposit(person, org, 5), service_record(person, org, 30), deposit(person, org, 6)]},
    )
    assert [result["status"] for result in batch.json()["results"]] == [201, 201, 201]
    assert following.admin.get(f"/v1/volunteers/{person}").status_code == 200
    eventually(lambda: following.ready().json().get("audit_tree", {}).get("lag") == 0, "caught up")
    eventually(lambda: following.ready().json().get("read_models", {}).get("lag") == 0, "caught up")
    after = scrape(following.client)

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert moved("hour_ledger_postings_total", type="timebank_deposit") == 4
    assert moved("hour_ledger_postings_total", type="service_record") == 2
    assert moved("hour_ledger_http_requests_total", method="POST", route="/v1/transactions", status="201") == 3
    assert moved("hour_ledger_http_requests_total", method="POST", route="/v1/transactions", status="200") == 1
    assert moved("hour_ledger_http_requests_total", method="GET", route="/v1/volunteers/{volunteer_id}", status="200") == 1
    assert moved("hour_ledger_http_request_duration_seconds_count", method="POST", route="/v1/transactions", status="201") == 3
    assert after[("hour_ledger_log_head_position", ())] == following.ledger.head_position()
    assert after[("hour_ledger_read_models_lag_events", ())] == 0
    assert after[("hour_ledger_audit_tree_lag_events", ())] == 0
    assert after[("hour_ledger_audit_tree_size", ())] >= 8
    assert after[("hour_ledger_database_up", ())] == 1
    # No id makes a series of its own: routes are templates.
    assert not any(person in str(labels) for _, labels in after)


def test_two_apps_in_one_process_count_separately(store_url: str) -> None:
    first, second = Served(store_url, follow=False), Served(store_url, follow=False)
    try:
        with first.client, second.client:
            first.client.get("/healthz")
            first.client.get("/healthz")
            second.client.get("/healthz")
            key = ("hour_ledger_http_requests_total", (("method", "GET"), ("route", "/healthz"), ("status", "200")))
            assert scrape(first.client)[key] == 2 and scrape(second.client)[key] == 1
    finally:
        first.ledger.close()
        second.ledger.close()


# The access log ------------------------------------------------------------------------------

ID_NUMBER = "32083019900101123X"


def test_the_access_log_writes_a_json_line_per_request_without_secrets(following: Served) -> None:
    served = following
    org = assert_created(served.admin.post("/v1/organizations", organization()))["id"]
    person = assert_created(served.admin.post("/v1/volunteers", volunteer(organization_id=org, id_number=ID_NUMBER)))["id"]
    served.admin.get(f"/v1/volunteers/{person}/balance", params={"as_of": "2030-01-01"})
    served.admin.get("/v1/volunteers", params={"id_number": ID_NUMBER})
    served.client.get("/healthz")
    served.client.get("/v1/volunteers/not-a-uuid", headers={"Authorization": "Bearer nonsense"})
    lines = [json.loads(line) for line in served.lines]
    assert len(lines) == 6
    first = lines[0]
    assert set(first) >= {"time", "method", "route", "path", "status", "duration_ms", "bytes", "client", "key_id"}
    assert (first["method"], first["route"], first["status"]) == ("POST", "/v1/organizations", 201)
    assert first["key_id"] == str(key_id_of(served.admin.secret))
    assert first["time"].endswith("+08:00") and first["duration_ms"] >= 0
    balance = lines[2]
    assert balance["route"] == "/v1/volunteers/{volunteer_id}/balance"
    assert balance["path"] == f"/v1/volunteers/{person}/balance"
    assert lines[4]["key_id"] is None and lines[5]["status"] == 401
    text = "\n".join(served.lines)
    # The random part may itself hold "_": cut off the prefix and the key id, not at the last "_".
    random_part = served.admin.secret.split("_", 2)[2]
    assert len(random_part) >= 40
    assert served.admin.secret not in text and random_part not in text
    assert ID_NUMBER not in text and "id_number" not in text and "2030-01-01" not in text


def test_the_access_log_can_be_turned_off(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    for setting, expected in (("on", 1), ("off", 0)):
        ledger = HourLedger(env={**persistence_env(store_url), "HOUR_LEDGER_ACCESS_LOG": setting})
        try:
            with TestClient(create_app(ledger)) as client:
                capsys.readouterr()
                assert client.get("/healthz").status_code == 200
                written = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
                assert len(written) == expected, (setting, written)
        finally:
            ledger.close()


@pytest.mark.slow
@pytest.mark.parametrize("switch, logged", [((), True), (("--no-access-log",), False)])
def test_serve_writes_its_own_access_log_and_not_uvicorns(database_url: str, tmp_path: Path, switch: tuple[str, ...], logged: bool) -> None:

    server = Server(database_url, tmp_path, *switch)
    try:
        printed = server.wait_until_healthy()
        assert any("/readyz" in line for line in printed) and any("/metrics" in line for line in printed)
        for _ in range(3):
            assert httpx.get(f"{server.base}/readyz", timeout=10).status_code in (200, 503)
        eventually(lambda: not logged or server.stderr().count('"route": "/readyz"') >= 3, "logged")
        stderr = server.stderr()
        access = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
        assert bool(access) is logged
        assert all(line["route"] in ("/healthz", "/readyz") for line in access)
        assert 'HTTP/1.1" 200' not in stderr  # uvicorn's own access log
    finally:
        server.stop()
