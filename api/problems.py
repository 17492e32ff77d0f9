"""Errors as RFC 9457 problem details with SPEC's stable codes; no request ends in a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.commands import COMMAND_TYPES
from ledger.errors import (
    ForbiddenError,
    LedgerError,
    NotFoundError,
    UnauthorizedError,
    UnavailableError,
    ValidationError,
)

log = logging.getLogger("hour_ledger.api")

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    424: "Failed Dependency",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def status_of(error: LedgerError) -> int:
    if isinstance(error, ValidationError):
        return 422
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, UnauthorizedError):
        return 401
    if isinstance(error, ForbiddenError):
        return 403
    if isinstance(error, UnavailableError):
        return 503
    return 409


def problem(status: int, code: str, detail: str, field: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://hour-ledger.example/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field is not None:
        body["field"] = field
    return body


def ledger_problem(error: LedgerError) -> dict[str, Any]:
    return problem(status_of(error), error.code, error.detail, getattr(error, "field", None))


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def validation_problem(errors: list[Any]) -> dict[str, Any]:
    """The first pydantic error as a 422 naming its field (malformed JSON is a 400)."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        return problem(400, "validation_error", f"malformed JSON: {first.get('ctx', {}).get('error', first['msg'])}")
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
    # A discriminated union puts the variant's tag in the path; it is not a field of the body.
    loc = [part for part in loc if part not in COMMAND_TYPES]
    field = ".".join(loc) or "body"
    return problem(422, "validation_error", f"{field}: {first.get('msg', 'invalid')}", field)


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def on_ledger_error(_: Request, error: LedgerError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, UnauthorizedError) else None
        return problem_response(ledger_problem(error), headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(list(error.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 503: "unavailable"}.get(
            error.status_code, "validation_error"
        )
        return problem_response(problem(error.status_code, code, str(error.detail)), getattr(error, "headers", None))

    @app.exception_handler(PersistenceError)
    async def on_store_error(_: Request, error: PersistenceError) -> JSONResponse:
        log.warning("store error: %r", error)
        return problem_response(problem(503, "unavailable", "the store is unavailable; try again"))

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem_response(problem(500, "unavailable", "unexpected error; nothing was recorded"))
