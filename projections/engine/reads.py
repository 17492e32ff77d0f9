"""Reading the read models: questions asked in one snapshot of the current generation, asked
again when a rebuild switches generations under them, and the one-statement read of a row
that is as current as the caller needs (`caught_up_glance`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ledger.errors import UnavailableError
from projections.engine.follower import Follower
from projections.engine.store import GenerationChanged, Glance, Reader, ReadModelStore
from projections.engine.tables import Table

T = TypeVar("T")
ATTEMPTS = 3


class Reads:
    """Consistent reads of the current generation, for the read models' queries."""

    def __init__(self, ledger: Any, store: ReadModelStore, follower: Follower) -> None:
        self.ledger = ledger
        self.store = store
        self.follower = follower

    def read(self, question: Callable[[Reader], T]) -> T:
        """`question(reader)` in one snapshot of the current generation; asked again if a
        rebuild switched generations meanwhile (the old tables may be gone by then)."""

        def ask() -> T:
            with self.store.reading() as reader:
                return question(reader)

        return self.again_if_moved(ask)

    def again_if_moved(self, read: Callable[[], T]) -> T:
        """`read()`; again if a rebuild switched generations under it. The database's errors
        (and a generation that keeps moving) are UnavailableError."""
        self.ledger.store_health.refuse_if_down()
        for attempt in range(ATTEMPTS):
            try:
                return self.store.guarded(read)
            except GenerationChanged as error:
                if attempt == ATTEMPTS - 1:
                    raise UnavailableError("read_models_failed", error=type(error).__name__) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def caught_up_glance(
        self, table: Table, key: tuple[Any, ...], names: Sequence[str], min_position: int | None, wait: float
    ) -> Glance:
        """A row of a read model, read once `names` have processed `min_position` (else, after
        up to `wait` seconds, UnavailableError), or without it the head of the log as this read
        finds it (else, after up to `wait` seconds, what they hold then): a client sees every
        write that finished before its read unless the follower is far behind.

        One statement when the read models are up to date (the row, the head and the
        position come from one snapshot); only a follower behind makes it wait and read again."""

        def read() -> Glance:
            return self.store.glance(table, key, names)

        glance = self.again_if_moved(read)
        target = glance.head if min_position is None else min_position
        if glance.position < target:
            self.follower.wait_for(target, wait)
            glance = self.again_if_moved(read)
        if min_position is not None and glance.position < min_position:
            raise UnavailableError(
                "read_models_behind", position=glance.position, wanted=min_position
            )
        return glance
