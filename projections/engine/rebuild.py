"""Rebuilding the read models into a new generation of tables while the current one keeps
serving, then switching to it atomically and dropping the old one (docs/projections.md,
"Rebuilds and generations")."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ledger.errors import UnavailableError
from projections.engine.bulk import BulkPlan
from projections.engine.runner import Projection, Runner
from projections.engine.store import ReadModelStore

log = logging.getLogger("projections")


def rebuild(
    ledger: Any,
    store: ReadModelStore,
    projections: Sequence[Projection],
    plans: Sequence[BulkPlan],
    *,
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
    stage: Callable[[str], None] | None = None,
    bulk: bool = True,
    work_mem: str = "1GB",
) -> int:
    """Rebuilds every read model from the first event; answers the position reached.

    Where the store has a bulk path (PostgreSQL) it loads the log with the read models' bulk
    `plans` as far as its snapshot saw, then the projections process the rest; `bulk=False`
    makes them process it all."""
    say = stage or (lambda text: None)
    names = [p.name for p in projections]
    generation = store.guarded(lambda: store.begin_generation(names))
    try:
        if bulk:
            store.bulk_load(generation, names, plans, progress, stage, work_mem=work_mem)
        runner = Runner(ledger, store, projections, generation, "building", batch_size=batch_size)
        say("reading the log")
        runner.run(progress)
        say("analysing the new tables")
        store.analyze(generation)
        # Close the gap outside any lock first; then the last few events inside the switch,
        # while the current generation cannot move: positions never go backwards.
        while runner.head() - runner.run(progress) > batch_size:
            pass
        say("switching")
        replaced = store.switch_generation(
            generation, names, final=lambda transaction: runner.run(progress, transaction)
        )
        if replaced is None:  # pragma: no cover - final() caught up under the lock
            raise UnavailableError("rebuild_catch_up")
    except BaseException:
        try:
            store.drop_generation(generation, names)
        except Exception:  # noqa: BLE001
            log.exception("projections: dropping the unfinished generation %s failed", generation)
        raise
    if replaced:
        store.drop_generation(replaced, names)
    position = runner.position
    if progress:
        progress(position, max(position, runner.head()))
    return position
