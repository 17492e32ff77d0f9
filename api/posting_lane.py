"""POST /v1/transactions, the service's hot path, answered without FastAPI's routing and
dependency solving: a pure ASGI layer just inside the shared middleware (body limit, JSON
bodies, rate limits, metrics, access log all still apply) that takes the common case — a
well-formed body with a bearer key — straight to the posting desk (api/posting_desk.py), whose
one thread posts the postings that arrive together as a group (the key looked up there when
this process does not remember it).

Anything else goes on to the FastAPI route with the body it read, unchanged: no key, a body
that does not validate, a command the rules refuse before it is posted. Those answers are the
route's own, word for word, so this module states no rule of its own. What the route does
for the common case it does the same way: the same body model (`TransactionIn`, the batch
route's `TypeAdapter`), the same answers of the use case (`HourLedger.post_group` answers each
posting as `HourLedger.post` would), the same answer (`api.transaction_json`), the same
problem details for a refusal (`api.problems.ledger_error_response`, `store_error_response`).

Measured (docs/decisions.md, 2026-12-01): FastAPI's routing and dependency solving were about
0.3 ms of the 0.6 ms of server CPU the HTTP layer spent per posting."""

from __future__ import annotations

import orjson
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI
from pydantic import ValidationError as PydanticValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import views
from api.auth import bearer_secret
from api.posting_desk import PostingDesk
from api.problems import header_language, ledger_error_response, store_error_response
from api.routes.transactions import TRANSACTION, post_transaction, router
from api.transaction_json import json_response, transaction_document
from ledger.errors import LedgerError

PATH = "/v1/transactions"
# The route's template, for the access log and the metrics of the postings answered here.
ROUTE = next(r for r in router.routes if getattr(r, "endpoint", None) is post_transaction)


class PostingLane:
    """Answers a well-formed POST /v1/transactions with a bearer key itself; hands every other
    request to `app`."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self.desk: PostingDesk | None = None  # made with the first posting: the ledger is set by then

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
        if self.desk is None:
            self.desk = PostingDesk(ledger)
        try:
            result = await self.desk.post(secret, command)
        except LedgerError as error:
            response = ledger_error_response(error, language, ledger.settings.zone, self.api.state.metrics)
        except PersistenceError as error:
            response = store_error_response(error, language, self.api.state.metrics)
        else:
            if result.created:
                self.api.state.metrics.posted(result.transaction.type)
            response = json_response(transaction_document(views.posted(result)), 201 if result.created else 200)
        await response(scope, handed_on, send)


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

