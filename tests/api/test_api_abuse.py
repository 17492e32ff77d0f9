"""Abuse from the open internet: public endpoints and failed authentication are rate-limited
per client (429 with Retry-After), HTML pages carry security headers and no inline code, and
CORS answers only the origins a deployment allows."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import HourLedger
from ledger.config import LedgerSettings
from tests.support.api_client import (
    Api,
    World,
    api,  # noqa: F401 - fixture
    assert_created,
    world,  # noqa: F401 - fixture
)


@pytest.fixture
def strict(store_env: dict[str, str], tmp_path) -> Iterator[tuple[TestClient, str, HourLedger]]:
    settings = LedgerSettings(
        public_requests_per_minute=5, failed_authentications_per_minute=3,
        cors_origins="https://console.example.gov.cn", signing_key_file=str(tmp_path / "key"),
    )
    ledger = HourLedger(env=store_env, settings=settings)
    try:
        secret = ledger.keys.bootstrap_admin()
        assert secret is not None
        with TestClient(create_app(ledger), raise_server_exceptions=False) as client:
            yield client, secret, ledger
    finally:
        ledger.close()


def test_a_client_looking_up_too_many_certificates_is_told_to_wait(strict) -> None:
    client, _, _ = strict
    answers = [client.get("/v1/certificates/0000000000AB").status_code for _ in range(5)]
    assert answers == [404] * 5
    refused = client.get("/v1/certificates/0000000000AB")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["code"] == "unavailable"
    assert client.get("/certificates/0000000000AB").status_code == 429  # the page counts too
    assert client.get("/healthz").status_code == 200  # other endpoints are not limited


def test_after_failed_authentications_even_a_good_key_waits(strict) -> None:
    client, secret, _ = strict
    for attempt in range(3):
        assert client.get("/v1/stats/summary", headers={"Authorization": f"Bearer hl_guess_{attempt}"}).status_code == 401
    refused = client.get("/v1/stats/summary", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 429 and "failed authentications" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) >= 1
    assert client.get("/v1/audit/key").status_code == 200  # without a key: not refused


def test_cors_answers_only_allowed_origins(strict) -> None:
    client, _, _ = strict
    allowed = client.options("/v1/stats/summary", headers={
        "Origin": "https://console.example.gov.cn", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert allowed.headers.get("access-control-allow-origin") == "https://console.example.gov.cn"
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_by_default_no_origin_is_allowed(api: Api) -> None:
    answer = api.anonymous.get("/healthz", headers={"Origin": "https://console.example.gov.cn"})
    assert "access-control-allow-origin" not in answer.headers


def test_the_certificate_page_has_security_headers_and_no_inline_code(api: Api, world: World) -> None:
    issued = assert_created(api.admin.post(f"/v1/volunteers/{world.alice}/certificates", {}))
    page = api.anonymous.get(f"/certificates/{issued['code']}")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "style-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"<script|<style|style=", page.text)
    style = api.anonymous.get("/certificates/certificate.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("value", ["*", "console.example.gov.cn", "https://a.example/path"])
def test_a_bad_cors_origin_is_a_configuration_error(value: str) -> None:
    from ledger.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="HOUR_LEDGER_CORS_ORIGINS"):
        LedgerSettings.from_env({"HOUR_LEDGER_CORS_ORIGINS": value})
