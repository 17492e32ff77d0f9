"""Organisations, volunteers, time-bank opening, exchange points and their items."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Response

from api import views
from api.auth import ActorDep, LedgerDep, require_reader
from api.routes import problems
from api.schemas import (
    ExchangePointIn,
    ExchangePointOut,
    ItemIn,
    OrganizationIn,
    OrganizationOut,
    TimebankOut,
    VolunteerIn,
    VolunteerOut,
)
from ledger.actors import Role

router = APIRouter(prefix="/v1", tags=["things"])

# The same shape a redemption's `items[].sku` must have, or an item could be put but never redeemed.
SkuPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


def _created(response: Response, created: bool) -> None:
    # A repeated client-chosen id with the same body answers the existing thing with 200.
    response.status_code = 201 if created else 200


@router.post(
    "/organizations", status_code=201, response_model=OrganizationOut,
    responses={200: {"model": OrganizationOut, "description": "Already registered with this id and body"}, **problems(404, 409)},
)
def register_organization(body: OrganizationIn, actor: ActorDep, ledger: LedgerDep, response: Response) -> Any:
    registered = ledger.register_organization(actor, body.name, body.region_code, id=body.id)
    _created(response, registered.created)
    return views.organization(registered.aggregate)


@router.get("/organizations/{organization_id}", response_model=OrganizationOut, responses=problems(404))
def get_organization(organization_id: UUID, actor: ActorDep, ledger: LedgerDep) -> Any:
    org = ledger.get_organization(organization_id)
    require_reader(actor, org.region_code, f"organization {organization_id}")
    return views.organization(org)


@router.post(
    "/volunteers", status_code=201, response_model=VolunteerOut,
    responses={200: {"model": VolunteerOut, "description": "Already registered with this id and body"}, **problems(404, 409)},
)
def register_volunteer(body: VolunteerIn, actor: ActorDep, ledger: LedgerDep, response: Response) -> Any:
    registered = ledger.register_volunteer(
        actor,
        body.name,
        body.region_code,
        organization_id=body.organization_id,
        birth_year=body.birth_year,
        id_number=body.id_number,
        id=body.id,
    )
    _created(response, registered.created)
    return views.volunteer(ledger, registered.aggregate)


@router.get("/volunteers/{volunteer_id}", response_model=VolunteerOut, responses=problems(404))
def get_volunteer(volunteer_id: UUID, actor: ActorDep, ledger: LedgerDep) -> Any:
    """The profile. An exchange_point key reads it too (SPEC §7: the name of a volunteer it
    serves; any volunteer may redeem at any point), without the birth year."""
    person = ledger.get_volunteer(volunteer_id)
    if actor.role is Role.EXCHANGE_POINT:
        return views.volunteer(ledger, person, at_counter=True)
    require_reader(actor, person.region_code, f"volunteer {volunteer_id}")
    return views.volunteer(ledger, person)


@router.post("/volunteers/{volunteer_id}/timebank", status_code=201, response_model=TimebankOut, responses=problems(404, 409))
def open_timebank(volunteer_id: UUID, actor: ActorDep, ledger: LedgerDep) -> Any:
    opened = ledger.open_timebank(actor, volunteer_id)
    return views.timebank(opened.aggregate, opened.position)


@router.post(
    "/exchange-points", status_code=201, response_model=ExchangePointOut,
    responses={200: {"model": ExchangePointOut, "description": "Already registered with this id and body"}, **problems(409)},
)
def register_exchange_point(body: ExchangePointIn, actor: ActorDep, ledger: LedgerDep, response: Response) -> Any:
    registered = ledger.register_exchange_point(actor, body.name, body.region_code, id=body.id)
    _created(response, registered.created)
    return views.exchange_point(registered.aggregate)


@router.put("/exchange-points/{exchange_point_id}/items/{sku}", response_model=ExchangePointOut, responses=problems(404))
def put_item(exchange_point_id: UUID, sku: SkuPath, body: ItemIn, actor: ActorDep, ledger: LedgerDep) -> Any:
    point = ledger.put_item(
        actor, exchange_point_id, sku, body.name, body.price_minutes, body.stock, body.min_star
    )
    return views.exchange_point(point)


@router.get("/exchange-points/{exchange_point_id}", response_model=ExchangePointOut, responses=problems(404))
def get_exchange_point(exchange_point_id: UUID, actor: ActorDep, ledger: LedgerDep) -> Any:
    point = ledger.get_exchange_point(exchange_point_id)
    if not (actor.role is Role.EXCHANGE_POINT and actor.exchange_point_id == exchange_point_id):
        require_reader(actor, point.region_code, f"exchange point {exchange_point_id}")
    return views.exchange_point(point)
