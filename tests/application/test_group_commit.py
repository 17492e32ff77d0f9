"""Group commit: saves arriving while one is written share the next store transaction; a
conflict in a group is settled save by save; one save alone is written at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.group_commit import GroupCommit


def event(version: int = 1) -> StoredEvent:
    return StoredEvent(originator_id=uuid4(), originator_version=version, topic="t", state=b"{}")


class FakeStore:
    """Numbers rows as a log does; refuses a transaction holding a taken (id, version)."""

    def __init__(self) -> None:
        self.transactions: list[list[StoredEvent]] = []
        self.keys: set[tuple[object, int]] = set()
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()

    def insert(self, events: Sequence[StoredEvent]) -> list[int]:
        self.entered.set()
        assert self.hold.wait(10)
        keys = [(e.originator_id, e.originator_version) for e in events]
        if len(set(keys)) < len(keys) or self.keys.intersection(keys):
            raise IntegrityError("taken")
        self.keys.update(keys)
        self.transactions.append(list(events))
        first = sum(len(t) for t in self.transactions) - len(events) + 1
        return list(range(first, first + len(events)))


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.001)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def test_a_save_alone_is_written_at_once_in_a_transaction_of_its_own(store):
    commit = GroupCommit(store.insert)
    events = [event(), event()]

    assert commit.save(events) == [1, 2]
    assert store.transactions == [events]


def test_saves_arriving_while_one_is_written_share_the_next_transaction(store):
    commit = GroupCommit(store.insert)
    store.hold.clear()
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(commit.save, [event()])
        assert store.entered.wait(10)  # the first save is being written
        later: list[Future[list[int]]] = [pool.submit(commit.save, [event(), event()]) for _ in range(3)]
        wait_until(lambda: commit.waiting == 3)
        store.hold.set()
        answers = [first.result(10)] + [f.result(10) for f in later]

    assert [len(t) for t in store.transactions] == [1, 6]
    assert sorted(p for a in answers for p in a) == list(range(1, 8))
    assert all(a[1] == a[0] + 1 for a in answers[1:])  # each save's events stay together, in order


def test_a_save_left_out_of_a_full_group_is_written_by_a_later_one(store):
    """Whichever waiting thread writes next takes the head of the queue, which may not hold its
    own save: it must not answer before its own save is written."""
    for _ in range(20):  # which thread writes next is up to the scheduler: give each a chance
        commit = GroupCommit(store.insert, max_events=2)
        store.hold.clear()
        store.entered.clear()
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(commit.save, [event()])
            assert store.entered.wait(10)
            later = [pool.submit(commit.save, [event(), event()]) for _ in range(3)]  # one per group
            wait_until(lambda: commit.waiting == 3)
            store.hold.set()
            answers = [first.result(10)] + [f.result(10) for f in later]
        assert all(len(a) == len(set(a)) and a for a in answers)
        assert len({p for a in answers for p in a}) == 7


def test_a_conflict_in_a_group_fails_only_the_save_that_conflicts(store):
    commit = GroupCommit(store.insert)
    taken = event()
    commit.save([taken])
    store.hold.clear()
    store.entered.clear()
    with ThreadPoolExecutor(4) as pool:
        blocker = pool.submit(commit.save, [event()])
        assert store.entered.wait(10)
        good = pool.submit(commit.save, [event()])
        bad = pool.submit(commit.save, [event(), StoredEvent(taken.originator_id, 1, "t", b"{}")])
        also_good = pool.submit(commit.save, [event()])
        wait_until(lambda: commit.waiting == 3)
        store.hold.set()
        blocker.result(10)
        assert len(good.result(10)) == len(also_good.result(10)) == 1
        with pytest.raises(IntegrityError):
            bad.result(10)

    assert sum(len(t) for t in store.transactions) == 4  # nothing of the conflicting save


def test_an_error_of_the_store_reaches_every_save_of_the_group(store):
    def broken(events: Sequence[StoredEvent]) -> list[int]:
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        GroupCommit(broken).save([event()])
