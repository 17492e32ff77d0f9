"""PostgreSQL going away under a running API: requests answer 503 `unavailable` (not a hang,
not a 500) and the API recovers by itself when the database is back.

A small TCP proxy sits between the app and PostgreSQL, so the test can cut every connection
and refuse new ones, then let them through again.

Measured with eventsourcing 9.5.6: its PostgreSQL recorder retries a failed statement 10 times,
0.2 s apart, and each attempt waits up to the pool's timeout (the URL's `connect_timeout`) for a
connection, so a request caught by the cut can take 10 × 2.2 s. The service therefore probes the
database once a second (`ledger/store_health.py`) and, once it has seen it down, refuses at once."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.support.api_client import Api, assert_created, assert_problem, deposit, organization, volunteer
from tests.support.proxy import Proxy, behind_proxy  # noqa: F401 - fixture

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# A request caught by the cut is answered within this (see ledger/postgres_recorder.py)...
ANSWER_WITHIN = 3.0
# ...and once the probe has seen the database down (within NOTICED_WITHIN), within this.
NOTICED_WITHIN = 5.0
REFUSED_WITHIN = 1.0
RECOVER_WITHIN = 60.0


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_database_that_goes_away_answers_503_and_comes_back(behind_proxy: tuple[Api, Proxy]) -> None:
    api, proxy = behind_proxy
    org = assert_created(api.admin.post("/v1/organizations", organization()))["id"]
    person = assert_created(api.admin.post("/v1/volunteers", volunteer(organization_id=org)))["id"]
    assert_created(api.admin.post(f"/v1/volunteers/{person}/timebank"))
    assert api.admin.get(f"/v1/volunteers/{person}").status_code == 200

    proxy.cut()

    read, seconds = timed(lambda: api.admin.get(f"/v1/volunteers/{person}"))
    assert_problem(read, 503, "unavailable")
    assert seconds < ANSWER_WITHIN
    deadline = time.monotonic() + NOTICED_WITHIN
    while not api.ledger.store_health.down:
        assert time.monotonic() < deadline, "the probe did not notice the database going away"
        time.sleep(0.05)
    lost = deposit(person, org, 30)
    write, seconds = timed(lambda: api.admin.post("/v1/transactions", lost))
    assert_problem(write, 503, "unavailable")
    assert seconds < REFUSED_WITHIN
    for path in (f"/v1/volunteers/{person}", f"/v1/volunteers/{person}/balance", "/v1/stats/summary"):
        answer, seconds = timed(lambda: api.admin.get(path))
        assert_problem(answer, 503, "unavailable")
        assert seconds < REFUSED_WITHIN, path
    # Liveness does not need the database.
    health, seconds = timed(lambda: api.anonymous.get("/healthz"))
    assert health.status_code == 200 and seconds < 2

    proxy.open()

    deadline = time.monotonic() + RECOVER_WITHIN
    while (answer := api.admin.get(f"/v1/volunteers/{person}")).status_code != 200:
        assert_problem(answer, 503, "unavailable")
        assert time.monotonic() < deadline, f"not recovered within {RECOVER_WITHIN} s"
    # The write refused during the outage was not recorded; sent again, it is.
    assert_problem(api.admin.get(f"/v1/transactions/{lost['id']}"), 404, "not_found")
    assert_created(api.admin.post("/v1/transactions", lost))
    assert api.balance(person)["timebank"]["balance_minutes"] == 30
