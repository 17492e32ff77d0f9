"""POST /v1/transactions, the service's hot path, answered without FastAPI's routing and
dependency solving: a pure ASGI layer just inside the shared middleware (body limit, JSON
bodies, rate limits, metrics, access log all still apply) that takes the common case — a
well-formed body with a bearer key — straight to the ledger, in one hop to a thread (the key
looked up there when this process does not remember it).

Anything else goes on to the FastAPI route with the body it read, unchanged: no key, a body
that does not validate, a command the rules refuse before it is posted. Those answers are the
route's own, word for word, so this module states no rule of its own. What the route does for the common case it does the same way: the same body model
(`TransactionIn`, the batch route's `TypeAdapter`), the same use case (`HourLedger.post`), the
same answer (`api.transaction_json`), the same problem details for a refusal
(`api.problems.ledger_error_response`, `store_error_response`).

Measured (docs/decisions.md, 2026-12-01): FastAPI's routing and dependency solving were about
0.3 ms of the 0.6 ms of server CPU the HTTP layer spent per posting."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import orjson
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError as PydanticValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import views
from api.problems import header_language, ledger_error_response, store_error_response
from api.routes.transactions import TRANSACTION, post_transaction, router
from api.transaction_json import json_response, transaction_document
from ledger.application import HourLedger, Posted
from ledger.commands import Command
from ledger.errors import LedgerError

PATH = "/v1/transactions"
# The threads postings wait for the store in: a plain executor, not the anyio pool of
# `run_in_threadpool`, whose capacity limiter and cancel scopes cost 0.1 ms a posting. As many
# threads as anyio's pool has: concurrent postings are what group commit gathers.
POSTING_THREADS = ThreadPoolExecutor(max_workers=40, thread_name_prefix="posting")


# The route's template, for the access log and the metrics of the postings answered here.
ROUTE = next(r for r in router.routes if getattr(r, "endpoint", None) is post_transaction)


class PostingLane:
    """Answers a well-formed POST /v1/transactions with a bearer key itself; hands every other
    request to `app`."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client went away before it had sent the body: no one to answer
        handed_on = replaying(body, receive)
        ledger = self.api.state.ledger
        secret = bearer_secret(scope)
        if secret is None:
            await self.app(scope, handed_on, send)  # the route words the problem
            return
        try:
            command = TRANSACTION.validate_python(orjson.loads(body)).command()
        except (orjson.JSONDecodeError, PydanticValidationError, LedgerError):
            await self.app(scope, handed_on, send)
            return
        scope["route"] = ROUTE
        language = header_language(scope["headers"])
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                POSTING_THREADS, authenticated_post, ledger, secret, command
            )
        except LedgerError as error:
            response = ledger_error_response(error, language, ledger.settings.zone, self.api.state.metrics)
        except PersistenceError as error:
            response = store_error_response(error, language, self.api.state.metrics)
        else:
            if result.created:
                self.api.state.metrics.posted(result.transaction.type)
            response = json_response(transaction_document(views.posted(result)), 201 if result.created else 200)
        await response(scope, handed_on, send)

def authenticated_post(ledger: HourLedger, secret: str, command: Command) -> Posted:
    """`HourLedger.post` by the key behind `secret`, in the same hop to a thread: a key this
    process remembers costs no query (`ApiKeys.authenticate` asks its memory first)."""
    return ledger.post(ledger.keys.authenticate(secret), command)


async def read_body(receive: Receive) -> bytes | None:
    """The request's whole body; None if the client disconnected first."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read already once, then asks the client's."""
    given = False

    async def again() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def bearer_secret(scope: Scope) -> str | None:
    """The secret of `Authorization: Bearer …`, read as FastAPI's `HTTPBearer` reads it."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, secret = get_authorization_scheme_param(value.decode("latin-1"))
            return secret or None if scheme.lower() == "bearer" else None
    return None
