"""How the ledger's aggregates are shown to clients: plain JSON-ready dicts in SPEC's shapes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ledger.api_key import ApiKey
from ledger.application import Balance, HourLedger, Posted
from ledger.exchange_point import ExchangePoint
from ledger.organization import Organization
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.volunteer import Volunteer
from ledger.vocabulary import moment_of, star_level


def moment(micros: int | None) -> datetime | None:
    """A time the lists keep as microseconds since the epoch."""
    return None if micros is None else moment_of(micros)


def organization(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "region_code": org.region_code, "registered_at": org.created_on}


def listed_organization(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "region_code": row["region_code"], "registered_at": moment(row["registered_us"])}


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


def volunteer(ledger: HourLedger, person: Volunteer, at_counter: bool = False) -> dict[str, Any]:
    """A volunteer's profile. At an exchange point's counter, without the birth year: a
    counter needs the name, the star level and the balances, not more."""
    balance = ledger.balance(person.id)
    return _profile(person.id, person.name, person.region_code, person.organization_id,
                    None if at_counter else person.birth_year, person.id_number_hash is not None,
                    person.created_on, balance)


def listed_volunteer(row: dict[str, Any], thresholds: Sequence[int], at_counter: bool = False) -> dict[str, Any]:
    """A profile from the lists' row: the same shape as `volunteer`."""
    balance = Balance(
        earned_minutes=row["earned"],
        redeemed_minutes=row["redeemed"],
        available_minutes=row["earned"] - row["redeemed"],
        star_level=star_level(row["earned"], thresholds),
        timebank_open=row["timebank_opened_us"] is not None,
        timebank_balance_minutes=row["timebank_balance"],
    )
    return _profile(row["id"], row["name"], row["region_code"], row["organization_id"],
                    None if at_counter else row["birth_year"], row["id_number_hash"] is not None,
                    moment(row["registered_us"]), balance)


def _profile(
    id: Any, name: str, region_code: str, organization_id: Any, birth_year: int | None,
    has_id_number: bool, registered_at: datetime | None, balance: Balance,
) -> dict[str, Any]:
    return {
        "id": id,
        "name": name,
        "region_code": region_code,
        "organization_id": organization_id,
        "birth_year": birth_year,
        "has_id_number": has_id_number,
        "registered_at": registered_at,
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
    return _point(point.id, point.name, point.region_code, point.created_on, point.items)


def listed_exchange_point(row: dict[str, Any]) -> dict[str, Any]:
    return _point(row["id"], row["name"], row["region_code"], moment(row["registered_us"]), row["items"])


def _point(id: Any, name: str, region_code: str, registered_at: datetime | None, items: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": id,
        "name": name,
        "region_code": region_code,
        "registered_at": registered_at,
        "items": [{"sku": sku, **item} for sku, item in sorted(items.items())],
    }


def transaction(posted: Transaction, position: int | None) -> dict[str, Any]:
    """The client's own fields, then what the ledger made of them."""
    return _transaction(
        posted.id, posted.type, posted.content, posted.legs, posted.details,
        posted.posted_at, posted.posted_by, position, posted.reversed_by,
    )


def listed_transaction(row: dict[str, Any]) -> dict[str, Any]:
    """A transaction from the lists' row: the same shape as `transaction`."""
    document = row["document"]
    view = _transaction(
        row["id"], row["type"], document["content"], document["legs"], document["details"],
        moment(row["recorded_us"]), document["posted_by"], row["position"], row["reversed_by"],
    )
    if "volunteer_name" in row:
        view["volunteer_name"] = row["volunteer_name"]
    return view


def _transaction(
    id: Any, type: str, content: dict[str, Any], legs: list[dict[str, Any]], details: dict[str, Any],
    posted_at: datetime | None, posted_by: dict[str, Any], position: int | None, reversed_by: Any,
) -> dict[str, Any]:
    view: dict[str, Any] = {
        **{k: v for k, v in content.items() if v is not None},
        "id": id,
        "type": type,
        "legs": legs,
        "minutes": details.get("minutes", 0),
        "posted_at": posted_at,
        "posted_by": posted_by,
        "position": position,
        "reversed_by": reversed_by,
    }
    if "pickup_code" in details:
        # The receipt: each line names its item (redemptions recorded before names were kept
        # in their lines show the sku alone).
        view["pickup_code"] = details["pickup_code"]
        view["lines"] = details["lines"]
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
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }
    if secret is not None:
        view["secret"] = secret
    return view


def listed_api_key(row: dict[str, Any]) -> dict[str, Any]:
    """A key as the admin's list shows it: never its secret (nor the secret's hash)."""
    return {
        "id": row["id"],
        "role": row["role"],
        "name": row["name"],
        "region_code": row["region_code"],
        "exchange_point_id": row["exchange_point_id"],
        "revoked": row["revoked_us"] is not None,
        "created_at": moment(row["created_us"]),
        "revoked_at": moment(row["revoked_us"]),
    }


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
