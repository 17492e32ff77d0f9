"""A volunteer and the `service` book: earned and redeemed minutes, and the periods served."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.errors import InsufficientBalanceError, OverlappingServiceError
from ledger.immutable_state import ImmutableState
from ledger.service_periods import ServicePeriods
from ledger.vocabulary import PostedBy, epoch_microseconds, moment_of, star_level


class Volunteer(ImmutableState, Aggregate):
    @event("Registered")
    def __init__(
        self,
        id: UUID,
        name: str,
        region_code: str,
        organization_id: UUID | None,
        birth_year: int | None,
        id_number_hash: str | None,
        posted_by: PostedBy,
    ) -> None:
        self.name = name
        self.region_code = region_code
        self.organization_id = organization_id
        self.birth_year = birth_year
        self.id_number_hash = id_number_hash
        self.earned_minutes = 0
        self.redeemed_minutes = 0
        # Unreversed service periods, [start, end) in epoch microseconds, by start: the overlap
        # rule reads them (ledger/service_periods.py says why the collection is immutable).
        self.service_periods = ServicePeriods()

    @property
    def available_minutes(self) -> int:
        return self.earned_minutes - self.redeemed_minutes

    def star_level(self, thresholds_minutes: Sequence[int]) -> int:
        return star_level(self.earned_minutes, thresholds_minutes)

    def periods(self) -> ServicePeriods:
        """The unreversed service periods, by start (a snapshot holds them as plain lists)."""
        return ServicePeriods.of(self.service_periods)

    def snapshot_interval(self, base: int) -> int:
        """Events between two snapshots. A snapshot copies every period: with a long history it
        is taken more seldom (every eighth of the history, rounded down to a power of two, so
        that the multiples stay multiples as it grows), which keeps its cost per posting flat
        and a load from it replaying at most an eighth of the history."""
        eighth = len(self.periods()) // 8
        return max(base, 1 << (eighth.bit_length() - 1)) if eighth else base

    def registration(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "region_code": self.region_code,
            "organization_id": self.organization_id,
            "birth_year": self.birth_year,
            "id_number_hash": self.id_number_hash,
        }

    def record_service(
        self,
        transaction_id: UUID,
        started_at: datetime,
        ended_at: datetime,
        minutes: int,
        posted_by: PostedBy,
    ) -> None:
        start, end = epoch_microseconds(started_at), epoch_microseconds(ended_at)
        # A snapshot gives the periods back as plain lists: convert them once, not per command.
        self.service_periods = periods = self.periods()
        other = periods.overlapping(start, end)
        if other is not None:
            raise OverlappingServiceError(
                "service_overlaps",
                started_at=started_at,
                ended_at=ended_at,
                other=other[2],
                other_started_at=moment_of(other[0]),
                other_ended_at=moment_of(other[1]),
            )
        self.trigger_event(
            self.ServiceRecorded,
            transaction_id=transaction_id,
            started_at=started_at,
            ended_at=ended_at,
            minutes=minutes,
            posted_by=posted_by,
        )

    class ServiceRecorded(Aggregate.Event):
        # Declared, not made by `@event` from a method, because it is the event of every
        # service record: the decorator matches each call's arguments to the method's
        # parameters, twice, which took 9.2 us an event against 3.6 us this way. The fields,
        # their order and the topic are the ones the decorator made.
        transaction_id: UUID
        started_at: datetime
        ended_at: datetime
        minutes: int
        posted_by: PostedBy

        def apply(self, volunteer: Volunteer) -> None:
            volunteer.earned_minutes += self.minutes
            volunteer.service_periods = volunteer.periods().with_period(
                str(self.transaction_id), epoch_microseconds(self.started_at), epoch_microseconds(self.ended_at)
            )

    def reverse_service(
        self, transaction_id: UUID, reversal_id: UUID, minutes: int, posted_by: PostedBy
    ) -> None:
        if self.available_minutes < minutes:
            raise InsufficientBalanceError(
                "service_hours_spent",
                minutes=minutes,
                redeemed=self.redeemed_minutes,
                earned=self.earned_minutes,
                available=self.available_minutes,
            )
        self._service_reversed(
            transaction_id=transaction_id,
            reversal_id=reversal_id,
            minutes=minutes,
            posted_by=posted_by,
        )

    @event("ServiceReversed")
    def _service_reversed(
        self, transaction_id: UUID, reversal_id: UUID, minutes: int, posted_by: PostedBy
    ) -> None:
        self.earned_minutes -= minutes
        self.service_periods = self.periods().without(str(transaction_id))

    def redeem(self, transaction_id: UUID, minutes: int, posted_by: PostedBy) -> None:
        if self.available_minutes < minutes:
            raise InsufficientBalanceError("redemption_short", cost=minutes, available=self.available_minutes)
        self._redeemed(transaction_id=transaction_id, minutes=minutes, posted_by=posted_by)

    @event("Redeemed")
    def _redeemed(self, transaction_id: UUID, minutes: int, posted_by: PostedBy) -> None:
        self.redeemed_minutes += minutes

    @event("RedemptionReversed")
    def reverse_redemption(
        self, transaction_id: UUID, reversal_id: UUID, minutes: int, posted_by: PostedBy
    ) -> None:
        self.redeemed_minutes -= minutes

