"""A real server and a real browser for the console's tests: `hour-ledger serve` on a fresh
SQLite store with a known data set, and Debian's Chromium driven by Playwright (Playwright's
own browser download cannot work here; `executable_path` points at the system's).

Without Chromium or Playwright the tests skip with the reason, unless
HOUR_LEDGER_REQUIRE_BROWSER=1 (as `.ci/run` sets), when they fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.api_client import As, deposit, exchange_point, item, organization, service_record, volunteer
from tests.support.paths import PROJECT
from tests.support.served import Server

SCREENSHOTS = PROJECT / "test-artifacts" / "console"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def require_browser() -> str:
    problem = None
    if CHROMIUM is None:
        problem = "no Chromium on this machine (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is not installed (pip install playwright)"
    if problem:
        if os.environ.get("HOUR_LEDGER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"HOUR_LEDGER_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    assert CHROMIUM is not None
    return CHROMIUM


@dataclass
class Console:
    """The served console, the keys of each role and the data set they see."""

    base: str
    keys: dict[str, str]
    world: dict[str, Any]

    def http(self, role: str = "admin") -> As:
        return As(httpx.Client(base_url=self.base, timeout=10), self.keys[role])


def build(base: str, admin_secret: str) -> Console:
    admin = As(httpx.Client(base_url=base, timeout=10), admin_secret)

    def created(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = admin.post(path, body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    org = created("/v1/organizations", organization("320830", name="盱眙县志愿服务队"))["id"]
    wang = created("/v1/volunteers", volunteer("320830", name="王秀英", organization_id=org))["id"]
    li = created("/v1/volunteers", volunteer("320830", name="李强", organization_id=org))["id"]
    # Known service: 王秀英 three records in two months, 李强 one.
    records = [
        (wang, "2026-03-02T09:00:00+08:00", 120), (wang, "2026-03-09T09:00:00+08:00", 60),
        (wang, "2026-04-06T09:00:00+08:00", 90), (li, "2026-04-07T09:00:00+08:00", 30),
    ]
    for person, start, minutes in records:
        from datetime import datetime

        created("/v1/transactions", service_record(person, org, minutes=minutes, started_at=datetime.fromisoformat(start)))
    created(f"/v1/volunteers/{wang}/timebank")
    created("/v1/transactions", deposit(wang, org, 45))
    point = created("/v1/exchange-points", exchange_point("320830", name="盱眙新时代文明实践站兑换点"))["id"]
    for sku, body in {"umbrella": item(60, 5, name="雨伞"), "tissue": item(30, 20, name="纸巾")}.items():
        assert admin.put(f"/v1/exchange-points/{point}/items/{sku}", body).status_code == 200
    keys = {"admin": admin_secret}
    for role, scope in {
        "operator": {"region_code": "3208"}, "auditor": {}, "exchange_point": {"exchange_point_id": point},
    }.items():
        keys[role] = created("/v1/api-keys", {"role": role, "name": f"{role} 测试", **scope})["secret"]
    world = {"org": org, "wang": wang, "li": li, "point": point, "months": {"2026-03": 180, "2026-04": 120}}
    return Console(base, keys, world)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    require_browser()
    directory = tmp_path_factory.mktemp("console")
    server = Server(f"sqlite:///{directory / 'ledger.sqlite3'}", directory)
    try:
        printed = server.wait_until_healthy()
        secret = next(line for line in printed if line.startswith("hl_"))
        yield build(server.base, secret)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Any, console: Console, role: str) -> None:
    page.goto(f"{console.base}/console/")
    page.fill("#api-key", console.keys[role])
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
