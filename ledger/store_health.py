"""The store's health, as one long-running process sees it: a probe of PostgreSQL once a
second, and the guard every store call of the ledger goes through. While the database is
down the ledger refuses work at once (503 `store_down`) instead of letting each request
wait out eventsourcing's retries of its connection pool; a call that fails to reach the
store is refused as `store_failed`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError

from ledger.errors import UnavailableError
from ledger.persistence import StoreUnreachableError, check_reachable, is_postgres_env
from ledger.postgres_recorder import BoundedRetries

T = TypeVar("T")


class StoreWatch:
    """Probes PostgreSQL once a second in a background thread, four times a second while it
    is down: recovery is noticed within a quarter of a second."""

    def __init__(self, env: Mapping[str, str], interval: float = 1.0, interval_while_down: float = 0.25) -> None:
        self.env = dict(env)
        self.interval = interval
        self.interval_while_down = interval_while_down
        self.down = False
        self._failed_at = float("-inf")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None and is_postgres_env(self.env):
            self._thread = threading.Thread(target=self._watch, name="store-watch", daemon=True)
            self._thread.start()

    def saw_failure(self) -> None:
        """A call just failed to reach the database: refuse at once until the next probe
        finds it answering, so that one request meets at most one slow failure."""
        if self._thread is not None:
            self._failed_at = time.monotonic()
            self.down = True

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _watch(self) -> None:
        probe = {**self.env, "POSTGRES_CONNECT_TIMEOUT": "1"}
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                check_reachable(probe)
                # A failure seen while this probe ran is newer news than its success.
                if self._failed_at < started:
                    self.down = False
            except StoreUnreachableError:
                self.down = True
            self._stopping.wait(self.interval_while_down if self.down else self.interval)


class StoreHealth:
    """The ledger's guard on its store. Without `watch()` (scripts, tests, one-off commands)
    it only turns store failures into UnavailableError; once watching (a serving process),
    it also refuses at once while the probe sees the database down."""

    def __init__(self, env: Mapping[str, str], recorders: Sequence[Any]) -> None:
        self.env = env
        self.recorders = recorders
        self._watch: StoreWatch | None = None

    def watch(self) -> None:
        """For long-running services: start the probe, and let the recorders' retries give up
        as soon as it sees the database down."""
        if self._watch is None:
            watch = self._watch = StoreWatch(self.env)
            watch.start()
            for recorder in self.recorders:
                if isinstance(recorder, BoundedRetries):
                    recorder.watch_with(lambda: watch.down)

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.stop()

    @property
    def down(self) -> bool:
        """Whether the probe last saw the database down (never, when not watching)."""
        return self._watch is not None and self._watch.down

    def refuse_if_down(self) -> None:
        """Raises UnavailableError (`store_down`, a 503) while the probe sees the database down."""
        if self.down:
            raise UnavailableError("store_down")

    def guard(self, call: Callable[[], T], reraise: tuple[type[Exception], ...] = ()) -> T:
        """`call()`, refused at once while the store is down. Raises UnavailableError
        (`store_down`, or `store_failed` when the call fails to reach the store); the
        exceptions in `reraise` pass through as they are."""
        self.refuse_if_down()
        try:
            return call()
        except reraise:
            raise
        except (OperationalError, PersistenceError) as error:
            if self._watch is not None and isinstance(error, (OperationalError, InterfaceError)):
                self._watch.saw_failure()
            raise UnavailableError("store_failed", error=type(error).__name__) from error
