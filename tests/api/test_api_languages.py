"""Problems in the reader's language: `Accept-Language: zh-CN` (or `zh`, or a browser's
`zh-CN,zh;q=0.9,en;q=0.8`) answers `title` and `detail` in Simplified Chinese, naming the
field of a 422; English stays the default; `code` never changes. No raw library text (regular
expressions, pydantic's phrasing) reaches the reader. Both stores."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.problems import language_of
from tests.support.api_client import (
    Api,
    World,
    assert_problem,
    nothing_recorded,
    shared_api,  # noqa: F401 - fixture
    shared_world,  # noqa: F401 - fixture
)
from tests.support.refused_requests import INVALID, RULES, Make, Request

CJK = re.compile(r"[\u4e00-\u9fff]")
CHINESE = {"Accept-Language": "zh-CN"}
# What pydantic, FastAPI and Starlette say on their own; none of it may reach a reader.
RAW = ("Input should", "String should", "should match pattern", "valid dictionary", "Field required",
       "Extra inputs", "There was an error", "^", "JSON decode error", "Value error")


@pytest.mark.parametrize(
    "header, language",
    [
        (None, "en"), ("", "en"), ("en-US,en;q=0.9", "en"), ("zh-CN", "zh-CN"), ("zh", "zh-CN"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("en;q=0.9,zh;q=0.8", "en"), ("fr-FR, zh-TW;q=0.5", "zh-CN"),
        ("de", "en"), ("zh;q=0", "en"), ("*", "en"), ("zh;q=bad", "en"),
    ],
)
def test_the_language_asked_for(header: str | None, language: str) -> None:
    assert language_of(header) == language


def both(api: Api, method: str, path: str, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    english = api.admin.request(method, path, json=body)
    chinese = api.admin.request(method, path, json=body, headers=CHINESE)
    assert english.status_code == chinese.status_code, (english.text, chinese.text)
    assert english.headers["content-language"] == "en" and chinese.headers["content-language"] == "zh-CN"
    return english.json(), chinese.json()


def assert_said_in_both(english: dict[str, Any], chinese: dict[str, Any]) -> None:
    assert english["code"] == chinese["code"] and english["type"] == chinese["type"]
    assert not CJK.search(english["title"] + english["detail"]), english
    assert CJK.search(chinese["title"]) and CJK.search(chinese["detail"]), chinese
    for said in (english["detail"], chinese["detail"]):
        assert not any(raw in said for raw in RAW), said


@pytest.mark.parametrize("what, request_of, field", INVALID, ids=[case[0] for case in INVALID])
def test_every_validation_error_names_its_field_in_both_languages(
    shared_api: Api, shared_world: World, what: str, request_of: Request, field: str
) -> None:
    method, path, body = request_of(shared_world)
    with nothing_recorded(shared_api, shared_world.alice):
        english, chinese = both(shared_api, method, path, body)
    assert_said_in_both(english, chinese)
    assert english["field"] == chinese["field"] == field
    if field != "body":
        assert english["detail"].startswith(f"{field}: ")
        assert f"（{field}）：" in chinese["detail"] or chinese["detail"].startswith(f"{field}：")


@pytest.mark.parametrize("code, make, status", RULES, ids=[f"{c[0]}-{i}" for i, c in enumerate(RULES)])
def test_every_refusal_of_a_rule_is_said_in_both_languages(
    shared_api: Api, shared_world: World, code: str, make: Make, status: int
) -> None:
    body = make(shared_world)
    with nothing_recorded(shared_api, shared_world.alice, shared_world.bob):
        english, chinese = both(shared_api, "POST", "/v1/transactions", body)
    assert english["code"] == code
    assert_said_in_both(english, chinese)


def test_requests_refused_before_any_route_are_said_in_both_languages(shared_api: Api, shared_world: World) -> None:
    api = shared_api
    cases = [
        ("POST", "/v1/organizations", b'{"name": "x",\n "region_code": 32', "application/json", 400),
        ("POST", "/v1/organizations", b'{"name": "\xff"}', "application/json", 400),
        ("POST", "/v1/organizations", b'{"name": "x", "region_code": "32"}', "text/plain", 415),
        ("POST", "/v1/organizations", b'{"name": "x", "region_code": "32"}', None, 415),
        ("POST", "/v1/organizations", b"name=x&region_code=32", "application/x-www-form-urlencoded", 415),
        ("GET", "/v1/no-such-thing", None, None, 404),
        ("DELETE", "/v1/organizations", None, None, 405),
        ("POST", "/v1/transactions/batch", b" " * (3 * 1024 * 1024), "application/json", 413),
    ]
    with nothing_recorded(api, shared_world.alice):
        for method, path, content, content_type, status in cases:
            answers = []
            for extra in ({}, CHINESE):
                headers = {**extra, **({"content-type": content_type} if content_type else {})}
                response = api.admin.request(method, path, content=content, headers=headers)
                assert_problem(response, status, response.json()["code"])
                answers.append(response.json())
            assert_said_in_both(*answers)
    malformed = api.admin.request("POST", "/v1/organizations", content=cases[0][2], headers={"content-type": "application/json"})
    assert "line 2, column 19" in malformed.json()["detail"]
    said_type = api.admin.request("POST", "/v1/organizations", content=b"{}", headers={"content-type": "text/plain"})
    assert "Content-Type: application/json" in said_type.json()["detail"] and "text/plain" in said_type.json()["detail"]


def test_keys_and_scopes_are_refused_in_both_languages(shared_api: Api, shared_world: World) -> None:
    api, world = shared_api, shared_world
    english = api.anonymous.get(f"/v1/volunteers/{world.alice}").json()
    chinese = api.anonymous.get(f"/v1/volunteers/{world.alice}", headers=CHINESE).json()
    assert english["code"] == "unauthorized"
    assert_said_in_both(english, chinese)
    scoped = api.key("operator", region_code="3204")
    english = scoped.get(f"/v1/volunteers/{world.alice}").json()
    chinese = scoped.get(f"/v1/volunteers/{world.alice}", headers=CHINESE).json()
    assert english["code"] == "forbidden"
    assert_said_in_both(english, chinese)
    assert world.alice in english["detail"] and world.alice in chinese["detail"]


def test_a_batch_answers_each_item_in_the_language_asked_for(shared_api: Api, shared_world: World) -> None:
    from tests.support.api_client import withdrawal

    api, world = shared_api, shared_world
    body = {"transactions": [withdrawal(world.alice, 601), {"type": "gift"}, withdrawal(world.alice, 1)], "atomic": True}
    with nothing_recorded(api, world.alice):
        answer = api.admin.post("/v1/transactions/batch", body, headers=CHINESE)
    assert answer.status_code == 200
    errors = [result["error"] for result in answer.json()["results"]]
    assert [e["code"] for e in errors] == ["not_applied", "validation_error", "not_applied"]
    assert all(CJK.search(e["title"]) and CJK.search(e["detail"]) for e in errors), errors
