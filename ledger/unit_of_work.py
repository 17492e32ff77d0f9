"""Aggregates loaded and created while one command (or one atomic batch) runs.

Each aggregate is loaded once; what changed is saved together in one store transaction by
the application, or thrown away if a rule refused the command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.errors import NotFoundError
from ledger.messages import Thing

A = TypeVar("A", bound=Aggregate)

Loader = Callable[[UUID], Aggregate | None]


class UnitOfWork:
    def __init__(self, load: Loader) -> None:
        self._load = load
        self._aggregates: dict[UUID, Aggregate | None] = {}

    def find_any(self, aggregate_id: UUID) -> Aggregate | None:
        if aggregate_id not in self._aggregates:
            self._aggregates[aggregate_id] = self._load(aggregate_id)
        return self._aggregates[aggregate_id]

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        aggregate = self.find_any(aggregate_id)
        return aggregate if isinstance(aggregate, cls) else None

    def get(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        aggregate = self.find(cls, aggregate_id)
        if aggregate is None:
            raise NotFoundError("thing_not_found", thing=Thing(what, aggregate_id))
        return aggregate

    def add(self, aggregate: Aggregate) -> None:
        # Added last, saved last: a posted transaction's event then follows the events of the
        # accounts it changed, so its own position covers all of them (a replay answers it).
        self._aggregates.pop(aggregate.id, None)
        self._aggregates[aggregate.id] = aggregate

    def seed_absent(self, aggregate_ids: set[UUID]) -> None:
        """Marks ids the store was seen not to hold, sparing a look-up each (batches use it)."""
        for aggregate_id in aggregate_ids:
            self._aggregates.setdefault(aggregate_id, None)

    def changed(self) -> list[Aggregate]:
        """Aggregates with events not yet saved, in the order they were first touched."""
        return [
            a for a in self._aggregates.values() if a is not None and a.pending_events
        ]
