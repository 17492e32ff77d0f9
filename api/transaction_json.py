"""The answers of the posting routes as JSON bytes, written directly in the shapes that
`TransactionOut` and `BatchOut` declare (api/schemas.py) with `response_model_exclude_unset`,
instead of validating each view against the model and serialising it again: posting is the
service's hot path, and that round trip was a good part of its CPU per request.

The models stay the routes' response models, for the OpenAPI document and for every other
route; tests/api/test_transaction_json.py holds the bytes written here to the models' bytes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

import orjson
from fastapi import Response

from api.local_time import local_for_orjson, response_zone
from api.schemas import TransactionOut


def transaction_document(view: dict[str, Any]) -> dict[str, Any]:
    """A transaction's view (`views.transaction`) as `TransactionOut` writes it, for orjson to
    write (`json_response`): times in the service's local time, legs and `posted_by` with their
    declared keys only, ids as text (orjson writes a UUID as the model does); the client's other
    fields (`volunteer_id`, `lines`, …) after the declared ones."""
    zone = response_zone()
    document: dict[str, Any] = {}
    for name, write in _WRITERS:
        if name in view:
            value = view[name]
            document[name] = value if value is None or write is None else write(value, zone)
    if len(document) < len(view):
        for name, value in view.items():
            if name not in document:
                document[name] = value
    return document


def _local_time(value: datetime | str, zone: tzinfo) -> datetime | str:
    return local_for_orjson(value if isinstance(value, datetime) else datetime.fromisoformat(value), zone)


def _id(value: UUID | str, zone: tzinfo) -> UUID:
    return value if type(value) is UUID else UUID(str(value))


def _legs(legs: list[dict[str, Any]], zone: tzinfo) -> list[dict[str, Any]]:
    return [{"account": leg["account"], "minutes": leg["minutes"]} for leg in legs]


def _posted_by(value: dict[str, Any], zone: tzinfo) -> dict[str, Any]:
    key_id = value["key_id"]
    return {"key_id": None if key_id is None else _id(key_id, zone), "name": value["name"]}


# The model's fields in its order (pydantic writes them first, then the extra ones as given),
# each with what makes its value the model's (None: the value as it is).
_CONVERSIONS: dict[str, Callable[[Any, tzinfo], Any]] = {
    "id": _id, "reversed_by": _id, "legs": _legs, "posted_by": _posted_by,
    "posted_at": _local_time, "started_at": _local_time, "ended_at": _local_time, "served_at": _local_time,
}
_WRITERS = tuple((name, _CONVERSIONS.get(name)) for name in TransactionOut.model_fields)


def json_response(document: Any, status_code: int = 200) -> Response:
    """`document` (plain dicts, lists, text, numbers, ids) as an `application/json` answer."""
    return Response(orjson.dumps(document), status_code=status_code, media_type="application/json")
