"""Balances and, from the read models, statements and statistics."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from api import views
from api.auth import ActorDep, LedgerDep, require_reader
from api.routes import problems
from api.schemas import BalanceOut, DomainEventOut
from ledger.actors import Role

router = APIRouter(prefix="/v1", tags=["reading"])

MinPosition = Annotated[int | None, Query(ge=0, le=2**62, description="Answer only once the log up to here is read")]


@router.get("/volunteers/{volunteer_id}/balance", response_model=BalanceOut, responses=problems(404))
def get_balance(volunteer_id: UUID, actor: ActorDep, ledger: LedgerDep, min_position: MinPosition = None) -> Any:
    person = ledger.get_volunteer(volunteer_id)
    if actor.role is not Role.EXCHANGE_POINT:
        require_reader(actor, person.region_code, f"volunteer {volunteer_id}")
    return views.balance(ledger.balance(volunteer_id), datetime.now(timezone.utc))


@router.get("/volunteers/{volunteer_id}/events", response_model=list[DomainEventOut], responses=problems(404))
def get_volunteer_events(volunteer_id: UUID, actor: ActorDep, ledger: LedgerDep, min_position: MinPosition = None) -> Any:
    """The raw domain events of a volunteer (and their time-bank account), in recorded order."""
    person = ledger.get_volunteer(volunteer_id)
    require_reader(actor, person.region_code, f"volunteer {volunteer_id}")
    return [views.domain_event(event) for event in ledger.volunteer_events(volunteer_id)]
