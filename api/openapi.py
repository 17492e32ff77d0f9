"""The OpenAPI document as clients generate code from it: every error response is
`application/problem+json` with the `Problem` schema (RFC 9457, SPEC's `code`), in place of
FastAPI's own `HTTPValidationError`; operation ids and descriptions come from the routes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.problems import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def problem_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with its error responses as problem details (built once)."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags
        )
        for path in document.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    if str(status)[0] in "45":
                        response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
    return app.openapi_schema


def install(app: FastAPI) -> None:
    app.openapi = lambda: problem_document(app)  # type: ignore[method-assign]
