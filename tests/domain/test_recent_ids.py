"""The ids a process met lately: the last ones kept, the oldest forgotten first."""

from __future__ import annotations

import threading
from uuid import uuid4

from ledger.recent_ids import RecentIds


def test_the_last_ids_added_are_known_and_the_oldest_forgotten_first():
    recent = RecentIds(3)
    first, second, third, fourth = (uuid4() for _ in range(4))
    for id in (first, second, third):
        recent.add(id)
    assert first in recent and third in recent

    recent.add(fourth)

    assert first not in recent
    assert second in recent and third in recent and fourth in recent
    assert uuid4() not in recent


def test_threads_adding_at_once_keep_it_to_its_size():
    recent = RecentIds(100)
    added = [[uuid4() for _ in range(1_000)] for _ in range(4)]
    threads = [threading.Thread(target=lambda ids=ids: [recent.add(id) for id in ids]) for ids in added]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    known = [id for ids in added for id in ids if id in recent]
    assert len(known) == 100
