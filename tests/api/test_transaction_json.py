"""The posting routes write their answers without the response models (api/transaction_json.py):
for every type, single and in a batch, the bytes they answer are the bytes the models write
for the same transaction (`GET /v1/transactions/{id}` still goes through `TransactionOut`),
key order, local times and ids included. Both stores."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.api_client import (
    Api,
    World,
    api,  # noqa: F401 - fixture
    deposit,
    donation,
    grant,
    redemption,
    reversal,
    service_record,
    transfer,
    withdrawal,
    world,  # noqa: F401 - fixture
)


def every_type(world: World) -> list[dict[str, Any]]:
    return [
        service_record(world.bob, world.org, minutes=90, activity="给老人读报"),
        deposit(world.bob, world.org, 300),
        withdrawal(world.bob, 50, note="home visit"),
        transfer(world.alice, world.bob, 100),
        donation(world.bob, 200),
        grant(world.alice, 150),
        redemption(world.point, world.alice, ("tea", 2), ("badge", 1)),
    ]


def as_read_back(api: Api, transaction_id: str) -> bytes:
    found = api.admin.get(f"/v1/transactions/{transaction_id}")
    assert found.status_code == 200
    return found.content


def test_a_posting_answers_the_bytes_its_response_model_writes(api: Api, world: World) -> None:
    for body in every_type(world):
        answered = api.admin.post("/v1/transactions", body)
        assert answered.status_code == 201, answered.text
        assert answered.headers["content-type"] == "application/json"
        assert answered.content == as_read_back(api, body["id"]), body["type"]
        again = api.admin.post("/v1/transactions", body)
        assert (again.status_code, again.content) == (200, answered.content)

    undo = reversal(body["id"], reason="写错了")
    answered = api.admin.post("/v1/transactions", undo)
    assert answered.status_code == 201, answered.text
    assert answered.content == as_read_back(api, undo["id"])


def test_a_batch_answers_the_bytes_its_response_model_writes(api: Api, world: World) -> None:
    bodies = every_type(world)
    answered = api.admin.post("/v1/transactions/batch", {"transactions": [*bodies, {"id": "x", "type": "gift"}]})
    assert answered.status_code == 200, answered.text
    results = json.loads(answered.content)["results"]
    for body, result in zip(bodies, results):
        assert result["status"] == 201, result
        written = json.dumps(result["transaction"], ensure_ascii=False, separators=(",", ":")).encode()
        assert written == as_read_back(api, body["id"]), body["type"]
    assert set(results[-1]) == {"status", "error"} and results[-1]["error"]["code"] == "validation_error"


def test_a_posting_answers_in_the_zone_of_its_app(api: Api, world: World) -> None:
    body = service_record(world.bob, world.org, minutes=60)
    answered = api.admin.post("/v1/transactions", body)
    posted_at = answered.json()["posted_at"]
    assert posted_at.endswith("+08:00"), posted_at  # the default zone, Asia/Shanghai
    assert answered.json()["started_at"].endswith("+08:00")


def test_the_answers_decode_as_they_did_through_the_models(api: Api, world: World) -> None:
    """Fields the model leaves out when unset stay out; those set to nothing stay in."""
    answered: httpx.Response = api.admin.post("/v1/transactions", service_record(world.bob, world.org, minutes=60))
    found = answered.json()
    assert "pickup_code" not in found and "served_at" not in found and "activity" not in found
    assert found["reversed_by"] is None and "position" in found
