"""Errors as RFC 9457 problem details with SPEC's stable codes, in the reader's language
(`Accept-Language`: Simplified Chinese for `zh`, `zh-CN` and every other `zh-…`, else
English); no request ends in a bare 500.

Titles and details come from the message catalogue (`ledger/messages.py`); times in them are
shown in the service's zone (`HOUR_LEDGER_TIMEZONE`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.validation import plain_validation_problem
from ledger.errors import (
    ForbiddenError,
    LedgerError,
    NotFoundError,
    UnauthorizedError,
    UnavailableError,
    ValidationError,
)
from ledger.messages import CHINESE, ENGLISH, Language, field_detail, render, title

if TYPE_CHECKING:
    from api.metrics import Metrics

log = logging.getLogger("hour_ledger.api")

PROBLEM_JSON = "application/problem+json"


def language_of(accept_language: str | None) -> Language:
    """The language a reader asked for: the `Accept-Language` range of highest weight among
    those we speak (any `zh…` is Simplified Chinese, any `en…` English); English when none."""
    best: tuple[float, Language] = (0.0, ENGLISH)
    for part in (accept_language or "").split(","):
        tag, _, rest = part.strip().partition(";")
        tag = tag.strip().lower()
        weight = 1.0
        for parameter in rest.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        language: Language | None = CHINESE if tag.split("-")[0] == "zh" else ENGLISH if tag.split("-")[0] == "en" else None
        if language is not None and weight > best[0]:
            best = (weight, language)
    return best[1]


def request_language(request: Request) -> Language:
    return language_of(request.headers.get("accept-language"))


def header_language(headers: Iterable[tuple[bytes, bytes]]) -> Language:
    """`language_of` from raw ASGI headers (middleware that answers before routing)."""
    for name, value in headers:
        if name == b"accept-language":
            return language_of(value.decode("latin-1"))
    return ENGLISH


def zone_of(request: Request) -> tzinfo:
    return request.app.state.ledger.settings.zone


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


def problem(status: int, code: str, detail: str, language: Language, field: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://hour-ledger.example/problems/{code}",
        "title": title(code, language),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field is not None:
        body["field"] = field
    return body


def said(status: int, code: str, language: Language, message: str, zone: tzinfo | None = None, **params: Any) -> dict[str, Any]:
    """A problem whose detail is a message of the catalogue."""
    return problem(status, code, render(message, params, language, zone), language)


def ledger_problem(error: LedgerError, language: Language, zone: tzinfo | None = None) -> dict[str, Any]:
    return problem(status_of(error), error.code, error.detail_in(language, zone), language, getattr(error, "field", None))


def validation_problem(errors: list[Any], language: Language, body: Any = None) -> dict[str, Any]:
    """The first pydantic error in plain words, naming its field (malformed JSON is a 400)."""
    status, field, text = plain_validation_problem(errors, language, body)
    if field is None:
        return problem(status, "validation_error", text, language)
    return problem(status, "validation_error", field_detail(field, text, language), language, field)


def problem_response(body: dict[str, Any], language: Language, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        body,
        status_code=body["status"],
        media_type=PROBLEM_JSON,
        headers={"Content-Language": language, "Vary": "Accept-Language", **(headers or {})},
    )


def ledger_error_response(error: LedgerError, language: Language, zone: tzinfo, metrics: Metrics) -> JSONResponse:
    """A use case's refusal as its problem (a store found down is counted as refused)."""
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, UnauthorizedError) else None
    if isinstance(error, UnavailableError):
        metrics.refused(error)
    return problem_response(ledger_problem(error, language, zone), language, headers)


def store_error_response(error: PersistenceError, language: Language, metrics: Metrics) -> JSONResponse:
    """A store that failed under a request: 503 `unavailable`, counted as refused."""
    log.warning("store error: %r", error)
    metrics.refused(error)
    return problem_response(said(503, "unavailable", language, "store_failed", error=type(error).__name__), language)


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def on_ledger_error(request: Request, error: LedgerError) -> JSONResponse:
        return ledger_error_response(error, request_language(request), zone_of(request), request.app.state.metrics)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        language = request_language(request)
        return problem_response(validation_problem(list(error.errors()), language, error.body), language)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        language = request_language(request)
        if error.status_code == 404:
            body = said(404, "not_found", language, "no_such_route")
        elif error.status_code == 405:
            body = said(405, "validation_error", language, "method_not_allowed", method=request.method)
        elif error.status_code == 400:
            # FastAPI's answer to a body it could not decode at all (JSON that is not UTF-8).
            body = said(400, "validation_error", language, "body_unreadable")
        else:
            code = {401: "unauthorized", 403: "forbidden", 503: "unavailable"}.get(error.status_code, "validation_error")
            body = problem(error.status_code, code, str(error.detail), language)
        return problem_response(body, language, getattr(error, "headers", None))

    @app.exception_handler(PersistenceError)
    async def on_store_error(request: Request, error: PersistenceError) -> JSONResponse:
        return store_error_response(error, request_language(request), request.app.state.metrics)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        language = request_language(request)
        return problem_response(said(500, "unavailable", language, "unexpected"), language)
