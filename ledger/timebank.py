"""A volunteer's time-bank account (时间银行): opened on request, never negative, never above the cap."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.errors import InsufficientBalanceError, TimebankCapExceededError
from ledger.immutable_state import ImmutableState
from ledger.vocabulary import PostedBy


class TimebankAccount(ImmutableState, Aggregate):
    """One per volunteer; its id is derived from the volunteer's, so the store keeps it unique."""

    @staticmethod
    def id_for(volunteer_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"hour-ledger:timebank:{volunteer_id}")

    @event("Opened")
    def __init__(self, id: UUID, volunteer_id: UUID, posted_by: PostedBy) -> None:
        self.volunteer_id = volunteer_id
        self.balance_minutes = 0

    def credit(
        self,
        transaction_id: UUID,
        minutes: int,
        cap_minutes: int,
        entry: str,
        posted_by: PostedBy,
    ) -> None:
        if self.balance_minutes + minutes > cap_minutes:
            raise TimebankCapExceededError(
                "timebank_cap", minutes=minutes, balance=self.balance_minutes + minutes, cap=cap_minutes
            )
        self._credited(transaction_id=transaction_id, minutes=minutes, entry=entry, posted_by=posted_by)

    @event("Credited")
    def _credited(self, transaction_id: UUID, minutes: int, entry: str, posted_by: PostedBy) -> None:
        self.balance_minutes += minutes

    def debit(self, transaction_id: UUID, minutes: int, entry: str, posted_by: PostedBy) -> None:
        if self.balance_minutes < minutes:
            raise InsufficientBalanceError("timebank_short", balance=self.balance_minutes, asked=minutes)
        self._debited(transaction_id=transaction_id, minutes=minutes, entry=entry, posted_by=posted_by)

    @event("Debited")
    def _debited(self, transaction_id: UUID, minutes: int, entry: str, posted_by: PostedBy) -> None:
        self.balance_minutes -= minutes
