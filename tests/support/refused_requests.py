"""Requests the API must refuse, each with what it must answer: bodies that fail validation
(and the field the 422 names), and transactions a rule of the ledger refuses in the world that
`api_client` builds. Shared by the tests of the errors and of their languages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.support.api_client import (
    SERVICE_START,
    World,
    deposit,
    donation,
    exchange_point,
    grant,
    item,
    new_id,
    organization,
    redemption,
    reversal,
    service_record,
    transfer,
    volunteer,
    withdrawal,
)

Request = Callable[[World], tuple[str, str, Any]]


def tx(make: Callable[[World], dict[str, Any]]) -> Request:
    return lambda w: ("POST", "/v1/transactions", make(w))


def without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != field}


NAIVE = "2025-03-01T09:00:00"
FUTURE = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)

# (what is wrong, the request, the field the 422 names)
INVALID: list[tuple[str, Request, str]] = [
    ("unknown field", lambda w: ("POST", "/v1/organizations", organization(colour="red")), "colour"),
    ("region of 3 digits", lambda w: ("POST", "/v1/organizations", organization("320")), "region_code"),
    ("region with a letter", lambda w: ("POST", "/v1/volunteers", volunteer("32a0")), "region_code"),
    ("region of 5 digits", lambda w: ("POST", "/v1/exchange-points", exchange_point("32083")), "region_code"),
    ("region as a number", lambda w: ("POST", "/v1/organizations", organization(320830)), "region_code"),
    ("name missing", lambda w: ("POST", "/v1/organizations", {"region_code": "32"}), "name"),
    ("empty name", lambda w: ("POST", "/v1/volunteers", volunteer(name="")), "name"),
    ("blank name", lambda w: ("POST", "/v1/volunteers", volunteer(name="   ")), "name"),
    ("birth year out of range", lambda w: ("POST", "/v1/volunteers", volunteer(birth_year=1800)), "birth_year"),
    ("birth year in the future", lambda w: ("POST", "/v1/volunteers", volunteer(birth_year=2099)), "birth_year"),
    ("bad organisation UUID", lambda w: ("POST", "/v1/volunteers", volunteer(organization_id="org-1")), "organization_id"),
    ("bad client-chosen id", lambda w: ("POST", "/v1/exchange-points", exchange_point(id="123")), "id"),
    ("negative price", lambda w: ("PUT", f"/v1/exchange-points/{w.point}/items/tea", item(-1)), "price_minutes"),
    ("stock as text", lambda w: ("PUT", f"/v1/exchange-points/{w.point}/items/tea", {**item(), "stock": "5"}), "stock"),
    ("min star 6", lambda w: ("PUT", f"/v1/exchange-points/{w.point}/items/tea", item(min_star=6)), "min_star"),
    ("sku with a space", lambda w: ("PUT", f"/v1/exchange-points/{w.point}/items/green%20tea", item()), "sku"),
    ("bad UUID in the path", lambda w: ("PUT", "/v1/exchange-points/nope/items/tea", item()), "exchange_point_id"),
    ("bad UUID in the path (GET)", lambda w: ("GET", "/v1/volunteers/12345", None), "volunteer_id"),
    ("bad UUID in the path (POST)", lambda w: ("POST", "/v1/volunteers/xyz/timebank", None), "volunteer_id"),
    ("bad UUID in the path (DELETE)", lambda w: ("DELETE", "/v1/api-keys/xyz", None), "key_id"),
    ("bad transaction UUID in the path", lambda w: ("GET", "/v1/transactions/0-0", None), "transaction_id"),
    ("minutes as text", tx(lambda w: deposit(w.alice, w.org, "10")), "minutes"),  # type: ignore[arg-type]
    ("fractional minutes", tx(lambda w: deposit(w.alice, w.org, 10.5)), "minutes"),  # type: ignore[arg-type]
    ("whole float minutes", tx(lambda w: withdrawal(w.alice, 10.0)), "minutes"),  # type: ignore[arg-type]
    ("boolean minutes", tx(lambda w: donation(w.alice, True)), "minutes"),  # type: ignore[arg-type]
    ("zero minutes", tx(lambda w: withdrawal(w.alice, 0)), "minutes"),
    ("negative minutes", tx(lambda w: deposit(w.alice, w.org, -60)), "minutes"),
    ("too many minutes", tx(lambda w: grant(w.alice, 1_000_001)), "minutes"),
    ("minutes missing", tx(lambda w: without(donation(w.alice, 5), "minutes")), "minutes"),
    ("unknown transaction field", tx(lambda w: deposit(w.alice, w.org, 10, colour="red")), "colour"),
    ("transaction id missing", tx(lambda w: without(deposit(w.alice, w.org, 10), "id")), "id"),
    ("bad transaction id", tx(lambda w: {**deposit(w.alice, w.org, 10), "id": "tx-1"}), "id"),
    ("bad volunteer UUID", tx(lambda w: withdrawal("not-a-uuid", 10)), "volunteer_id"),
    ("timestamp without zone", tx(lambda w: deposit(w.alice, w.org, 10, served_at=NAIVE)), "served_at"),
    ("timestamp as a number", tx(lambda w: deposit(w.alice, w.org, 10, served_at=1740790800)), "served_at"),
    ("not a timestamp", tx(lambda w: deposit(w.alice, w.org, 10, served_at="yesterday")), "served_at"),
    ("start without zone", tx(lambda w: service_record(w.bob, w.org) | {"started_at": NAIVE}), "started_at"),
    ("service ends in the future", tx(lambda w: service_record(w.bob, w.org, 60, started_at=FUTURE)), "ended_at"),
    ("deposit served in the future", tx(lambda w: deposit(w.alice, w.org, 10, served_at=FUTURE.isoformat())), "served_at"),
    ("service of 1,441 minutes", tx(lambda w: service_record(w.bob, w.org, 1441)), "ended_at"),
    ("service ending before it starts", tx(lambda w: service_record(w.bob, w.org, -30)), "ended_at"),
    ("service under a minute", tx(lambda w: service_record(w.bob, w.org, 0)), "ended_at"),
    ("empty category", tx(lambda w: service_record(w.bob, w.org, category="")), "category"),
    ("empty reason", tx(lambda w: grant(w.alice, 10, reason="")), "reason"),
    ("blank reason", tx(lambda w: reversal(w.deposit, reason="  ")), "reason"),
    ("transfer to oneself", tx(lambda w: transfer(w.alice, w.alice, 10)), "to_volunteer_id"),
    ("reversal of itself", tx(lambda w: (lambda b: b | {"reverses": b["id"]})(reversal(w.deposit))), "reverses"),
    ("redemption of nothing", tx(lambda w: redemption(w.point, w.alice)), "items"),
    ("quantity zero", tx(lambda w: redemption(w.point, w.alice, ("tea", 0))), "items.0.quantity"),
    ("quantity as text", tx(lambda w: redemption(w.point, w.alice, ("tea", "1"))), "items.0.quantity"),  # type: ignore[arg-type]
    ("unknown type", tx(lambda w: {**donation(w.alice, 10), "type": "gift"}), "body"),
    ("type missing", tx(lambda w: without(donation(w.alice, 10), "type")), "body"),
    ("a list for a body", lambda w: ("POST", "/v1/transactions", [donation(w.alice, 10)]), "body"),
    ("date as a Unix time", lambda w: ("GET", "/v1/stats/summary?from=0.0", None), "from"),
    ("date as a number", lambda w: ("GET", "/v1/stats/breakdown?by=month&to=1700000000", None), "to"),
    ("batch without transactions", lambda w: ("POST", "/v1/transactions/batch", {"atomic": True}), "transactions"),
    ("empty batch", lambda w: ("POST", "/v1/transactions/batch", {"transactions": []}), "transactions"),
    ("atomic as text", lambda w: ("POST", "/v1/transactions/batch", {"transactions": [{}], "atomic": "yes"}), "atomic"),
]


Make = Callable[[World], dict[str, Any]]

# (the error, the request that fails in the world as built, status)
RULES: list[tuple[str, Make, int]] = [
    ("insufficient_balance", lambda w: withdrawal(w.alice, 601), 409),
    ("insufficient_balance", lambda w: donation(w.alice, 601), 409),
    ("insufficient_balance", lambda w: transfer(w.bob, w.alice, 1), 409),
    ("insufficient_balance", lambda w: grant(w.bob, 1), 409),  # the pool is empty
    ("insufficient_balance", lambda w: redemption(w.point, w.alice, ("tea", 10), ("badge", 1)), 409),
    ("out_of_stock", lambda w: redemption(w.point, w.alice, ("umbrella", 1)), 409),
    ("out_of_stock", lambda w: redemption(w.point, w.alice, ("tea", 1), ("badge", 2)), 409),
    ("star_level_too_low", lambda w: redemption(w.point, w.alice, ("medal", 1)), 409),
    ("timebank_not_open", lambda w: deposit(w.carol, w.org, 60), 409),
    ("timebank_not_open", lambda w: withdrawal(w.carol, 60), 409),
    ("timebank_not_open", lambda w: transfer(w.alice, w.carol, 60), 409),
    ("timebank_cap_exceeded", lambda w: deposit(w.alice, w.org, 90_000 - 599), 409),
    ("overlapping_service", lambda w: service_record(w.alice, w.org, 30, started_at=SERVICE_START + timedelta(minutes=599)), 409),
    ("transaction_id_conflict", lambda w: {**withdrawal(w.alice, 5), "id": w.deposit}, 409),
    ("not_found", lambda w: withdrawal(new_id(), 5), 404),
    ("not_found", lambda w: deposit(w.alice, new_id(), 5), 404),
    ("not_found", lambda w: service_record(w.alice, new_id()), 404),
    ("not_found", lambda w: redemption(new_id(), w.alice, ("tea", 1)), 404),
    ("not_found", lambda w: redemption(w.point, w.alice, ("caviar", 1)), 404),
    ("not_found", lambda w: transfer(w.alice, new_id(), 5), 404),
    ("not_found", lambda w: reversal(new_id()), 404),
]
