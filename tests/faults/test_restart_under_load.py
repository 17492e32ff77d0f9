"""A real PostgreSQL stopped and started again under load (an upgrade, a failover).

`hour-ledger serve` runs against a private cluster while 8 clients post service records as
exchange points do: each transaction id is retried until the ledger answers it for good. The
cluster is stopped (fast, then immediate), kept down 5 s, and started again. Afterwards every
acknowledged posting is stored exactly once, the books equal a replay of the events, the audit
tree verifies; while the database was down the service answered 503 `unavailable` (never a
500, never a hang past the bound), and it took work again within 2 s of the database's return.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.cluster import PrivateCluster
from tests.support.api_client import As, organization, volunteer
from tests.support.follower import Follower
from tests.support.served import Server, hour_ledger

pytestmark = pytest.mark.slow

CLIENTS = 8
DOWN_SECONDS = 5.0
# SPEC: a request never waits long for its 503 (bounded retries and pool waits).
OUTAGE_ANSWER_SECONDS = 3.0
BACK_WITHIN_SECONDS = 2.0


@dataclass
class Outcomes:
    acknowledged: dict[str, list[str]] = field(default_factory=dict)  # volunteer → transaction ids
    statuses: Counter[int] = field(default_factory=Counter)
    slowest_refusal: float = 0.0
    server_errors: list[str] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def post_until_answered(http: httpx.Client, body: dict[str, Any], outcomes: Outcomes, deadline: float) -> bool:
    """Posts one transaction, retrying the same id until the ledger answers it for good."""
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            response = http.post("/v1/transactions", json=body)
        except httpx.TransportError:
            time.sleep(0.05)  # the server itself is unreachable: a client's back-off, not a sync
            continue
        spent = time.monotonic() - started
        with outcomes.lock:
            outcomes.statuses[response.status_code] += 1
            if response.status_code >= 500 and response.status_code != 503:
                outcomes.server_errors.append(response.text[:300])
            if response.status_code == 503:
                outcomes.slowest_refusal = max(outcomes.slowest_refusal, spent)
                assert response.json()["code"] == "unavailable"
        if response.status_code in (200, 201):
            with outcomes.lock:
                outcomes.accepted_at.append(time.monotonic())
            return True
        if response.status_code != 503:
            raise AssertionError(f"answered {response.status_code}: {response.text}")
        time.sleep(0.05)  # a client's back-off between retries
    return False


def client(base: str, secret: str, person: str, org: str, stop: threading.Event, outcomes: Outcomes) -> None:
    start = datetime(2001, 1, 1, tzinfo=timezone(timedelta(hours=8)))
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=15) as http:
        n = 0
        while not stop.is_set():
            began = start + timedelta(hours=2 * n)
            body = {
                "id": str(uuid.uuid4()), "type": "service_record", "volunteer_id": person, "organization_id": org,
                "category": "elder care", "started_at": began.isoformat(), "ended_at": (began + timedelta(minutes=30)).isoformat(),
            }
            # Once sent, an id is carried to its answer even after the test says stop.
            if not post_until_answered(http, body, outcomes, time.monotonic() + 60):
                raise AssertionError(f"transaction {body['id']} was never answered")
            with outcomes.lock:
                outcomes.acknowledged.setdefault(person, []).append(body["id"])
            n += 1


def audit(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOUR_LEDGER_DATABASE_URL": url}
    return subprocess.run([*hour_ledger(), "audit", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_the_database_restarted_under_load_loses_nothing_and_answers_503_meanwhile(mode: str, tmp_path: Path) -> None:
    cluster = PrivateCluster()
    server = None
    try:
        server = Server(cluster.url, tmp_path)
        secret = next(line for line in server.wait_until_healthy() if line.startswith("hl_"))
        admin = As(httpx.Client(base_url=server.base, timeout=15), secret)
        org = admin.post("/v1/organizations", organization()).json()["id"]
        people = [admin.post("/v1/volunteers", volunteer(name=f"志愿者{i}", organization_id=org)).json()["id"] for i in range(CLIENTS)]
        outcomes = Outcomes()
        stop = threading.Event()
        threads = [threading.Thread(target=client, args=(server.base, secret, p, org, stop, outcomes)) for p in people]
        for thread in threads:
            thread.start()

        def accepted() -> int:
            with outcomes.lock:
                return len(outcomes.accepted_at)

        deadline = time.monotonic() + 30
        while accepted() < 100 and time.monotonic() < deadline:  # load established
            time.sleep(0.05)
        cluster.stop(mode)
        time.sleep(DOWN_SECONDS)  # the outage itself, not a synchronisation
        back = cluster.start()
        deadline = time.monotonic() + 30
        while not [t for t in list(outcomes.accepted_at) if t > back] and time.monotonic() < deadline:
            time.sleep(0.05)
        first_after = min(t for t in outcomes.accepted_at if t > back)
        settled = time.monotonic() + 3
        while time.monotonic() < settled:  # some more load after the return
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)

        print(f"\n{mode}: {dict(outcomes.statuses)}, slowest 503 {outcomes.slowest_refusal:.2f} s, back after {first_after - back:.2f} s")
        assert outcomes.server_errors == []
        assert outcomes.statuses[503] > 0, outcomes.statuses  # the outage was seen
        assert outcomes.slowest_refusal <= OUTAGE_ANSWER_SECONDS, outcomes.slowest_refusal
        assert first_after - back <= BACK_WITHIN_SECONDS, first_after - back

        # Every acknowledged posting is there exactly once, nothing else is.
        for person, ids in outcomes.acknowledged.items():
            events = admin.get(f"/v1/volunteers/{person}/events").json()
            recorded = [e["data"]["transaction_id"] for e in events if e["type"] == "Volunteer.ServiceRecorded"]
            assert sorted(recorded) == sorted(ids), person
            balance = admin.get(f"/v1/volunteers/{person}/balance").json()
            assert balance["service"]["earned_minutes"] == 30 * len(ids)
    finally:
        if server is not None:
            server.stop()
    try:
        # The books equal a replay of the events, and the audit tree verifies.
        replayed = audit("replay", url=cluster.url, cwd=tmp_path)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        verified = audit("verify", url=cluster.url, cwd=tmp_path)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        cluster.destroy()


def post_retrying(ledger: Any, command: Any) -> None:
    """Posts through an in-process ledger, again while its store is unavailable."""
    from ledger.actors import SYSTEM
    from ledger.errors import UnavailableError

    deadline = time.monotonic() + 30
    while True:
        try:
            ledger.post(SYSTEM, command)
            return
        except UnavailableError:
            assert time.monotonic() < deadline, "the store did not come back"
            time.sleep(0.1)  # a writer's back-off between retries


def test_the_follower_process_outlives_a_database_restart(tmp_path: Path) -> None:
    from ledger.actors import SYSTEM
    from ledger.application import HourLedger
    from ledger.persistence import persistence_env
    from tests.support.builders import service

    cluster = PrivateCluster()
    ledger = HourLedger(env=persistence_env(cluster.url))
    try:
        org = ledger.register_organization(SYSTEM, "盱眙县志愿服务队", "320830").aggregate
        person = ledger.register_volunteer(SYSTEM, "王秀英", "320830", organization_id=org.id).aggregate
        for _ in range(20):
            post_retrying(ledger, service(person, org, 30))

        def caught_up_to(head: int) -> Any:
            def reached(line: str) -> bool:
                found = re.search(r" position (\d+)", line)
                return found is not None and int(found.group(1)) >= head

            return reached

        with Follower(cluster.url) as follower:
            follower.expect(caught_up_to(ledger.head_position()))
            cluster.stop("immediate")
            time.sleep(DOWN_SECONDS)  # the outage itself
            cluster.start()
            for _ in range(20):
                post_retrying(ledger, service(person, org, 30))
            follower.expect(caught_up_to(ledger.head_position()), timeout=60)
            assert follower.process.poll() is None  # it kept following, nobody restarted it
    finally:
        ledger.close()
    try:
        replayed = audit("replay", url=cluster.url, cwd=tmp_path)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    finally:
        cluster.destroy()
