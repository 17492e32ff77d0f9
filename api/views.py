"""How the ledger's aggregates are shown to clients: plain JSON-ready dicts in SPEC's shapes."""

from __future__ import annotations

from typing import Any

from ledger.api_key import ApiKey
from ledger.application import Balance, HourLedger, Posted
from ledger.exchange_point import ExchangePoint
from ledger.organization import Organization
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.volunteer import Volunteer


def organization(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "region_code": org.region_code, "registered_at": org.created_on}


def books(balance: Balance) -> dict[str, Any]:
    return {
        "service": {
            "earned_minutes": balance.earned_minutes,
            "redeemed_minutes": balance.redeemed_minutes,
            "available_minutes": balance.available_minutes,
            "star_level": balance.star_level,
        },
        "timebank": {"open": balance.timebank_open, "balance_minutes": balance.timebank_balance_minutes},
    }


def volunteer(ledger: HourLedger, person: Volunteer) -> dict[str, Any]:
    balance = ledger.balance(person.id)
    return {
        "id": person.id,
        "name": person.name,
        "region_code": person.region_code,
        "organization_id": person.organization_id,
        "birth_year": person.birth_year,
        "has_id_number": person.id_number_hash is not None,
        "registered_at": person.created_on,
        "star_level": balance.star_level,
        **books(balance),
    }


def timebank(account: TimebankAccount, position: int | None) -> dict[str, Any]:
    return {
        "volunteer_id": account.volunteer_id,
        "open": True,
        "balance_minutes": account.balance_minutes,
        "opened_at": account.created_on,
        "position": position,
    }


def exchange_point(point: ExchangePoint) -> dict[str, Any]:
    return {
        "id": point.id,
        "name": point.name,
        "region_code": point.region_code,
        "registered_at": point.created_on,
        "items": [{"sku": sku, **item} for sku, item in sorted(point.items.items())],
    }


def transaction(posted: Transaction, position: int | None) -> dict[str, Any]:
    """The client's own fields, then what the ledger made of them."""
    content = {k: v for k, v in posted.content.items() if v is not None}
    view: dict[str, Any] = {
        **content,
        "id": posted.id,
        "type": posted.type,
        "legs": posted.legs,
        "minutes": posted.details.get("minutes", 0),
        "posted_at": posted.posted_at,
        "posted_by": posted.posted_by,
        "position": position,
        "reversed_by": posted.reversed_by,
    }
    if "pickup_code" in posted.details:
        view["pickup_code"] = posted.details["pickup_code"]
        view["lines"] = posted.details["lines"]
    return view


def posted(result: Posted) -> dict[str, Any]:
    return transaction(result.transaction, result.position)


def api_key(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    view = {
        "id": key.id,
        "role": key.role,
        "name": key.name,
        "region_code": key.region_prefix,
        "exchange_point_id": key.exchange_point_id,
        "revoked": key.revoked,
    }
    if secret is not None:
        view["secret"] = secret
    return view


def domain_event(event: Any) -> dict[str, Any]:
    """A stored event as auditors read it: its identity, class, time and every attribute."""
    attributes = {k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version", "timestamp", "originator_topic")}
    return {
        "originator_id": event.originator_id,
        "originator_version": event.originator_version,
        "type": type(event).__qualname__,
        "recorded_at": event.timestamp,
        "posted_by": attributes.pop("posted_by", None),
        "data": attributes,
    }
