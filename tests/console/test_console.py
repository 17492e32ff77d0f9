"""The web console in a real browser: each role sees only its pages; the statistics chart
shows the data set's numbers; a double click or a retry at the counter redeems once; the
API's refusals are shown in Chinese. Screenshots of each page go to test-artifacts/console/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.conftest import Console, screenshot, sign_in

pytestmark = pytest.mark.slow

PAGES = {"stats": "统计", "volunteers": "志愿者", "counter": "兑换柜台", "audit": "审计"}
ROLES = {
    "admin": {"stats", "volunteers", "audit"},
    "operator": {"stats", "volunteers"},
    "auditor": {"stats", "audit"},
    "exchange_point": {"counter"},
}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_signs_in_and_sees_only_its_pages(console: Console, page: Any, role: str) -> None:
    sign_in(page, console, role)
    visible = {
        name for name in PAGES if page.is_visible(f'#nav a[data-page="{name}"]')
    }
    assert visible == ROLES[role]
    for name in ROLES[role]:
        page.click(f'#nav a[data-page="{name}"]')
        page.wait_for_selector(f"#page-{name}:not([hidden])")
        page.wait_for_function("() => document.getElementById('loading').hidden")
        assert page.is_hidden("#notice"), page.inner_text("#notice")
        screenshot(page, f"{role}-{name}")
    for name in set(PAGES) - ROLES[role]:  # typed into the address bar: sent back to an allowed page
        page.goto(f"{console.base}/console/#/{name}")
        page.wait_for_function(f"() => document.getElementById('page-{name}').hidden")


def test_the_key_stays_in_session_storage_not_in_urls_or_cookies(console: Console, page: Any) -> None:
    sign_in(page, console, "operator")
    assert console.keys["operator"] not in page.url
    assert page.context.cookies() == []
    assert page.evaluate("sessionStorage.getItem('hour-ledger.key')") == console.keys["operator"]
    page.click("#sign-out")
    assert page.evaluate("sessionStorage.getItem('hour-ledger.key')") is None
    assert page.is_visible("#page-sign-in")


def test_the_statistics_charts_show_the_data_sets_figures(console: Console, page: Any) -> None:
    sign_in(page, console, "admin")
    page.wait_for_selector('#stats-cards [data-figure="service_minutes"]')
    page.wait_for_function("() => document.getElementById('loading').hidden")
    months = page.evaluate(
        """() => {
            const option = echarts.getInstanceByDom(document.getElementById('chart-months')).getOption();
            return Object.fromEntries(option.xAxis[0].data.map((month, i) => [month, option.series[0].data[i]]));
        }"""
    )
    assert {k: v for k, v in months.items() if v} == console.world["months"]
    assert page.inner_text('#stats-cards [data-figure="service_records"] strong') == "4"
    stars = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-stars')).getOption().series[0].data")
    assert stars == [0, 0, 0, 0, 0]
    # Down the region tree: Jiangsu → Huai'an.
    page.click('#sub-regions a[data-region="3208"]')
    page.wait_for_function("() => document.getElementById('region-path').innerText.includes('›')")
    assert page.inner_text('#stats-cards [data-figure="service_records"] strong') == "4"
    screenshot(page, "stats-huaian")


def counter(console: Console, page: Any, who: str) -> None:
    sign_in(page, console, "exchange_point")
    page.wait_for_selector('#catalogue tr[data-sku="umbrella"]')
    page.fill("#counter-volunteer", console.world[who])
    page.click("#counter-volunteer-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('counter-balance').innerText.includes('可用')")


def redeemed_minutes(console: Console, who: str) -> int:
    return console.http().get(f"/v1/volunteers/{console.world[who]}/balance").json()["service"]["redeemed_minutes"]


def test_a_double_click_at_the_counter_redeems_once(console: Console, page: Any) -> None:
    before = redeemed_minutes(console, "wang")
    counter(console, page, "wang")
    page.fill('#catalogue tr[data-sku="umbrella"] input', "1")
    page.dblclick("#redeem")
    page.wait_for_selector("#pickup:not([hidden])")
    code = page.inner_text("#pickup-code")
    assert len(code) == 6
    screenshot(page, "counter-pickup-code")
    assert redeemed_minutes(console, "wang") == before + 60  # one umbrella, not two


def test_the_clerk_finds_a_redemption_by_its_pickup_code_and_undoes_it(console: Console, page: Any) -> None:
    counter(console, page, "wang")
    page.fill('#catalogue tr[data-sku="tissue"] input', "1")
    page.click("#redeem")
    page.wait_for_selector("#pickup:not([hidden])")
    code = page.inner_text("#pickup-code")
    before = redeemed_minutes(console, "wang")

    page.fill("#pickup-query", code)
    page.click("#pickup-form button[type=submit]")
    page.wait_for_selector("#pickup-result button")
    assert "纸巾" in page.inner_text("#pickup-result")
    screenshot(page, "counter-found-by-pickup-code")
    page.click("#pickup-result button")
    page.wait_for_function("() => document.getElementById('notice').innerText.includes('已撤销')")
    assert redeemed_minutes(console, "wang") == before - 30


def test_a_retry_after_a_lost_answer_is_the_same_redemption(console: Console, page: Any) -> None:
    before = redeemed_minutes(console, "wang")
    counter(console, page, "wang")
    page.fill('#catalogue tr[data-sku="tissue"] input', "1")
    lost = []

    def lose_the_answer(route: Any) -> None:
        if not lost and route.request.method == "POST":
            lost.append(route.request.post_data_json["id"])
            route.fetch()  # the ledger records it ...
            route.abort()  # ... and the counter never hears back
        else:
            route.continue_()

    page.route("**/v1/transactions", lose_the_answer)
    page.click("#redeem")
    page.wait_for_selector("#notice:not([hidden])")
    assert "网络" in page.inner_text("#notice")
    page.click("#redeem")  # the clerk tries again
    page.wait_for_selector("#pickup:not([hidden])")
    assert redeemed_minutes(console, "wang") == before + 30  # recorded once
    found = console.http().get(f"/v1/transactions/{lost[0]}")
    assert found.status_code == 200 and found.json()["pickup_code"] == page.inner_text("#pickup-code")


def test_a_refusal_is_shown_in_chinese(console: Console, page: Any) -> None:
    counter(console, page, "li")  # 30 minutes earned: not enough for an umbrella
    page.fill('#catalogue tr[data-sku="umbrella"] input', "1")
    page.click("#redeem")
    page.wait_for_selector("#notice:not([hidden])")
    assert "可用时长不足" in page.inner_text("#notice")
    screenshot(page, "counter-refused")


def test_the_auditor_verifies_the_log_and_checks_a_certificate(console: Console, page: Any) -> None:
    issued = console.http().post(f"/v1/volunteers/{console.world['wang']}/certificates", {}).json()
    sign_in(page, console, "auditor")
    page.click('#nav a[data-page="audit"]')
    page.wait_for_function("() => document.getElementById('checkpoint').innerText.includes('hour-ledger.local/ledger')")
    page.click("#run-verify")
    page.wait_for_function("() => document.getElementById('verify-result').innerText.includes('通过')")
    page.fill("#certificate-code", issued["code"])
    page.click("#certificate-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('certificate-result').innerText.includes('王*英')")
    screenshot(page, "audit")


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_page_fits_a_phone(console: Console, browser: Any, role: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    try:
        page = context.new_page()
        sign_in(page, console, role)
        for name in sorted(ROLES[role]):
            page.click(f'#nav a[data-page="{name}"]')
            page.wait_for_selector(f"#page-{name}:not([hidden])")
            page.wait_for_function("() => document.getElementById('loading').hidden")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{name} is {width}px wide on a 390px screen"
            screenshot(page, f"phone-{role}-{name}")
    finally:
        context.close()


def test_the_console_sends_its_security_headers_and_loads_nothing_from_elsewhere(console: Console) -> None:
    import re

    http = console.http()
    response = http.client.get("/console/")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert not re.search(r"(src|href)=\"(https?:)?//", response.text)
    assert http.client.get("/console/vendor/echarts.min.js").status_code == 200


def test_an_operator_finds_a_volunteer_reads_her_statement_and_issues_a_certificate(console: Console, page: Any) -> None:
    sign_in(page, console, "operator")
    page.click('#nav a[data-page="volunteers"]')
    page.fill("#search-q", "秀英")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector(f'#search-results tr[data-volunteer="{console.world["wang"]}"]')
    assert "王秀英" in page.inner_text("#search-results")
    assert "李强" not in page.inner_text("#search-results")
    page.click(f'#search-results tr[data-volunteer="{console.world["wang"]}"]')
    page.wait_for_selector("#profile:not([hidden])")
    page.wait_for_function("() => document.querySelectorAll('#statement tr').length >= 3")
    assert page.inner_text("#profile-name") == "王秀英"
    screenshot(page, "operator-volunteer-profile")
    with page.context.expect_page() as opened:
        page.click("#issue-certificate")
    certificate = opened.value
    certificate.wait_for_load_state()
    assert "志愿服务记录证明" in certificate.content()
    screenshot(certificate, "certificate-page")
