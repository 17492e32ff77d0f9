"""A read-model follower whose catch-up fails forgets how far it had got: the read models
commit without waiting for the disk, so a database crash may have lost what it last wrote,
and a reader waiting for a position must not be told it was reached until the follower has
read it again from the positions the store kept. Both stores."""

from __future__ import annotations

import threading

import pytest

from ledger.application import HourLedger
from projections import ReadModels
from projections.engine.runner import Runner
from tests.support.builders import AppWorld, service


def test_after_a_failed_catch_up_a_reader_waits_for_the_next_one(ledger: HourLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    world = AppWorld(ledger)
    volunteer = world.volunteer()
    models = ReadModels(ledger)
    posted = world.post(service(volunteer, volunteer.organization_id, 30))
    assert posted.position is not None
    assert models.catch_up() >= posted.position
    working = Runner.run
    failed = threading.Event()

    def broken(self: Runner, *args: object, **kwargs: object) -> int:
        failed.set()
        raise ConnectionError("the database went away")

    monkeypatch.setattr(Runner, "run", broken)
    models.start()
    try:
        models.follower.wake()
        assert failed.wait(10)
        # The follower is pausing before it tries again: the position is not confirmed.
        assert not models.wait_for(posted.position, timeout=0.2)
        monkeypatch.setattr(Runner, "run", working)
        assert models.wait_for(posted.position, timeout=10)  # read again after the pause
    finally:
        models.stop()
