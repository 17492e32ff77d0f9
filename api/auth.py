"""Bearer-key authentication and the read permissions of SPEC §3's role table.

Write permissions live in the ledger (its use cases check the acting key); this module only
finds the key behind a request and guards the read-only routes.

The dependencies here are `async`: FastAPI runs a plain `def` dependency in its thread pool,
a hop to another thread and back for each. A key this process has just authenticated is
answered on the event loop (`ApiKeys.remembered_actor`); only a look-up in the store goes
to the pool."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from ledger.actors import Actor, Role
from ledger.application import HourLedger
from ledger.errors import UnauthorizedError
from ledger.messages import Thing
from projections import ReadModels
from projections.lists import Lists

bearer = HTTPBearer(auto_error=False, description="An API key's secret: `Authorization: Bearer <secret>`")

READERS = (Role.ADMIN, Role.OPERATOR, Role.AUDITOR)


async def ledger_of(request: Request) -> HourLedger:
    return request.app.state.ledger


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None:
        raise UnauthorizedError("no_key")
    ledger: HourLedger = request.app.state.ledger
    actor = ledger.keys.remembered_actor(credentials.credentials)
    if actor is None:
        actor = await run_in_threadpool(ledger.keys.authenticate, credentials.credentials)
    return actor


async def read_models_of(request: Request) -> ReadModels:
    return request.app.state.read_models


async def lists_of(request: Request) -> Lists:
    return request.app.state.lists


LedgerDep = Annotated[HourLedger, Depends(ledger_of)]
ReadModelsDep = Annotated[ReadModels, Depends(read_models_of)]
ListsDep = Annotated[Lists, Depends(lists_of)]
ActorDep = Annotated[Actor, Depends(current_actor)]


def require_reader(actor: Actor, region_code: str | None = None, what: Thing | None = None) -> None:
    """Admins, operators and auditors read; a region-scoped key reads only inside its region."""
    actor.require_role(*READERS)
    if region_code is not None:
        actor.require_region(region_code, what or Thing("region", region_code))


def at_own_counter(actor: Actor, exchange_point_id: UUID | str | None) -> bool:
    """Whether this is an exchange_point key acting for that exchange point."""
    return (
        actor.role is Role.EXCHANGE_POINT
        and exchange_point_id is not None
        and str(actor.exchange_point_id) == str(exchange_point_id)
    )


def bearer_secret(scope: Scope) -> str | None:
    """The secret of `Authorization: Bearer …`, read as FastAPI's `HTTPBearer` reads it."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, secret = get_authorization_scheme_param(value.decode("latin-1"))
            return secret or None if scheme.lower() == "bearer" else None
    return None
