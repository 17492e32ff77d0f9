"""The followers read commits in slices (projections/engine/waking.py): woken by a save, they
let the next commits gather before reading them (here for 30 s, far longer than any test
waits), yet a reader waiting for its own write's position is answered at once (SPEC §3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger.application import HourLedger
from ledger.config import LedgerSettings
from projections import ReadModels
from projections.lists.lists import Lists
from tests.support.builders import AppWorld, service

GATHERING = 30.0  # seconds a woken follower would let commits gather


@pytest.fixture
def app(store_env: dict[str, str]) -> Iterator[HourLedger]:
    ledger = HourLedger(env=store_env, settings=LedgerSettings(follower_coalesce_seconds=GATHERING))
    try:
        yield ledger
    finally:
        ledger.close()


@pytest.mark.parametrize("follower", [ReadModels, Lists])
def test_a_reader_waiting_for_its_position_does_not_wait_for_the_gathering(app: HourLedger, follower: Any) -> None:
    world = AppWorld(app)
    volunteer = world.volunteer()
    models = follower(app)
    models.start()
    try:
        assert models.wait_for(app.head_position(), timeout=10)
        posted = world.post(service(volunteer, volunteer.organization_id, 30))  # wakes it: it gathers
        assert posted.position is not None
        assert models.wait_for(posted.position, timeout=10)  # well before the 30 s are over
    finally:
        models.stop()
    assert not models.following


def test_a_burst_of_postings_is_read_in_fewer_catch_ups_than_postings(app: HourLedger) -> None:
    world = AppWorld(app)
    volunteer = world.volunteer()
    batches: list[int] = []
    models = ReadModels(app, on_batch=lambda name, generation, position, events: batches.append(events) if name == "balances" else None)
    models.start()
    try:
        assert models.wait_for(app.head_position(), timeout=10)
        batches.clear()
        burst = [world.post(service(volunteer, volunteer.organization_id, 30)) for _ in range(8)]
        assert models.wait_for(max(p.position or 0 for p in burst), timeout=10)
    finally:
        models.stop()
    # All eight in one slice (two if the first came while the previous catch-up was ending);
    # without the gathering this machine read them in five.
    catch_ups = [events for events in batches if events]
    assert sum(catch_ups) == 8 and len(catch_ups) <= 2, catch_ups
