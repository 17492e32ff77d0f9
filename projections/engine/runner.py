"""Follows HourLedger's notification log for one generation: pages of notifications in, one
database transaction per projection and page out (the projection's rows and its tracking
position together).

Positions are notification ids. Reading `stop=head` after reading the head makes gaps
harmless: PostgreSQL allocates ids under eventsourcing's table lock (commit order = id order;
a rejected insert burns ids that never appear), SQLite writes one transaction at a time. So
once the head is read, every id up to it that will ever exist is visible, and a page that
returns fewer rows than asked moves the position to the head itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol

from eventsourcing.utils import get_topic

from projections.engine.changes import Changes
from projections.engine.store import Batch, PositionConflict, ReadModelStore
from projections.engine.tables import Table

log = logging.getLogger("projections")

DEFAULT_BATCH_SIZE = 2000

# (projection name, generation, position reached, events processed), after each batch.
BatchDone = Callable[[str, int, int, int], None]


class Fetch(Protocol):
    """The store's `fetch` of the generation being written (`ReadModelStore.fetch`)."""

    def __call__(
        self, table: Table, columns: Sequence[str], values: Sequence[tuple[Any, ...]], *, nearest: bool = False
    ) -> list[dict[str, Any]]: ...


class Projection(Protocol):
    """A read model's rule (its folder's `projection.py`): from a batch of events, in order,
    and the rows stored so far (`fetch`), the changes to its `tables`."""

    name: str
    topics: tuple[type, ...]
    tables: tuple[Table, ...]

    def process(self, events: list[tuple[int, Any]], fetch: Fetch) -> Changes: ...


class Runner:
    """Brings one generation of the projections up to the head of the log."""

    def __init__(
        self,
        ledger: Any,
        store: ReadModelStore,
        projections: Sequence[Projection],
        generation: int,
        state: str,
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_batch: BatchDone | None = None,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.projections = list(projections)
        self.names = [p.name for p in self.projections]
        self.generation = generation
        self.state = state
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.topics = sorted({get_topic(cls) for p in self.projections for cls in p.topics})
        self.positions = store.positions(generation, self.names)

    @property
    def position(self) -> int:
        return min(self.positions.values())

    def head(self, transaction: Any = None) -> int:
        if transaction is not None:
            return self.store.log_head(transaction)
        return int(self.ledger.recorder.max_notification_id() or 0)

    def step(self, head: int | None = None, transaction: Any = None) -> bool:
        """Processes one page; False when there was nothing left up to the head. With a
        `transaction`, reads and writes the projections' rows in it (a generation switch)."""
        head = self.head(transaction) if head is None else head
        start = self.position
        if start >= head:
            return False
        if transaction is not None:
            notifications = self.store.read_log(transaction, start, head, self.topics, self.batch_size)
        else:
            notifications = self.ledger.recorder.select_notifications(
                start=start, limit=self.batch_size, stop=head, topics=self.topics, inclusive_of_start=False
            )
        end = notifications[-1].id if len(notifications) >= self.batch_size else head
        mapper = self.ledger.mapper
        events = [(n.id, mapper.to_domain_event(n)) for n in notifications]
        batches: list[Batch] = []
        counts: dict[str, int] = {}
        for projection in self.projections:
            expected = self.positions[projection.name]
            if expected >= end:
                continue
            todo = [(i, e) for i, e in events if i > expected]
            fetch = partial(self.store.fetch, self.generation, transaction=transaction)
            batches.append((projection.name, expected, projection.process(todo, fetch)))
            counts[projection.name] = len(todo)
        if not batches:
            return True
        try:
            self.store.commit(self.generation, self.state, batches, end, transaction=transaction)
        except PositionConflict:
            if transaction is not None:
                raise
            # Another process wrote this batch (or more): take its position and go on.
            log.info("%s@%s: position moved by another process", ", ".join(self.names), self.generation)
            self.positions = self.store.positions(self.generation, self.names)
            return True
        for name in counts:
            self.positions[name] = end
            if self.on_batch:
                self.on_batch(name, self.generation, end, counts[name])
        return True

    def run(self, progress: Callable[[int, int], None] | None = None, transaction: Any = None) -> int:
        """Processes everything up to the head as it is now (read once: a busy log is not
        chased forever); answers the position."""
        head = self.head(transaction)
        while self.position < head:
            if not self.step(head, transaction):
                break
            if progress:
                progress(self.position, head)
        return self.position
