"""The posting lane (api/posting_lane.py): a well-formed posting by a key this process knows is
answered without FastAPI's route, word for word as the route answers it; everything else
reaches the route with its body intact. Both stores."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi.testclient import TestClient

from api.app import create_app
from api.posting_lane import PostingLane
from tests.support.api_client import (
    Api,
    World,
    api,  # noqa: F401 - fixture
    new_id,
    service_record,
    world,  # noqa: F401 - fixture
)

Answer = tuple[int, dict[bytes, bytes], bytes]


class Route:
    """Stands for the route behind the lane: notes each body it is handed, answers 299."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def ask(app: Any, body: bytes, secret: str | None, language: str = "en", api: Api | None = None) -> Answer:
    """POST /v1/transactions to an ASGI app, the body in two pieces; the answer. With `api`,
    the scope names its FastAPI app, as Starlette's outermost layer does."""
    headers = [(b"content-type", b"application/json"), (b"accept-language", language.encode())]
    if secret:
        headers.append((b"authorization", f"Bearer {secret}".encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/transactions", "raw_path": b"/v1/transactions", "query_string": b"", "root_path": "",
        "headers": headers, "client": ("127.0.0.1", 1), "server": ("test", 80), "state": {},
        **({"app": api.client.app} if api else {}),
    }
    pieces = [
        {"type": "http.request", "body": body[:5], "more_body": True},
        {"type": "http.request", "body": body[5:], "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pieces.pop(0) if pieces else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def the_lane(api: Api) -> PostingLane:
    """The lane in the app's middleware, as built on the first request."""
    api.client.get("/healthz")
    layer: Any = api.client.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(layer, PostingLane):
        layer = layer.app
    return layer


def remembered(api: Api) -> str:
    """The admin's secret, once this process has authenticated it (any request does)."""
    api.admin.get("/v1/me")
    assert api.ledger.keys.remembered_actor(api.admin.secret or "") is not None
    return api.admin.secret or ""


def test_a_posting_by_a_known_key_is_answered_by_the_lane_as_the_route_answers_it(api: Api, world: World) -> None:
    lane, route = the_lane(api), Route()
    alone = PostingLane(route, api=api.client.app)  # type: ignore[arg-type]
    body = orjson.dumps(service_record(world.bob, world.org))
    status, headers, answered = ask(alone, body, remembered(api), api=api)
    assert status == 201 and route.bodies == []
    assert headers[b"content-type"] == b"application/json"
    # The same body again, to the route itself: it answers the original, as it wrote it.
    again_status, _, again = ask(lane.app, body, api.admin.secret, api=api)
    assert again_status == 200
    assert orjson.loads(answered) == orjson.loads(again)
    assert api.admin.get(f"/v1/transactions/{orjson.loads(body)['id']}").json() == orjson.loads(answered)


def test_a_refusal_is_the_routes_problem_word_for_word(api: Api, world: World) -> None:
    lane = the_lane(api)
    secret = remembered(api)
    first = service_record(world.bob, world.org)
    assert ask(lane, orjson.dumps(first), secret, api=api)[0] == 201
    for language in ("en", "zh-CN"):
        overlapping = orjson.dumps({**first, "id": new_id()})
        by_lane = ask(lane, overlapping, secret, language, api)
        by_route = ask(lane.app, overlapping, secret, language, api)
        assert by_lane[0] == by_route[0] == 409
        assert by_lane[1][b"content-type"] == by_route[1][b"content-type"] == b"application/problem+json"
        assert by_lane[1][b"content-language"] == by_route[1][b"content-language"]
        assert orjson.loads(by_lane[2]) == orjson.loads(by_route[2])


def test_everything_else_reaches_the_route_with_its_body(api: Api, world: World) -> None:
    route = Route()
    lane = PostingLane(route, api=api.client.app)  # type: ignore[arg-type]
    secret = remembered(api)
    good = orjson.dumps(service_record(world.bob, world.org))
    cases = [
        (good, None),  # no key
        (b'{"type": "service_record", ', secret),  # not JSON
        (orjson.dumps({**service_record(world.bob, world.org), "minutes": "many"}), secret),  # not the model
        (orjson.dumps({"type": "gift", "id": new_id()}), secret),  # no such type
    ]
    for body, key in cases:
        status, _, _ = ask(lane, body, key)
        assert status == 299
        assert route.bodies[-1] == body
    assert len(route.bodies) == len(cases)


def test_the_access_log_and_the_metrics_name_the_route(api: Api, world: World) -> None:
    lines: list[str] = []
    secret = remembered(api)  # so that the lane answers
    with TestClient(create_app(api.ledger, access_log=lines.append, limit_rates=False)) as client:
        response = client.post(
            "/v1/transactions", json=service_record(world.bob, world.org), headers={"Authorization": f"Bearer {secret}"}
        )
        assert response.status_code == 201
        metrics = client.get("/metrics").text
    assert orjson.loads(lines[0])["route"] == "/v1/transactions"
    assert 'hour_ledger_http_requests_total{method="POST",route="/v1/transactions",status="201"} 1.0' in metrics


def test_a_key_this_process_does_not_remember_is_looked_up_in_the_same_hop(api: Api, world: World) -> None:
    lane, route = the_lane(api), Route()
    alone = PostingLane(route, api=api.client.app)  # type: ignore[arg-type]
    operator = api.key("operator")
    api.ledger.keys.forget()  # as a process that has not seen the key (or another worker)
    assert api.ledger.keys.remembered_actor(operator.secret or "") is None
    status, _, answered = ask(alone, orjson.dumps(service_record(world.bob, world.org)), operator.secret, api=api)
    assert status == 201 and route.bodies == []
    assert orjson.loads(answered)["posted_by"]["key_id"] == operator.key_id
    for secret in ("hl_not-a-key", (operator.secret or "") + "x"):
        body = orjson.dumps(service_record(world.bob, world.org))
        by_lane, by_route = ask(lane, body, secret, api=api), ask(lane.app, body, secret, api=api)
        assert by_lane[0] == by_route[0] == 401
        assert by_lane[1][b"www-authenticate"] == by_route[1][b"www-authenticate"] == b"Bearer"
        assert orjson.loads(by_lane[2]) == orjson.loads(by_route[2])
    assert route.bodies == []


def test_a_client_gone_before_its_body_is_not_answered(api: Api) -> None:
    route = Route()
    lane = PostingLane(route, api=api.client.app)  # type: ignore[arg-type]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/transactions", "headers": []}
    asyncio.run(lane(scope, receive, send))
    assert sent == [] and route.bodies == []
