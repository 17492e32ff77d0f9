"""A posted transaction: its double-entry legs, who posted it, and whether it was reversed.

The aggregate's id is the client-chosen transaction id, so the store itself refuses a
second transaction with that id: it is saved in the same store transaction as the
accounts it changes, and two processes posting one id can never both succeed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.errors import LedgerError
from ledger.vocabulary import AccountAddress, Book, Leg, PostedBy


class UnbalancedLegsError(LedgerError):
    """A programming error: the legs of a transaction must sum to zero."""


class Transaction(Aggregate):
    @classmethod
    def post(
        cls,
        id: UUID,
        type: str,
        content: dict[str, Any],
        fingerprint: str,
        legs: list[Leg],
        details: dict[str, Any],
        posted_by: PostedBy,
    ) -> Transaction:
        """A transaction posted now, its `Posted` event pending. Raises UnbalancedLegsError."""
        if sum(leg["minutes"] for leg in legs) != 0:
            raise UnbalancedLegsError("legs_unbalanced", id=id, legs=legs)
        return cls._create(
            cls.Posted, id=id, type=type, content=content, fingerprint=fingerprint, legs=legs, details=details,
            posted_by=posted_by,
        )

    class Posted(Aggregate.Created):
        # Declared, with the aggregate built by its own `mutate`, because every posting makes
        # one: the library's way (`@event` on `__init__`) matched the arguments to `__init__`'s
        # parameters three times, 21 us against 10. The fields, their order and the topic are
        # the ones the decorator made, so stored events read back as before.
        type: str
        content: dict[str, Any]
        fingerprint: str
        legs: list[Leg]
        details: dict[str, Any]
        posted_by: PostedBy

        def mutate(self, aggregate: Transaction | None) -> Transaction:
            transaction = object.__new__(Transaction)
            transaction.__base_init__(self.originator_id, self.originator_version, self.timestamp)
            transaction.type = self.type
            transaction.content = self.content
            transaction.fingerprint = self.fingerprint
            transaction.legs = self.legs
            transaction.details = self.details
            transaction.posted_by = self.posted_by
            transaction.reversed_by = None
            return transaction

    @property
    def posted_at(self) -> datetime:
        return self.created_on

    @property
    def reverses(self) -> UUID | None:
        reverses = self.content.get("reverses")
        return UUID(reverses) if reverses else None

    @event("Reversed")
    def mark_reversed(self, reversal_id: UUID, posted_by: PostedBy) -> None:
        self.reversed_by = reversal_id


def service_minutes_of(record: Transaction, volunteer_id: UUID) -> int:
    """What a service record credited to the volunteer's service book."""
    account = str(AccountAddress.volunteer(volunteer_id, Book.SERVICE))
    return sum(leg["minutes"] for leg in record.legs if leg["account"] == account)
