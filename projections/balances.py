"""Balances and statements: each volunteer's two books as a projection of the global log.

Everything comes from `Transaction.Posted` (its legs name the volunteers' book accounts, its
timestamp is the recorded time, `posted_at`), `Volunteer.Registered` and
`TimebankAccount.Opened`. The service book keeps running totals of earned and redeemed minutes
in every entry, so a balance as of any moment is the last entry at or before it, per book.

`replay` is the auditor's cross-check: it folds the volunteer's own aggregate events (and the
time-bank account's) up to a moment, taking each event's recorded time from the transaction
that caused it, and must agree with the projection.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from ledger.vocabulary import star_level
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.volunteer import Volunteer
from projections.dims import to_us
from projections.schema import BAL_ENTRY, BAL_TXN, BAL_VOLUNTEER, BALANCE_TABLES
from projections.store import Changes

SERVICE = "service"
TIMEBANK = "timebank"
BOOKS = (SERVICE, TIMEBANK)
SERVICE_RECORD = "service_record"
REDEMPTION = "redemption"
REVERSAL = "reversal"


def book_accounts(legs: Sequence[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(volunteer id, book, signed minutes) for each leg on a volunteer's book."""
    out = []
    for leg in legs:
        parts = leg["account"].split(":")
        if len(parts) == 3 and parts[0] == "volunteer" and parts[2] in BOOKS:
            out.append((parts[1], parts[2], int(leg["minutes"])))
    return out


class BalancesProjection:
    name = "balances"
    tables = BALANCE_TABLES
    topics = (Volunteer.Registered, TimebankAccount.Opened, Transaction.Posted)

    def process(self, events: list[tuple[int, DomainEventProtocol[Any]]], fetch: Any) -> Changes:
        """`fetch(table, columns, values)` reads rows of this generation as they stand."""
        volunteer_ids: set[str] = set()
        reversed_ids: set[str] = set()
        for _, e in events:
            if isinstance(e, Volunteer.Registered):
                volunteer_ids.add(str(e.originator_id))
            elif isinstance(e, TimebankAccount.Opened):
                volunteer_ids.add(str(e.volunteer_id))
            elif isinstance(e, Transaction.Posted):
                volunteer_ids.update(v for v, _, _ in book_accounts(e.legs))
                if e.type == REVERSAL:
                    reversed_ids.add(str(e.content["reverses"]))
        volunteers = {
            r["volunteer_id"]: r for r in fetch(BAL_VOLUNTEER, ("volunteer_id",), [(v,) for v in volunteer_ids])
        }
        types = {r["transaction_id"]: r["type"] for r in fetch(BAL_TXN, ("transaction_id",), [(t,) for t in reversed_ids])}

        changes = Changes()
        dirty: set[str] = set()

        def volunteer(vid: str) -> dict[str, Any]:
            row = volunteers.get(vid)
            if row is None:  # never happens in a well-formed log: registration comes first
                row = volunteers[vid] = {
                    "volunteer_id": vid, "registered_us": 0, "earned": 0, "redeemed": 0,
                    "timebank_opened_us": None, "timebank_balance": 0, "service_seq": 0, "timebank_seq": 0,
                }
            dirty.add(vid)
            return row

        for _, e in events:
            if isinstance(e, Volunteer.Registered):
                row = volunteer(str(e.originator_id))
                row["registered_us"] = to_us(e.timestamp)
            elif isinstance(e, TimebankAccount.Opened):
                row = volunteer(str(e.volunteer_id))
                row["timebank_opened_us"] = to_us(e.timestamp)
            elif isinstance(e, Transaction.Posted):
                self._posted(e, volunteer, types, changes)
        for vid in sorted(dirty):
            changes.put(BAL_VOLUNTEER, volunteers[vid])
        return changes

    @staticmethod
    def _posted(e: Any, volunteer: Any, types: dict[str, str], changes: Changes) -> None:
        transaction_id = str(e.originator_id)
        recorded_us = to_us(e.timestamp)
        original_type = types.get(str(e.content.get("reverses"))) if e.type == REVERSAL else None
        touched_service = False
        for vid, book, minutes in book_accounts(e.legs):
            row = volunteer(vid)
            if book == SERVICE:
                touched_service = True
                kind = original_type if e.type == REVERSAL else e.type
                if kind == REDEMPTION:
                    row["redeemed"] -= minutes  # a redemption's leg is negative; its reversal's positive
                else:
                    row["earned"] += minutes
                row["service_seq"] += 1
                seq, balance = row["service_seq"], row["earned"] - row["redeemed"]
            else:
                row["timebank_balance"] += minutes
                row["timebank_seq"] += 1
                seq, balance = row["timebank_seq"], row["timebank_balance"]
            changes.put(BAL_ENTRY, {
                "volunteer_id": vid, "book": book, "seq": seq, "transaction_id": transaction_id,
                "type": e.type, "minutes": minutes, "balance_after": balance,
                "earned_after": row["earned"], "redeemed_after": row["redeemed"], "recorded_us": recorded_us,
            })
        if touched_service and e.type in (SERVICE_RECORD, REDEMPTION):
            types[transaction_id] = e.type
            changes.put(BAL_TXN, {"transaction_id": transaction_id, "type": e.type})


def balance_document(
    earned: int, redeemed: int, timebank_open: bool, timebank_balance: int,
    thresholds: Sequence[int], as_of: str,
) -> dict[str, Any]:
    return {
        "service": {
            "earned_minutes": earned,
            "redeemed_minutes": redeemed,
            "available_minutes": earned - redeemed,
            "star_level": star_level(earned, thresholds),
        },
        "timebank": {"open": timebank_open, "balance_minutes": timebank_balance},
        "as_of": as_of,
    }


def replay(
    ledger: Any, volunteer_id: UUID, as_of: datetime | None
) -> tuple[int, int, bool, int] | None:
    """(earned, redeemed, timebank open, timebank balance) from the aggregates' own events,
    counting each event whose transaction was recorded at or before `as_of`."""
    events = list(ledger.events.get(volunteer_id))
    if not events or not isinstance(events[0], Volunteer.Registered):
        return None
    limit = to_us(as_of) if as_of is not None else None
    posted_at: dict[UUID, int] = {}

    def recorded(e: Any, transaction_id: UUID | None) -> int:
        if transaction_id is None:
            return to_us(e.timestamp)
        if transaction_id not in posted_at:
            first = list(ledger.events.get(transaction_id, lte=1))
            posted_at[transaction_id] = to_us(first[0].timestamp) if first else to_us(e.timestamp)
        return posted_at[transaction_id]

    def included(e: Any, transaction_id: UUID | None) -> bool:
        return limit is None or recorded(e, transaction_id) <= limit

    earned = redeemed = 0
    if not included(events[0], None):
        return 0, 0, False, 0
    for e in events[1:]:
        reversal_id = getattr(e, "reversal_id", None)
        if not included(e, reversal_id or getattr(e, "transaction_id", None)):
            continue
        if isinstance(e, Volunteer.ServiceRecorded):
            earned += e.minutes
        elif isinstance(e, Volunteer.ServiceReversed):
            earned -= e.minutes
        elif isinstance(e, Volunteer.Redeemed):
            redeemed += e.minutes
        elif isinstance(e, Volunteer.RedemptionReversed):
            redeemed -= e.minutes
    account = list(ledger.events.get(TimebankAccount.id_for(volunteer_id)))
    opened, balance = False, 0
    if account and included(account[0], None):
        opened = True
        for e in account[1:]:
            if not included(e, getattr(e, "transaction_id", None)):
                continue
            if isinstance(e, TimebankAccount.Credited):
                balance += e.minutes
            elif isinstance(e, TimebankAccount.Debited):
                balance -= e.minutes
    return earned, redeemed, opened, balance
