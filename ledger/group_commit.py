"""Group commit: the saves of concurrent use cases in one process share one store transaction.

Each use case has already been checked by the rules on its own; what is shared is only the
insert. The first save to arrive writes at once (no added latency when one client posts);
saves arriving while it writes wait, and the next of them writes all that gathered meanwhile,
in one round trip. When the shared insert meets a conflict (some version or id is taken), each
save of the group is written alone, so that the one in conflict fails and the others do not.

The store's table lock lets one insert in at a time anyway: writing a group costs hardly more
than writing one save, and the notification ids stay in commit order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eventsourcing.persistence import IntegrityError, StoredEvent

Insert = Callable[[Sequence[StoredEvent]], Sequence[int] | None]

MAX_GROUP_EVENTS = 5_000  # a group no larger than a few atomic batches


@dataclass
class PendingSave:
    events: Sequence[StoredEvent]
    positions: list[int] | None = None
    error: BaseException | None = None
    done: bool = False

    def outcome(self) -> list[int]:
        if self.error is not None:
            raise self.error
        assert self.positions is not None
        return self.positions


@dataclass
class GroupCommit:
    """Writes stored events through `insert`, sharing store transactions between threads."""

    insert: Insert
    max_events: int = MAX_GROUP_EVENTS
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _waiting: list[PendingSave] = field(default_factory=list)
    _writing: bool = False

    @property
    def waiting(self) -> int:
        """Saves queued behind the one being written."""
        with self._lock:
            return len(self._waiting)

    def save(self, events: Sequence[StoredEvent]) -> list[int]:
        """The events' notification ids, in order, once they are committed."""
        pending = PendingSave(events)
        with self._lock:
            self._waiting.append(pending)
        while True:
            with self._lock:
                while self._writing and not pending.done:
                    self._lock.wait()
                if pending.done:
                    return pending.outcome()
                # This thread writes next: the saves at the head of the queue, as many as a
                # group holds. Its own may not be among them (a group is full): then round again.
                self._writing = True
                group = self._take_group()
            try:
                self._write(group)
            finally:
                with self._lock:
                    self._writing = False
                    self._lock.notify_all()

    def _take_group(self) -> list[PendingSave]:
        group, size = [], 0
        while self._waiting and (not group or size + len(self._waiting[0].events) <= self.max_events):
            pending = self._waiting.pop(0)
            group.append(pending)
            size += len(pending.events)
        return group

    def _write(self, group: list[PendingSave]) -> None:
        try:
            if len(group) == 1:
                self._write_alone(group[0])
                return
            try:
                positions = list(self.insert([e for pending in group for e in pending.events]) or [])
            except IntegrityError:
                for pending in group:
                    self._write_alone(pending)
                return
            except BaseException as error:
                for pending in group:
                    pending.error = error
                return
            start = 0
            for pending in group:
                pending.positions = positions[start : start + len(pending.events)]
                start += len(pending.events)
        finally:
            with self._lock:
                for pending in group:
                    pending.done = True

    def _write_alone(self, pending: PendingSave) -> None:
        try:
            pending.positions = list(self.insert(pending.events) or [])
        except BaseException as error:
            pending.error = error
