"""ReadModels: what the HTTP layer and the command line call — one object for every read
model of a ledger, in the same store (database file or schema).

A thin front: following the log, waiting and rebuilding are the engine's
(`projections/engine/`); each question is its read model's (`projections/balances/`,
`projections/statistics/`). See docs/projections.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from projections.balances.bulk import BalancesBulk
from projections.balances.projection import BalancesProjection
from projections.balances.queries import BalanceQueries
from projections.engine.follower import Follower
from projections.engine.reads import Reads
from projections.engine.rebuild import rebuild
from projections.engine.runner import DEFAULT_BATCH_SIZE, BatchDone
from projections.engine.stores import open_store
from projections.statistics.bulk import StatisticsBulk
from projections.statistics.projection import StatisticsProjection
from projections.statistics.queries import StatisticsQueries


class ReadModels:
    """Read models of one HourLedger, in the same store (database file or schema)."""

    def __init__(
        self,
        ledger: Any,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_interval: float | None = None,
        on_batch: BatchDone | None = None,
    ) -> None:
        self.ledger = ledger
        thresholds = tuple(ledger.settings.star_thresholds_minutes)
        self.projections = [BalancesProjection(), StatisticsProjection(thresholds)]
        self.bulk_plans = [BalancesBulk(), StatisticsBulk(thresholds)]
        self.names = [p.name for p in self.projections]
        self.batch_size = batch_size
        self.store = open_store(ledger.recorder, [t for p in self.projections for t in p.tables])
        self.store.guarded(lambda: self.store.setup(self.names))
        self.follower = Follower(
            ledger, self.store, self.projections,
            batch_size=batch_size, poll_interval=poll_interval, on_batch=on_batch,
        )
        self.reads = Reads(ledger, self.store, self.follower)
        self.balances = BalanceQueries(ledger, self.reads, thresholds)
        self.statistics = StatisticsQueries(self.reads)

    # Following ---------------------------------------------------------------------------

    def start(self) -> None:
        """Follows the log in a background (daemon) thread; does nothing if already following."""
        self.follower.start()

    def stop(self) -> None:
        self.follower.stop()

    @property
    def following(self) -> bool:
        return self.follower.following

    def follow(self, stopping: threading.Event) -> None:
        """Follows in this thread until `stopping` is set (the command line's `follow`)."""
        self.follower.follow(stopping)

    def catch_up(self) -> int:
        """Processes everything recorded so far, in this thread; answers the position."""
        return self.follower.catch_up()

    def position(self) -> int:
        """The last notification id every read model has processed."""
        return self.follower.position()

    def wait_for(self, position: int, timeout: float) -> bool:
        """True once the read models have processed `position` (False after `timeout` seconds)."""
        return self.follower.wait_for(position, timeout)

    # Questions ---------------------------------------------------------------------------

    def balance(
        self,
        volunteer_id: UUID,
        as_of: datetime | None = None,
        *,
        min_position: int | None = None,
        wait: float | None = None,
    ) -> dict[str, Any] | None:
        return self.balances.balance(volunteer_id, as_of, min_position=min_position, wait=wait)

    def replayed_balance(self, volunteer_id: UUID, as_of: datetime | None = None) -> dict[str, Any] | None:
        return self.balances.replayed_balance(volunteer_id, as_of)

    def statement(
        self,
        volunteer_id: UUID,
        book: str,
        from_: datetime | None,
        to: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> dict[str, Any] | None:
        return self.balances.statement(volunteer_id, book, from_, to, cursor, limit)

    def summary(self, region: str | None, from_: date | None, to: date | None) -> dict[str, Any]:
        return self.statistics.summary(region, from_, to)

    def breakdown(
        self, by: str, level: str | None, region: str | None, from_: date | None, to: date | None
    ) -> dict[str, Any]:
        return self.statistics.breakdown(by, level, region, from_, to)

    # Operations --------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Each read model's generation, state, position, the log's head and the lag."""
        return self.follower.status()

    def rebuild(
        self,
        progress: Callable[[int, int], None] | None = None,
        batch_size: int | None = None,
        stage: Callable[[str], None] | None = None,
        bulk: bool = True,
    ) -> int:
        """Rebuilds every read model from the first event into new tables while the current
        ones keep serving, switches to them atomically, and drops the old ones.

        Where the store has a bulk path (PostgreSQL) it loads the log as far as its snapshot
        saw, then the projections process the rest; `bulk=False` makes them process it all."""
        position = rebuild(
            self.ledger, self.store, self.projections, self.bulk_plans,
            batch_size=batch_size or max(self.batch_size, self.store.rebuild_batch_size),
            progress=progress, stage=stage, bulk=bulk, work_mem=self.ledger.settings.rebuild_work_mem,
        )
        self.follower.advance(position)
        self.follower.wake()
        return position

    # Tests and tools ---------------------------------------------------------------------

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every read-model table of the current generation (names without the
        generation), for comparing generations."""
        return self.reads.read(lambda r: {t.name: r.dump(t) for t in self.store.tables})

    def close(self) -> None:
        self.stop()
