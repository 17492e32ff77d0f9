"""The ids a process met lately, the oldest forgotten first: bounded memory, safe across threads."""

from __future__ import annotations

import threading
from uuid import UUID


class RecentIds:
    """The last `size` ids added, kept as their 128-bit numbers (about 5 MB for 100,000; as
    UUIDs in eventsourcing's LRU cache, 24 MB)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: dict[int, None] = {}  # in the order added: the first is the oldest
        self._adding = threading.Lock()

    def add(self, id: UUID) -> None:
        with self._adding:
            self._ids[id.int] = None
            if len(self._ids) > self.size:
                del self._ids[next(iter(self._ids))]

    def __contains__(self, id: UUID) -> bool:
        return id.int in self._ids
