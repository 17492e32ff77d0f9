"""The FastAPI application: a thin layer that turns HTTP into the ledger's use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import console, docs, openapi, problems
from api.access_log import AccessLog, Write, to_stderr
from api.guards import JsonBodies
from api.local_time import ResponseZone
from api.metrics import Metrics, RequestMetrics
from api.posting_lane import PostingLane
from api.problems import header_language, problem_response, said
from api.security import RateLimits, SecurityHeaders
from api.routes import audit as audit_routes
from api.routes import certificates, keys, operations, reading, statistics, things, transactions
from api.routes import lists as list_routes
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
        language = header_language(scope.get("headers", []))
        body = said(413, "validation_error", language, "body_too_large", limit=self.limit)
        await problem_response(body, language)(scope, receive, send)


def create_app(
    ledger: HourLedger, follow_projections: bool = False, access_log: Write | None = None, limit_rates: bool = True
) -> FastAPI:
    """The API over `ledger`; with `follow_projections`, this process keeps the read models
    up to date in a background thread while it serves. Each request is a line of the access
    log, written by `access_log` (by default to stderr, unless HOUR_LEDGER_ACCESS_LOG=off).
    `limit_rates=False` leaves out the per-client rate limits (for tests that play many
    clients from one address)."""

    read_models = ReadModels(ledger)
    audit = AuditLog(ledger)
    lists = Lists(ledger)
    metrics = Metrics(ledger, read_models, audit)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ledger.store_health.watch()
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
        # /docs is served from local files (api/docs.py); ReDoc would need a CDN.
        docs_url=None,
        redoc_url=None,
        # OpenTelemetry off: /metrics is Prometheus's, and asking whether telemetry is
        # configured cost every request a look at three global providers.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ledger = ledger
    app.state.read_models = read_models
    app.state.audit = audit
    app.state.metrics = metrics
    # Readiness expects this process's followers to run (else another process runs them).
    app.state.follows = follow_projections
    app.state.follower_progress = operations.FollowerProgress()
    app.state.lists = lists
    problems.install(app)
    openapi.install(app)
    docs.install(app)

    @app.get("/healthz", response_model=Health, tags=["operations"], operation_id="getHealth")
    def healthz() -> Any:
        """Liveness: the process answers (no database needed; see /readyz for readiness)."""
        return {"status": "ok"}

    # The posting routes first: a request's route is found by trying the routes in turn, and
    # postings are most of what the service is asked.
    for module in (transactions, things, list_routes, reading, statistics, keys, audit_routes, certificates, operations):
        app.include_router(module.router)
    # Innermost first: each add wraps what was added before.
    settings = ledger.settings
    app.add_middleware(PostingLane, api=app)  # inside every other layer: they all still apply
    app.add_middleware(JsonBodies)
    console.install(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(ResponseZone, zone=settings.zone)
    app.add_middleware(SecurityHeaders)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins.split(","), allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept-Language"], max_age=600,
        )
    if limit_rates:
        app.add_middleware(
            RateLimits,
            public_per_minute=settings.public_requests_per_minute,
            failed_auth_per_minute=settings.failed_authentications_per_minute,
        )
    app.add_middleware(RequestMetrics, metrics=metrics)
    write = access_log or (to_stderr if settings.access_log else None)
    if write is not None:
        app.add_middleware(AccessLog, zone=settings.zone, write=write)
    return app
