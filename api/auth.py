"""Bearer-key authentication and the read permissions of SPEC §3's role table.

Write permissions live in the ledger (its use cases check the acting key); this module only
finds the key behind a request and guards the read-only routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger.actors import Actor, Role
from ledger.application import HourLedger
from ledger.errors import UnauthorizedError

bearer = HTTPBearer(auto_error=False, description="An API key's secret: `Authorization: Bearer <secret>`")

READERS = (Role.ADMIN, Role.OPERATOR, Role.AUDITOR)


def ledger_of(request: Request) -> HourLedger:
    return request.app.state.ledger


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None:
        raise UnauthorizedError("send an API key: Authorization: Bearer <secret>")
    return ledger_of(request).authenticate(credentials.credentials)


def read_models_of(request: Request) -> Any:
    return request.app.state.read_models


LedgerDep = Annotated[HourLedger, Depends(ledger_of)]
ReadModelsDep = Annotated[Any, Depends(read_models_of)]
ActorDep = Annotated[Actor, Depends(current_actor)]


def require_reader(actor: Actor, region_code: str | None = None, what: str = "it") -> None:
    """Admins, operators and auditors read; a region-scoped key reads only inside its region."""
    actor.require_role(*READERS)
    if region_code is not None:
        actor.require_region(region_code, what)
