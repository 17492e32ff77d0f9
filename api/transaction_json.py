"""The answers of the posting routes as JSON bytes, written directly in the shapes that
`TransactionOut` and `BatchOut` declare (api/schemas.py) with `response_model_exclude_unset`,
instead of validating each view against the model and serialising it again: posting is the
service's hot path, and that round trip was a good part of its CPU per request.

The models stay the routes' response models, for the OpenAPI document and for every other
route; tests/api/test_transaction_json.py holds the bytes written here to the models' bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from fastapi import Response

from api.local_time import local
from api.schemas import TransactionOut

# The model's fields in its order: pydantic writes them first, then the extra ones as given.
DECLARED = tuple(TransactionOut.model_fields)
LOCAL_TIMES = frozenset({"posted_at", "started_at", "ended_at", "served_at"})
IDS = frozenset({"id", "reversed_by"})


def transaction_document(view: dict[str, Any]) -> dict[str, Any]:
    """A transaction's view (`views.transaction`) as `TransactionOut` writes it: times in
    the service's local time, legs and `posted_by` with their declared keys only, ids as
    text; the client's other fields (`volunteer_id`, `lines`, …) after the declared ones."""
    document = {name: _declared(name, view[name]) for name in DECLARED if name in view}
    for name, value in view.items():
        if name not in document:
            document[name] = value
    return document


def _declared(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in LOCAL_TIMES:
        return local(value if isinstance(value, datetime) else datetime.fromisoformat(value))
    if name in IDS:
        return _uuid(value)
    if name == "legs":
        return [{"account": leg["account"], "minutes": leg["minutes"]} for leg in value]
    if name == "posted_by":
        key_id = value["key_id"]
        return {"key_id": None if key_id is None else _uuid(key_id), "name": value["name"]}
    return value


def _uuid(value: UUID | str) -> str:
    return str(value if isinstance(value, UUID) else UUID(value))


def json_response(document: Any, status_code: int = 200) -> Response:
    """`document` (plain dicts, lists, text, numbers, ids) as an `application/json` answer."""
    return Response(orjson.dumps(document), status_code=status_code, media_type="application/json")
