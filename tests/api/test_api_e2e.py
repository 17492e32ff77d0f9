"""The real service: `hour-ledger serve` started as a process, driven over HTTP with httpx, on
SQLite and on PostgreSQL; and the command line's `api-keys create` and its refusal of a bad
or unreachable database."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api_client import (
    As,
    deposit,
    exchange_point,
    item,
    organization,
    redemption,
    reversal,
    service_record,
    volunteer,
    withdrawal,
)
from tests.support.served import Server, free_port, hour_ledger

pytestmark = pytest.mark.slow


def test_the_served_api_runs_a_time_bank_from_start_to_end(database_url: str, tmp_path: Path) -> None:
    server = Server(database_url, tmp_path)
    try:
        printed = server.wait_until_healthy()
        secrets = [line for line in printed if line.startswith("hl_")]
        assert len(secrets) == 1, printed
        assert (tmp_path / "hour-ledger.signing-key").stat().st_mode & 0o777 == 0o600  # made on first start
        with httpx.Client(base_url=server.base, timeout=10) as http:
            verifier = http.get("/v1/audit/key").text.strip()
            assert any(verifier in line for line in printed), printed
            balances = scenario(As(http, secrets[0]))
    finally:
        server.stop()
    assert server.process.returncode is not None

    # Started again on the same database: no new admin key, and everything is still there.
    again = Server(database_url, tmp_path)
    try:
        printed = again.wait_until_healthy()
        assert not [line for line in printed if line.startswith("hl_")], printed
        with httpx.Client(base_url=again.base, timeout=10) as http:
            admin = As(http, secrets[0])
            for person, books in balances.items():
                found = admin.get(f"/v1/volunteers/{person}/balance").json()
                assert {k: found[k] for k in ("service", "timebank")} == books
    finally:
        again.stop()


def scenario(admin: As) -> dict[str, Any]:
    """Organisation → volunteers → service records → time bank → redemption → reversal."""

    def created(response: httpx.Response, status: int = 201) -> dict[str, Any]:
        assert response.status_code == status, response.text
        return response.json()

    assert created(admin.client.get("/healthz"), 200) == {"status": "ok"}
    org = created(admin.post("/v1/organizations", organization()))["id"]
    wang = created(admin.post("/v1/volunteers", volunteer(name="Wang", organization_id=org, birth_year=1950)))["id"]
    li = created(admin.post("/v1/volunteers", volunteer(name="Li", organization_id=org)))["id"]

    operator = As(admin.client, created(admin.post("/v1/api-keys", {"role": "operator", "name": "Xuyi office", "region_code": "3208"}))["secret"])
    for minutes in (240, 180, 60):
        created(operator.post("/v1/transactions", service_record(li, org, minutes)))
    created(operator.post(f"/v1/volunteers/{wang}/timebank"))
    created(operator.post(f"/v1/volunteers/{li}/timebank"))
    created(operator.post("/v1/transactions", deposit(wang, org, 300)))
    created(operator.post("/v1/transactions", withdrawal(wang, 120, note="meals delivered")))

    point = created(operator.post("/v1/exchange-points", exchange_point()))["id"]
    created(operator.put(f"/v1/exchange-points/{point}/items/rice", item(120, 5, name="5 kg rice")), 200)
    counter = created(admin.post("/v1/api-keys", {"role": "exchange_point", "name": "counter", "exchange_point_id": point}))
    at_counter = As(admin.client, counter["secret"])

    # The counter's network is flaky: it sends the same redemption twice.
    bought = redemption(point, li, ("rice", 2))
    first = created(at_counter.post("/v1/transactions", bought))
    retry = created(at_counter.post("/v1/transactions", bought), 200)
    assert retry["pickup_code"] == first["pickup_code"] and retry["position"] == first["position"]
    assert created(at_counter.get(f"/v1/volunteers/{li}/balance"), 200)["service"]["available_minutes"] == 480 - 240

    # Too much: refused, nothing recorded. A body over the cap without a Content-Length: 413.
    refused = at_counter.post("/v1/transactions", redemption(point, li, ("rice", 3)))
    assert refused.status_code == 409 and refused.json()["code"] == "insufficient_balance"
    assert refused.headers["content-type"].startswith("application/problem+json")
    huge = operator.post("/v1/transactions", content=(b"x" * 65536 for _ in range(40)),
                         headers={"content-type": "application/json"})
    assert huge.status_code == 413, huge.text

    undone = created(operator.post("/v1/transactions", reversal(first["id"], reason="sold out at the counter")))
    assert created(admin.get(f"/v1/transactions/{first['id']}"), 200)["reversed_by"] == undone["id"]
    assert created(admin.get(f"/v1/exchange-points/{point}"), 200)["items"][0]["stock"] == 5

    assert admin.delete(f"/v1/api-keys/{counter['id']}").status_code == 204
    revoked = at_counter.get(f"/v1/volunteers/{li}/balance")
    assert revoked.status_code == 401

    books = {person: created(admin.get(f"/v1/volunteers/{person}/balance"), 200) for person in (wang, li)}
    assert books[li]["service"] == {"earned_minutes": 480, "redeemed_minutes": 0, "available_minutes": 480, "star_level": 0}
    assert books[wang]["timebank"] == {"open": True, "balance_minutes": 180}
    return {person: {k: found[k] for k in ("service", "timebank")} for person, found in books.items()}


# The command line ----------------------------------------------------------------------


def run_cli(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*hour_ledger(), *args],
        cwd=cwd,
        env={**os.environ, "HOUR_LEDGER_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_api_keys_create_prints_the_secret_last(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    done = run_cli("api-keys", "create", "--role", "auditor", "--name", "provincial audit", "--region", "32",
                   url=url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip().splitlines()[-1]
    assert secret.startswith("hl_")

    from ledger.application import HourLedger
    from ledger.persistence import persistence_env

    ledger = HourLedger(env=persistence_env(url))
    try:
        actor = ledger.keys.authenticate(secret)
        assert (actor.role.value, actor.name, actor.region_prefix) == ("auditor", "provincial audit", "32")
    finally:
        ledger.close()

    refused = run_cli("api-keys", "create", "--role", "admin", "--name", "root", "--region", "3208",
                      url=url, cwd=tmp_path)
    assert refused.returncode == 2
    assert "hl_" not in refused.stdout


KEYS = ["api-keys", "create", "--role", "admin", "--name", "x"]
SERVE = ["serve", "--port", "1"]
DEMO = ["demo"]
PROJECTIONS = ["projections", "status"]
CLOSED = "postgresql://postgres@127.0.0.1:{closed}/postgres?connect_timeout=2"


@pytest.mark.parametrize(
    "command, url",
    [
        (KEYS, "mysql://root@localhost/ledger"),
        (KEYS, "sqlite://relative.sqlite3"),
        (KEYS, "postgresql://postgres@127.0.0.1:notaport/postgres"),
        (KEYS, CLOSED),
        (SERVE, "mysql://root@localhost/ledger"),
        (SERVE, CLOSED),
        (KEYS, "postgresql://postgres@127.0.0.1:5432/postgres?schema=Bad-Name"),
        (SERVE, "postgresql://postgres@127.0.0.1:5432/postgres?schema=Bad-Name"),
        (DEMO, "postgresql://postgres@127.0.0.1:5432/postgres?schema=Bad-Name"),
        (PROJECTIONS, "postgresql://postgres@127.0.0.1:5432/postgres?schema=Bad-Name"),
    ],
    ids=["keys-unknown scheme", "keys-sqlite without a path", "keys-port not a number", "keys-nothing listening",
         "serve-unknown scheme", "serve-nothing listening", "keys-bad schema", "serve-bad schema",
         "demo-bad schema", "projections-bad schema"],
)
def test_a_bad_or_unreachable_database_is_one_line_and_exit_2(tmp_path: Path, url: str, command: list[str]) -> None:
    done = run_cli(*command, url=url.format(closed=free_port()), cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "HOUR_LEDGER_DATABASE_URL" in lines[0] or "cannot reach" in lines[0]
