"""The community pool: hours donated from time-bank accounts, granted by operators to people in need."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.errors import InsufficientBalanceError
from ledger.immutable_state import ImmutableState
from ledger.vocabulary import PostedBy

POOL_ID = uuid5(NAMESPACE_URL, "hour-ledger:community-pool")


class CommunityPool(ImmutableState, Aggregate):
    """A singleton with a known id; its state is one number, and snapshots keep loading it cheap."""

    @event("Started")
    def __init__(self, id: UUID) -> None:
        self.balance_minutes = 0

    @event("Received")
    def receive(self, transaction_id: UUID, minutes: int, posted_by: PostedBy) -> None:
        self.balance_minutes += minutes

    def give(self, transaction_id: UUID, minutes: int, posted_by: PostedBy) -> None:
        if self.balance_minutes < minutes:
            raise InsufficientBalanceError("pool_short", held=self.balance_minutes, asked=minutes)
        self._gave(transaction_id=transaction_id, minutes=minutes, posted_by=posted_by)

    @event("Gave")
    def _gave(self, transaction_id: UUID, minutes: int, posted_by: PostedBy) -> None:
        self.balance_minutes -= minutes
