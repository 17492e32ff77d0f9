"""Following the log in this process: the current generation's projections kept up to the head
by a background thread (or the caller's, for `projections follow`), and read-your-writes waits.

Consistency: eventually consistent with the ledger, with read-your-writes through positions:
every transaction's response carries its position; `wait_for(position, timeout)` answers once
the read models have processed it (a condition variable, woken by each committed batch).

The follower reads commits in slices (projections/engine/waking.py): woken by one, it lets the
next moment's gather; a `wait_for` hurries it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from ledger.errors import UnavailableError
from projections.engine.runner import DEFAULT_BATCH_SIZE, BatchDone, Projection, Runner
from projections.engine.store import GenerationChanged, ReadModelStore
from projections.engine.waking import Wakeup, follow

log = logging.getLogger("projections")


class Follower:
    """Keeps the current generation of `projections` up to the head of the ledger's log."""

    def __init__(
        self,
        ledger: Any,
        store: ReadModelStore,
        projections: Sequence[Projection],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_interval: float | None = None,
        on_batch: BatchDone | None = None,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.projections = list(projections)
        self.names = [p.name for p in self.projections]
        self.batch_size = batch_size
        self.on_batch = on_batch
        # SQLite is polled (other processes' writes); PostgreSQL notifies, the poll is a fallback.
        self.poll_interval = poll_interval or (2.0 if store.supports_notifications else 0.25)
        self._runner: Runner | None = None
        self._lock = threading.RLock()  # one catch-up at a time in this process
        self._state = threading.Lock()  # starting and stopping
        self._changed = threading.Condition()
        self._known = 0
        self._wakeup = Wakeup(ledger, self.poll_interval)  # this process's saves wake it
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # Following ---------------------------------------------------------------------------

    def start(self) -> None:
        """Follows the log in a background (daemon) thread; does nothing if already following."""
        with self._state:
            if self.following:
                return
            self._stopping = threading.Event()
            threads = [threading.Thread(target=self._follow, args=(self._stopping,), name="projections-follower", daemon=True)]
            if self.store.supports_notifications:
                threads.append(threading.Thread(
                    target=self.store.listen, args=(self._wakeup.event, self._stopping),
                    name="projections-listener", daemon=True,
                ))
            self._threads = threads
            for thread in threads:
                thread.start()


    def wake(self) -> None:
        """Makes the follower look at the log now rather than at its next poll."""
        self._wakeup.hurry()

    def stop(self) -> None:
        with self._state:
            stopping, threads = self._stopping, self._threads
            self._threads = []
        stopping.set()
        self._wakeup.hurry()
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()

    @property
    def following(self) -> bool:
        return any(t.is_alive() for t in self._threads) and not self._stopping.is_set()

    def _follow(self, stopping: threading.Event) -> None:
        follow(self.catch_up, self._wakeup, stopping, log, "projections")

    def follow(self, stopping: threading.Event) -> None:
        """Follows in this thread until `stopping` is set (the command line's `follow`)."""
        with self._state:
            if self.following:
                raise RuntimeError("already following in a background thread")
            self._stopping = stopping
        listener = None
        if self.store.supports_notifications:
            listener = threading.Thread(
                target=self.store.listen, args=(self._wakeup.event, stopping), name="projections-listener", daemon=True
            )
            listener.start()
        try:
            self._follow(stopping)
        finally:
            stopping.set()
            if listener:
                listener.join()

    def catch_up(self) -> int:
        """Processes everything recorded so far, in this thread; answers the position."""
        with self._lock:
            for _ in range(10):
                runner = self._current_runner()
                try:
                    position = runner.run()
                except Exception as error:
                    # The next attempt starts from the positions the store kept, not from this
                    # runner's: a server crash loses the last commits (the read models commit
                    # without waiting for the disk), rows and positions together. Readers are
                    # told again only what the next attempt reads.
                    self._runner = None
                    self._forget_known()
                    # A rebuild switched generations (the old tables may be gone): follow the new.
                    if isinstance(error, GenerationChanged) or self.store.moved(runner.generation):
                        continue
                    raise
                self.advance(position)
                return position
            raise UnavailableError("read_models_generation")

    def _current_runner(self) -> Runner:
        if self._runner is None:
            generation = self.current_generation()
            self._runner = Runner(
                self.ledger, self.store, self.projections, generation, "current",
                batch_size=self.batch_size, on_batch=self._batch_done,
            )
        return self._runner

    def current_generation(self) -> int:
        for generation, state in self.store.generations():
            if state == "current":
                return generation
        return self.store.setup(self.names)

    def _batch_done(self, name: str, generation: int, position: int, events: int) -> None:
        runner = self._runner
        if runner is not None:
            self.advance(runner.position)
        if self.on_batch:
            self.on_batch(name, generation, position, events)

    def _forget_known(self) -> None:
        with self._changed:
            self._known = 0

    def advance(self, position: int) -> None:
        """Records that every read model has processed `position`: waiters up to it go on."""
        with self._changed:
            if position > self._known:
                self._known = position
            self._changed.notify_all()

    # Positions ---------------------------------------------------------------------------

    def position(self) -> int:
        """The last notification id every read model has processed."""
        generation = self.store.guarded(self.current_generation)
        position = min(self.store.guarded(lambda: self.store.positions(generation, self.names)).values())
        self.advance(position)
        return position

    def wait_for(self, position: int, timeout: float) -> bool:
        """True once the read models have processed `position` (False after `timeout` seconds)."""
        if position <= self._known:
            return True
        deadline = time.monotonic() + max(0.0, timeout)
        if not self.following:
            # Nobody follows in this process: perhaps another process did it; else catch up
            # here (or wait for the thread that is).
            if self.position() >= position:
                return True
            if self._lock.acquire(timeout=max(0.0, timeout)):
                try:
                    self.store.guarded(self.catch_up)
                finally:
                    self._lock.release()
            if position <= self._known:
                return True
        self._wakeup.hurry()
        with self._changed:
            return self._changed.wait_for(
                lambda: self._known >= position, timeout=max(0.0, deadline - time.monotonic())
            )

    def status(self) -> list[dict[str, Any]]:
        """Each projection of each generation: its state, position, the log's head and the lag."""
        head = int(self.store.guarded(self.ledger.head_position) or 0)
        rows = []
        for generation, state in self.store.guarded(self.store.generations):
            positions = self.store.guarded(lambda g=generation: self.store.positions(g, self.names))
            for name in self.names:
                rows.append({
                    "name": name,
                    "generation": generation,
                    "state": state,
                    "position": positions[name],
                    "head_position": head,
                    "lag": max(0, head - positions[name]),
                })
        return rows
