"""The ledger's PostgreSQL recorders: eventsourcing's own, with their retries bounded in time.

eventsourcing retries a failed statement ten times, 0.2 s apart, and each attempt may wait for
a pooled connection: a request caught by a database going away could wait twenty seconds and
more for its 503. Here each call retries only while `RETRY_WITHIN` lasts, and each attempt
waits for a connection at most the pool's timeout (the URL's `connect_timeout`, 2 s by
default): a request is answered within about three seconds whatever the database does.
(`persistence_env` names `LedgerPostgresFactory` as eventsourcing's PERSISTENCE_MODULE.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder, PostgresFactory

T = TypeVar("T")

RETRY_WITHIN = 0.8  # seconds for the retries of one call; an attempt may add a pool wait (2 s)
RETRY_PAUSE = 0.1


def within_bound(call: Callable[[], T], store_down: Callable[[], bool]) -> T:
    """`call()`, again after a connection failure while the bound allows; at once an error
    while the service has seen the database down (a call that waited on another's failure,
    for a lock or a connection, does not wait again)."""
    deadline = time.monotonic() + RETRY_WITHIN
    while True:
        if store_down():
            raise OperationalError("the database was seen down a moment ago")
        try:
            return call()
        except (InterfaceError, OperationalError):
            pause = RETRY_PAUSE * random.uniform(0.8, 1.2)
            if time.monotonic() + pause >= deadline:
                raise
            time.sleep(pause)


# The library's statements themselves, without its retry decorators.
_insert_events = PostgresApplicationRecorder.insert_events.__wrapped__  # type: ignore[attr-defined]
_select_events = PostgresAggregateRecorder.select_events.__wrapped__  # type: ignore[attr-defined]
_insert_aggregate_events = PostgresAggregateRecorder.insert_events.__wrapped__  # type: ignore[attr-defined]
_select_notifications = PostgresApplicationRecorder.select_notifications.__wrapped__  # type: ignore[attr-defined]
_max_notification_id = PostgresApplicationRecorder.max_notification_id.__wrapped__  # type: ignore[attr-defined]


def never_down() -> bool:
    return False


class BoundedRetries:
    """What both recorders share: how they learn that the service saw the database down."""

    store_down: Callable[[], bool] = staticmethod(never_down)

    def watch_with(self, store_down: Callable[[], bool]) -> None:
        self.store_down = store_down


class LedgerPostgresRecorder(BoundedRetries, PostgresApplicationRecorder):
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        return within_bound(lambda: _insert_events(self, stored_events, **kwargs), self.store_down)

    def select_events(self, originator_id: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        return within_bound(lambda: _select_events(self, originator_id, **kwargs), self.store_down)

    def select_notifications(self, start: int | None, limit: int, stop: int | None = None,
                             topics: Sequence[str] = (), *, inclusive_of_start: bool = True) -> Sequence[Notification]:
        return within_bound(lambda: _select_notifications(
            self, start, limit, stop, topics, inclusive_of_start=inclusive_of_start), self.store_down)

    def max_notification_id(self) -> int | None:
        return within_bound(lambda: _max_notification_id(self), self.store_down)


class LedgerSnapshotRecorder(BoundedRetries, PostgresAggregateRecorder):
    """Snapshots: read before the events on every load of a snapshotted aggregate."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        return within_bound(lambda: _insert_aggregate_events(self, stored_events, **kwargs), self.store_down)

    def select_events(self, originator_id: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        return within_bound(lambda: _select_events(self, originator_id, **kwargs), self.store_down)


class LedgerPostgresFactory(PostgresFactory):
    aggregate_recorder_class = LedgerSnapshotRecorder
    application_recorder_class = LedgerPostgresRecorder
