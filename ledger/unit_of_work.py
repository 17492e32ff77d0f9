"""Aggregates loaded and created while one command (or one atomic batch) runs.

Each aggregate is loaded once; what changed is saved together in one store transaction by
the application, or thrown away if a rule refused the command.

An optimistic unit of work takes aggregates from the process's cache as they are, without
asking the store for newer events. That is safe for what it changes (a newer event in the store
makes the save a conflict), for what never changes (`NeverChanges`) and for what was fixed at
registration (`registration_only`), and for nothing else: `read_unchanged_from_cache` tells
the application to run the command again, carefully.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.errors import NotFoundError
from ledger.immutable_state import NeverChanges
from ledger.messages import Thing

A = TypeVar("A", bound=Aggregate)

Loader = Callable[[UUID], Aggregate | None]


class UnitOfWork:
    def __init__(self, load: Loader, cached: Loader | None = None, written_with: Loader | None = None) -> None:
        """`load` brings an aggregate up to date from the store; `cached`, when given, answers
        the process's cached copy (None when it has none) and makes this unit optimistic;
        `written_with`, asked first, answers a copy of an aggregate that the store transaction
        this unit's changes go into changes anyway (a group of postings): whatever this unit
        reads of it is as fresh as that write, which a newer event in the store makes a conflict."""
        self._load = load
        self._cached = cached
        self._written_with = written_with
        self._aggregates: dict[UUID, Aggregate | None] = {}
        self._from_cache: set[UUID] = set()
        self._state_read: set[UUID] = set()

    @property
    def optimistic(self) -> bool:
        return self._cached is not None

    def find_any(self, aggregate_id: UUID, *, registration_only: bool = False) -> Aggregate | None:
        """The aggregate, or None. `registration_only`: the caller reads only what was fixed
        when the aggregate was created (its existence, region, organisation), which no copy
        can have out of date."""
        if aggregate_id not in self._aggregates:
            found = self._written_with(aggregate_id) if self._written_with is not None else None
            if found is not None:
                self._aggregates[aggregate_id] = found
                return found
            found = self._cached(aggregate_id) if self._cached is not None else None
            if found is None:
                found = self._load(aggregate_id)
            else:
                self._from_cache.add(aggregate_id)
            self._aggregates[aggregate_id] = found
        found = self._aggregates[aggregate_id]
        if not registration_only and not isinstance(found, NeverChanges):
            self._state_read.add(aggregate_id)
        return found

    def read_unchanged_from_cache(self) -> bool:
        """Whether the state of an aggregate taken from the cache was read and not changed: the
        copy may be out of date, and no conflict on saving would say so."""
        cached = [self._aggregates[aggregate_id] for aggregate_id in self._from_cache & self._state_read]
        return any(aggregate is not None and not aggregate.pending_events for aggregate in cached)

    def find(self, cls: type[A], aggregate_id: UUID, *, registration_only: bool = False) -> A | None:
        aggregate = self.find_any(aggregate_id, registration_only=registration_only)
        return aggregate if isinstance(aggregate, cls) else None

    def get(self, cls: type[A], aggregate_id: UUID, what: str, *, registration_only: bool = False) -> A:
        aggregate = self.find(cls, aggregate_id, registration_only=registration_only)
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
