"""The FastAPI application: a thin layer that turns HTTP into the ledger's use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import problems
from api.problems import problem, problem_response
from api.routes import audit as audit_routes
from api.routes import certificates, keys, lists as list_routes, reading, statistics, things, transactions
from api.schemas import Health
from ledger.application import HourLedger
from projections import ReadModels
from projections.audit.log import AuditLog
from projections.lists import Lists

MAX_BODY_BYTES = 2 * 1024 * 1024  # a batch of 1,000 transactions is well under 1 MiB


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses bodies over the cap with 413, whether or not they announce their length."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(scope, receive, send)
                return
        received = 0
        too_large = refused = False

        async def counted() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            # FastAPI turns an error while reading the body into its own 400; answer 413 instead.
            nonlocal refused
            if not too_large:
                await send(message)
            elif not refused:
                refused = True
                await self._refuse(scope, receive, send)

        try:
            await self.app(scope, counted, guarded)
        except BodyTooLarge:
            if not refused:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = problem(413, "validation_error", f"request body is larger than {self.limit} bytes")
        await problem_response(body)(scope, receive, send)


def create_app(ledger: HourLedger, follow_projections: bool = False) -> FastAPI:
    """The API over `ledger`; with `follow_projections`, this process keeps the read models
    up to date in a background thread while it serves."""

    read_models = ReadModels(ledger)
    audit = AuditLog(ledger)
    lists = Lists(ledger)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ledger.watch_store()
        if follow_projections:
            read_models.start()
            audit.start(sign_every=ledger.settings.checkpoint_seconds)
            lists.start()
        try:
            yield
        finally:
            read_models.stop()
            audit.stop()
            lists.stop()

    app = FastAPI(
        title="Hour Ledger",
        version="1.0",
        description="Volunteer service hours and time banks (时间银行): an event-sourced ledger. "
        "Amounts are integer minutes. Errors are RFC 9457 problem details.",
        lifespan=lifespan,
    )
    app.state.ledger = ledger
    app.state.read_models = read_models
    app.state.audit = audit
    app.state.lists = lists
    problems.install(app)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Any:
        return {"status": "ok"}

    for module in (things, list_routes, transactions, reading, statistics, keys, audit_routes, certificates):
        app.include_router(module.router)
    app.add_middleware(BodyLimit)
    return app
