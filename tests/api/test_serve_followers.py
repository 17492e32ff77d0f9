"""`serve` runs its followers (read models, lists, audit tree) in threads of the supervising
process, on either store, below the priority of everything else (HOUR_LEDGER_FOLLOWER_NICE):
a burst of postings is answered first, and the read models read it just after."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.cli import start_followers
from ledger.application import HourLedger
from ledger.config import LedgerSettings
from tests.support.api_client import As, organization, service_record, volunteer
from tests.support.served import Server

LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread has a nice value of its own on Linux")

FOLLOWERS = {"projections-follower", "lists-follower", "audit-follower"}


def priority(thread_id: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, thread_id)


@LINUX_ONLY
@pytest.mark.parametrize("nice", [10, 0])
def test_the_followers_run_below_the_rest_of_the_process(store_env, nice) -> None:
    ledger = HourLedger(env=store_env, settings=LedgerSettings(follower_nice=nice))
    mine = priority(threading.get_native_id())
    followers = start_followers(ledger)
    try:
        threads = [t for t in threading.enumerate() if t.name in FOLLOWERS]
        assert {t.name for t in threads} == FOLLOWERS
        assert {priority(t.native_id) for t in threads if t.native_id} == {min(19, mine + nice)}
        assert priority(threading.get_native_id()) == mine  # the thread that started them keeps its own
    finally:
        for follower in followers:
            follower.stop()
        ledger.close()


@pytest.mark.slow
def test_serve_follows_beside_its_worker_on_either_store(database_url: str, tmp_path: Path) -> None:
    # Nobody reads: the read models, the lists and the audit tree reach the head because the
    # supervising process follows, not a worker asked to catch up (it reports it does not follow).
    server = Server(database_url, tmp_path)
    try:
        printed = server.wait_until_healthy()
        secret = next(line for line in printed if line.startswith("hl_"))
        with httpx.Client(base_url=server.base, timeout=10) as http:
            admin = As(http, secret)
            org = admin.post("/v1/organizations", organization()).json()["id"]
            person = admin.post("/v1/volunteers", volunteer(organization_id=org)).json()["id"]
            assert admin.post("/v1/transactions", service_record(person, org, minutes=60)).status_code == 201

            def caught_up() -> dict[str, Any] | None:
                ready = http.get("/readyz").json()
                followers = [ready[name] for name in ("read_models", "lists", "audit_tree")]
                return ready if all(f["lag"] == 0 and f["position"] > 0 for f in followers) else None

            deadline = time.monotonic() + 60
            while (ready := caught_up()) is None:
                assert time.monotonic() < deadline, "nobody followed the log"
                time.sleep(0.1)
            assert not any(ready[name]["following_here"] for name in ("read_models", "lists", "audit_tree"))
    finally:
        server.stop()
