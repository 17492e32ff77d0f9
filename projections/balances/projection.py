"""The balances' rule: each volunteer's two books as a projection of the global log.

Everything comes from `Transaction.Posted` (its legs name the volunteers' book accounts, its
timestamp is the recorded time, `posted_at`), `Volunteer.Registered` and
`TimebankAccount.Opened`. The service book keeps running totals of earned and redeemed minutes
in every entry, so a balance as of any moment is the last entry at or before it, per book.
A service leg counts as earned minutes, or as redeemed ones when it is a redemption's (or the
reversal of one: its type is looked up in `bal_txn`, since a reversal's legs do not say).

`bulk.py` restates this rule in SQL for PostgreSQL's bulk rebuild; `tests/projections/balances`
holds the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.domain import DomainEventProtocol

from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.vocabulary import Book, Leg, TransactionType, epoch_microseconds, volunteer_book
from ledger.volunteer import Volunteer
from projections.balances.tables import BAL_ENTRY, BAL_TXN, BAL_VOLUNTEER, TABLES
from projections.engine.changes import Changes
from projections.engine.runner import Fetch

# Types whose service legs a reversal takes back: earned (a service record) or redeemed.
SERVICE_BOOK_TYPES = (TransactionType.SERVICE_RECORD, TransactionType.REDEMPTION)


def book_legs(legs: Sequence[Leg]) -> list[tuple[str, Book, int]]:
    """(volunteer id, book, signed minutes) for each leg on a volunteer's book."""
    out = []
    for leg in legs:
        found = volunteer_book(leg["account"])
        if found is not None:
            out.append((found[0], found[1], int(leg["minutes"])))
    return out


class BalancesProjection:
    name = "balances"
    tables = TABLES
    topics = (Volunteer.Registered, TimebankAccount.Opened, Transaction.Posted)

    def process(self, events: list[tuple[int, DomainEventProtocol[Any]]], fetch: Fetch) -> Changes:
        """`fetch(table, columns, values)` reads rows of this generation as they stand."""
        volunteer_ids: set[str] = set()
        reversed_ids: set[str] = set()
        for _, e in events:
            if isinstance(e, Volunteer.Registered):
                volunteer_ids.add(str(e.originator_id))
            elif isinstance(e, TimebankAccount.Opened):
                volunteer_ids.add(str(e.volunteer_id))
            elif isinstance(e, Transaction.Posted):
                volunteer_ids.update(v for v, _, _ in book_legs(e.legs))
                if e.type == TransactionType.REVERSAL:
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
                row["registered_us"] = epoch_microseconds(e.timestamp)
            elif isinstance(e, TimebankAccount.Opened):
                row = volunteer(str(e.volunteer_id))
                row["timebank_opened_us"] = epoch_microseconds(e.timestamp)
            elif isinstance(e, Transaction.Posted):
                self._posted(e, volunteer, types, changes)
        for vid in sorted(dirty):
            changes.put(BAL_VOLUNTEER, volunteers[vid])
        return changes

    @staticmethod
    def _posted(
        e: Any, volunteer: Callable[[str], dict[str, Any]], types: dict[str, str], changes: Changes
    ) -> None:
        transaction_id = str(e.originator_id)
        recorded_us = epoch_microseconds(e.timestamp)
        reversal = e.type == TransactionType.REVERSAL
        original_type = types.get(str(e.content.get("reverses"))) if reversal else None
        touched_service = False
        for vid, book, minutes in book_legs(e.legs):
            row = volunteer(vid)
            if book is Book.SERVICE:
                touched_service = True
                kind = original_type if reversal else e.type
                if kind == TransactionType.REDEMPTION:
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
                "volunteer_id": vid, "book": book.value, "seq": seq, "transaction_id": transaction_id,
                "type": e.type, "minutes": minutes, "balance_after": balance,
                "earned_after": row["earned"], "redeemed_after": row["redeemed"], "recorded_us": recorded_us,
            })
        if touched_service and e.type in SERVICE_BOOK_TYPES:
            types[transaction_id] = e.type
            changes.put(BAL_TXN, {"transaction_id": transaction_id, "type": e.type})
