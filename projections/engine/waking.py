"""How a follower in this process learns that the log has grown, and the loop every follower
runs (the read models', the lists', the audit tree's): catch up, sleep until woken or until
the poll interval has passed, again.

A commit wakes a follower: this process's saves (`HourLedger.wake_on_save`) and, on
PostgreSQL, other processes' (LISTEN/NOTIFY). Woken so, it lets the commits of the next
`follower_coalesce_seconds` (LedgerSettings, 200 ms by default) gather before it reads, so that
a stream of postings is read in slices: each catch-up costs dozens of round trips and
milliseconds of the CPU the writers share, whether it finds one posting or fifty.

A reader waiting for a position (read-your-writes, SPEC §3: `wait_for` after a write's
position) must not pay for that gathering: it `hurry`s the follower, which then reads at
once, and so does stopping it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any


class Wakeup:
    """The follower's alarm: set by commits (`event`, held by the ledger's save hook and the
    store's listener), hurried by waiting readers."""

    def __init__(self, ledger: Any, poll_interval: float, coalesce_seconds: float | None = None) -> None:
        self.poll_interval = poll_interval
        self.coalesce_seconds = (
            float(ledger.settings.follower_coalesce_seconds) if coalesce_seconds is None else coalesce_seconds
        )
        self.event = threading.Event()
        self._hurry = threading.Event()
        ledger.wake_on_save(self.event)

    def wake(self) -> None:
        """Something was committed: read it soon (after the gathering)."""
        self.event.set()

    def hurry(self) -> None:
        """Someone waits for what was committed: read it now."""
        self._hurry.set()
        self.event.set()

    def sleep(self) -> None:
        """Until woken (or the poll interval has passed); once woken by a commit, until the
        gathering time has passed too, unless hurried meanwhile."""
        if self.event.wait(self.poll_interval) and not self._hurry.is_set():
            self._hurry.wait(self.coalesce_seconds)

    def reset(self) -> None:
        """Before a catch-up: what wakes the follower from now on is news to the next one."""
        self.event.clear()
        self._hurry.clear()


def follow(
    catch_up: Callable[[], object],
    wakeup: Wakeup,
    stopping: threading.Event,
    log: logging.Logger,
    name: str,
    *,
    busy: tuple[type[Exception], ...] = (),
) -> None:
    """Catches up and sleeps until `stopping` is set. A failure is logged and tried again after
    a pause that doubles up to 30 s; `busy` errors (another process rebuilding) are tried again
    after the poll interval, without alarm."""
    failures = 0
    while not stopping.is_set():
        wakeup.reset()
        try:
            catch_up()
            failures = 0
        except busy:
            log.info("%s: a rebuild is rewriting the rows; following again after it", name)
            stopping.wait(wakeup.poll_interval)
            continue
        except Exception:  # noqa: BLE001 - a follower keeps following
            failures += 1
            log.exception("%s: catching up failed (attempt %s)", name, failures)
            stopping.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
            continue
        wakeup.sleep()
