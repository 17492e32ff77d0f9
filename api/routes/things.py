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
from ledger.messages import Thing
from ledger.vocabulary import MAX_SKU, SKU_PATTERN

router = APIRouter(prefix="/v1", tags=["things"])

# The same shape a redemption's `items[].sku` must have, or an item could be put but never redeemed.
SkuPath = Annotated[str, Path(min_length=1, max_length=MAX_SKU, pattern=SKU_PATTERN)]


def _created(response: Response, created: bool) -> None:
    # A repeated client-chosen id with the same body answers the existing thing with 200.
    response.status_code = 201 if created else 200


@router.post(
    "/organizations", status_code=201, response_model=OrganizationOut, operation_id="createOrganization",
    responses={200: {"model": OrganizationOut, "description": "Already registered with this id and body"}, **problems(404, 409)},
)
def register_organization(body: OrganizationIn, actor: ActorDep, ledger: LedgerDep, response: Response) -> Any:
    """Registers an organisation (operators in scope, admins). A client-chosen `id` makes it
    safe to retry: the same body again answers 200 with the organisation; another body, 409."""
    registered = ledger.register_organization(actor, body.name, body.region_code, id=body.id)
    _created(response, registered.created)
    return views.organization(registered.aggregate)


@router.get("/organizations/{organization_id}", response_model=OrganizationOut, responses=problems(404), operation_id="getOrganization")
def get_organization(organization_id: UUID, actor: ActorDep, ledger: LedgerDep) -> Any:
    """An organisation: its name, region and when it was registered."""
    org = ledger.get_organization(organization_id)
    require_reader(actor, org.region_code, Thing("organization", organization_id))
    return views.organization(org)


@router.post(
    "/volunteers", status_code=201, response_model=VolunteerOut, operation_id="createVolunteer",
    responses={200: {"model": VolunteerOut, "description": "Already registered with this id and body"}, **problems(404, 409)},
)
def register_volunteer(body: VolunteerIn, actor: ActorDep, ledger: LedgerDep, response: Response) -> Any:
    """Registers a volunteer and opens their service book. A national ID number is kept only
    as a salted hash; a client-chosen `id` makes it safe to retry."""
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


@router.get("/volunteers/{volunteer_id}", response_model=VolunteerOut, responses=problems(404), operation_id="getVolunteer")
def get_volunteer(volunteer_id: UUID, actor: ActorDep, ledger: LedgerDep) -> Any:
    """The profile. An exchange_point key reads it too (SPEC §7: the name of a volunteer it
    serves; any volunteer may redeem at any point), without the birth year."""
    person = ledger.get_volunteer(volunteer_id)
    if actor.role is Role.EXCHANGE_POINT:
        return views.volunteer(ledger, person, at_counter=True)
    require_reader(actor, person.region_code, Thing("volunteer", volunteer_id))
    return views.volunteer(ledger, person)


@router.post(
    "/volunteers/{volunteer_id}/timebank", status_code=201, response_model=TimebankOut, responses=problems(404, 409),
    operation_id="openTimebank",
)
def open_timebank(volunteer_id: UUID, actor: ActorDep, ledger: LedgerDep) -> Any:
    """Opens the volunteer's time-bank account (开户); 409 `timebank_already_open` if it is open."""
    opened = ledger.open_timebank(actor, volunteer_id)
    return views.timebank(opened.aggregate, opened.position)


@router.post(
    "/exchange-points", status_code=201, response_model=ExchangePointOut, operation_id="createExchangePoint",
    responses={200: {"model": ExchangePointOut, "description": "Already registered with this id and body"}, **problems(409)},
)
def register_exchange_point(body: ExchangePointIn, actor: ActorDep, ledger: LedgerDep, response: Response) -> Any:
    """Registers a reward-exchange point (兑换点); a client-chosen `id` makes it safe to retry."""
    registered = ledger.register_exchange_point(actor, body.name, body.region_code, id=body.id)
    _created(response, registered.created)
    return views.exchange_point(registered.aggregate)


@router.put(
    "/exchange-points/{exchange_point_id}/items/{sku}", response_model=ExchangePointOut, responses=problems(404),
    operation_id="putItem",
)
def put_item(exchange_point_id: UUID, sku: SkuPath, body: ItemIn, actor: ActorDep, ledger: LedgerDep) -> Any:
    """Puts an item on an exchange point's shelf (or changes it): price in minutes, stock, and
    the star level it needs; answers the point with all its items."""
    point = ledger.put_item(
        actor, exchange_point_id, sku, body.name, body.price_minutes, body.stock, body.min_star
    )
    return views.exchange_point(point)


@router.get("/exchange-points/{exchange_point_id}", response_model=ExchangePointOut, responses=problems(404), operation_id="getExchangePoint")
def get_exchange_point(exchange_point_id: UUID, actor: ActorDep, ledger: LedgerDep) -> Any:
    """An exchange point with its items and stock (its own key may read it too)."""
    point = ledger.get_exchange_point(exchange_point_id)
    if not (actor.role is Role.EXCHANGE_POINT and actor.exchange_point_id == exchange_point_id):
        require_reader(actor, point.region_code, Thing("exchange point", exchange_point_id))
    return views.exchange_point(point)
