"""What each event of the log does to the lists' rows (SPEC §7). Pure: no store, no I/O.

`changes_of(events, known)` turns a batch of events, in log order, into the rows to write.
`known` answers what earlier batches stored: the regions of things, the transactions that a
reversal names, the catalogues of exchange points; the store reads them in the batch's own
transaction.

- A registration (volunteer, organisation, exchange point, API key) is a row keyed by its
  position in the log; a name is indexed by its grams (`names.py`).
- A posted transaction is a row with the parties it names; a reversal names the parties of
  the transaction it reverses, so that a point's or a volunteer's list shows both. The region
  all its parties share is the longest common prefix of their codes: a region-scoped key sees
  the transaction exactly when its prefix starts that common prefix.
- Volunteers' balances follow the legs on their books, as `projections/balances/projection.py` does:
  a service leg is redeemed minutes when it belongs to a redemption (or its reversal), earned
  minutes otherwise.
- An exchange point's catalogue follows its items put, stock taken and stock returned.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from ledger.api_key import ApiKey
from ledger.exchange_point import ExchangePoint
from ledger.organization import Organization
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.volunteer import Volunteer
from projections.lists.names import grams, search_key

TOPICS: tuple[type, ...] = (
    Volunteer.Registered,
    Organization.Registered,
    ExchangePoint.Registered,
    ExchangePoint.ItemPut,
    ExchangePoint.StockTaken,
    ExchangePoint.StockReturned,
    TimebankAccount.Opened,
    Transaction.Posted,
    Transaction.Reversed,
    ApiKey.Issued,
    ApiKey.Revoked,
)
VOLUNTEER_FIELDS = ("volunteer_id", "from_volunteer_id", "to_volunteer_id")
REVERSAL = "reversal"
REDEMPTION = "redemption"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Known(Protocol):
    """What earlier batches stored."""

    def regions(self, ids: Collection[str]) -> dict[str, str]:
        """Region codes of volunteers, organisations and exchange points, by id."""

    def transactions(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """By id: type, volunteer_ids, organization_id, exchange_point_id, parties_region."""

    def points(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """Exchange points' whole rows (items as a dict by sku), by id."""


@dataclass
class Changes:
    """The rows a batch writes."""

    volunteers: list[dict[str, Any]] = field(default_factory=list)
    organizations: list[dict[str, Any]] = field(default_factory=list)
    points: dict[str, dict[str, Any]] = field(default_factory=dict)  # new or changed, whole
    keys: list[dict[str, Any]] = field(default_factory=list)
    grams: list[tuple[str, str, int]] = field(default_factory=list)  # (kind, gram, position)
    balances: dict[str, list[int]] = field(default_factory=dict)  # id → [earned, redeemed, timebank] to add
    timebank_opened: dict[str, int] = field(default_factory=dict)
    transactions: list[dict[str, Any]] = field(default_factory=list)
    reversed: dict[str, str] = field(default_factory=dict)  # original id → reversal id
    revoked: dict[str, int] = field(default_factory=dict)  # key id → when


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def common_prefix(codes: Sequence[str]) -> str:
    if not codes:
        return ""
    first, last = min(codes), max(codes)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def changes_of(events: Sequence[tuple[int, Any]], known: Known) -> Changes:
    return _Batch(events, known).changes


class _Batch:
    def __init__(self, events: Sequence[tuple[int, Any]], known: Known) -> None:
        self.changes = Changes()
        self.regions: dict[str, str] = {}
        self.originals: dict[str, dict[str, Any]] = {}
        self._look_up(events, known)
        for position, event in events:
            self._apply(position, event)

    def _look_up(self, events: Sequence[tuple[int, Any]], known: Known) -> None:
        """Reads, in three questions, what this batch needs of earlier ones."""
        registered: set[str] = set()
        posted: set[str] = set()
        parties: set[str] = set()
        originals: set[str] = set()
        points: set[str] = set()
        for _, e in events:
            if isinstance(e, (Volunteer.Registered, Organization.Registered, ExchangePoint.Registered)):
                registered.add(str(e.originator_id))
            elif isinstance(e, Transaction.Posted):
                posted.add(str(e.originator_id))
                parties.update(str(e.content[f]) for f in (*VOLUNTEER_FIELDS, "organization_id", "exchange_point_id") if e.content.get(f))
                if e.type == REVERSAL:
                    originals.add(str(e.content["reverses"]))
            elif isinstance(e, (ExchangePoint.ItemPut, ExchangePoint.StockTaken, ExchangePoint.StockReturned)):
                points.add(str(e.originator_id))
        if parties - registered:
            self.regions.update(known.regions(parties - registered))
        if originals - posted:
            self.originals.update(known.transactions(originals - posted))
        if points - registered:
            self.changes.points.update(known.points(points - registered))

    def _apply(self, position: int, e: Any) -> None:
        c = self.changes
        if isinstance(e, Volunteer.Registered):
            row = self._thing(position, e, "v")
            row.update(
                organization_id=_id(e.organization_id), birth_year=e.birth_year, id_number_hash=e.id_number_hash,
                earned=0, redeemed=0, timebank_opened_us=None, timebank_balance=0,
            )
            c.volunteers.append(row)
        elif isinstance(e, Organization.Registered):
            c.organizations.append(self._thing(position, e, "o"))
        elif isinstance(e, ExchangePoint.Registered):
            c.points[str(e.originator_id)] = {**self._thing(position, e, "p"), "items": {}}
        elif isinstance(e, ExchangePoint.ItemPut):
            self._point(e)["items"][e.sku] = dict(e.item)
        elif isinstance(e, (ExchangePoint.StockTaken, ExchangePoint.StockReturned)):
            items = self._point(e)["items"]
            sign = -1 if isinstance(e, ExchangePoint.StockTaken) else 1
            for line in e.lines:
                if line["sku"] in items:
                    items[line["sku"]]["stock"] += sign * int(line["quantity"])
        elif isinstance(e, TimebankAccount.Opened):
            c.timebank_opened[str(e.volunteer_id)] = micros(e.timestamp)
        elif isinstance(e, Transaction.Posted):
            self._posted(position, e)
        elif isinstance(e, Transaction.Reversed):
            c.reversed[str(e.originator_id)] = str(e.reversal_id)
        elif isinstance(e, ApiKey.Issued):
            c.keys.append({
                "position": position, "id": str(e.originator_id), "role": e.role, "name": e.name,
                "region_code": e.region_prefix, "exchange_point_id": _id(e.exchange_point_id),
                "created_us": micros(e.timestamp), "revoked_us": None,
            })
        elif isinstance(e, ApiKey.Revoked):
            c.revoked[str(e.originator_id)] = micros(e.timestamp)

    def _thing(self, position: int, e: Any, kind: str) -> dict[str, Any]:
        thing_id = str(e.originator_id)
        self.regions[thing_id] = e.region_code
        key = search_key(e.name)
        self.changes.grams.extend((kind, gram, position) for gram in sorted(grams(key)))
        return {
            "position": position, "id": thing_id, "name": e.name, "name_key": key,
            "region_code": e.region_code, "registered_us": micros(e.timestamp),
        }

    def _point(self, e: Any) -> dict[str, Any]:
        point = self.changes.points.get(str(e.originator_id))
        if point is None:  # never in a well-formed log: a point is registered before its items
            point = self.changes.points[str(e.originator_id)] = {
                "position": 0, "id": str(e.originator_id), "name": "", "name_key": "", "region_code": "",
                "registered_us": micros(e.timestamp), "items": {},
            }
        return point

    def _posted(self, position: int, e: Any) -> None:
        transaction_id = str(e.originator_id)
        content = e.content
        if e.type == REVERSAL:
            original = self.originals.get(str(content["reverses"]), {})
            volunteer_ids = list(original.get("volunteer_ids", []))
            organization_id = original.get("organization_id")
            point_id = original.get("exchange_point_id")
            parties_region = original.get("parties_region", "")
        else:
            volunteer_ids = [str(content[f]) for f in VOLUNTEER_FIELDS if content.get(f)]
            organization_id, point_id = _id(content.get("organization_id")), _id(content.get("exchange_point_id"))
            parties = [*volunteer_ids, *(p for p in (organization_id, point_id) if p)]
            parties_region = common_prefix([self.regions.get(p, "") for p in parties])
        self.originals[transaction_id] = {
            "type": e.type, "volunteer_ids": volunteer_ids, "organization_id": organization_id,
            "exchange_point_id": point_id, "parties_region": parties_region,
        }
        self.changes.transactions.append({
            "position": position, "id": transaction_id, "type": e.type, "recorded_us": micros(e.timestamp),
            "volunteer_id": volunteer_ids[0] if volunteer_ids else None, "volunteer_ids": volunteer_ids,
            "organization_id": organization_id, "exchange_point_id": point_id,
            "pickup_code": e.details.get("pickup_code"), "parties_region": parties_region, "reversed_by": None,
            "document": {"content": content, "legs": e.legs, "details": e.details, "posted_by": e.posted_by},
        })
        kind = self.originals.get(str(content.get("reverses")), {}).get("type") if e.type == REVERSAL else e.type
        for leg in e.legs:
            parts = str(leg["account"]).split(":")
            if len(parts) != 3 or parts[0] != "volunteer":
                continue
            deltas = self.changes.balances.setdefault(parts[1], [0, 0, 0])
            minutes = int(leg["minutes"])
            if parts[2] == "timebank":
                deltas[2] += minutes
            elif kind == REDEMPTION:
                deltas[1] -= minutes  # a redemption's leg is negative; its reversal's positive
            else:
                deltas[0] += minutes
