"""Every `HOUR_LEDGER_*` setting reaches the running service: `hour-ledger serve` started as a
process with non-default settings, driven over HTTP (and with `--workers 2`, each worker)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import httpx
import pytest

from tests.support.api_client import As, deposit, organization, service_record, volunteer
from tests.support.served import Server

pytestmark = pytest.mark.slow

SALT = "淮安-county-secret"
ID_NUMBER = "32083019900101123X"


def admin_of(server: Server) -> str:
    printed = server.wait_until_healthy()
    secrets = [line for line in printed if line.startswith("hl_")]
    assert len(secrets) == 1, printed
    return secrets[0]


def test_serve_applies_the_cap_the_star_thresholds_and_the_id_salt(database_url: str, tmp_path: Path) -> None:
    server = Server(
        database_url,
        tmp_path,
        env={
            "HOUR_LEDGER_TIMEBANK_CAP_MINUTES": "100",
            "HOUR_LEDGER_STAR_THRESHOLDS_HOURS": "1,2,3,4,5",
            "HOUR_LEDGER_ID_NUMBER_SALT": SALT,
        },
    )
    try:
        secret = admin_of(server)
        with httpx.Client(base_url=server.base, timeout=10) as http:
            admin = As(http, secret)
            org = admin.post("/v1/organizations", organization()).json()["id"]
            person = admin.post("/v1/volunteers", volunteer(organization_id=org, id_number=ID_NUMBER)).json()["id"]
            assert admin.post(f"/v1/volunteers/{person}/timebank").status_code == 201

            over = admin.post("/v1/transactions", deposit(person, org, 101))
            assert (over.status_code, over.json()["code"]) == (409, "timebank_cap_exceeded")
            assert admin.post("/v1/transactions", deposit(person, org, 100)).status_code == 201

            assert admin.post("/v1/transactions", service_record(person, org, minutes=60)).status_code == 201
            assert admin.get(f"/v1/volunteers/{person}").json()["star_level"] == 1  # one hour: ★1 here
            assert admin.get(f"/v1/volunteers/{person}/balance").json()["service"]["star_level"] == 1

            registered = admin.get(f"/v1/volunteers/{person}/events").json()[0]
            expected = hmac.new(SALT.encode(), ID_NUMBER.encode(), hashlib.sha256).hexdigest()
            assert registered["data"]["id_number_hash"] == expected
    finally:
        server.stop()


def test_a_key_revoked_through_one_worker_is_refused_by_every_worker_at_once(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several workers share a store on PostgreSQL")
    server = Server(database_url, tmp_path, "--workers", "2")
    try:
        secret = admin_of(server)
        with httpx.Client(base_url=server.base, timeout=10) as http:
            admin = As(http, secret)
            key = admin.post("/v1/api-keys", {"role": "auditor", "name": "county auditor"}).json()
        # Many fresh connections: both workers authenticate (and would remember) the key.
        for _ in range(40):
            with httpx.Client(base_url=server.base, timeout=10) as fresh:
                assert As(fresh, key["secret"]).get("/v1/stats/summary").status_code == 200
        with httpx.Client(base_url=server.base, timeout=10) as http:
            assert As(http, secret).delete(f"/v1/api-keys/{key['id']}").status_code == 204
        answers = []
        for _ in range(40):
            with httpx.Client(base_url=server.base, timeout=10) as fresh:
                answers.append(As(fresh, key["secret"]).get("/v1/stats/summary").status_code)
        assert set(answers) == {401}, answers
    finally:
        server.stop()
