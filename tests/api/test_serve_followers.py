"""`serve` runs its followers (read models, lists, audit tree) in threads of the supervising
process below the priority of everything else (HOUR_LEDGER_FOLLOWER_NICE): a burst of
postings is answered first, and the read models read it just after."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from api.cli import start_followers
from ledger.application import HourLedger
from ledger.config import LedgerSettings

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread has a nice value of its own on Linux")

FOLLOWERS = {"projections-follower", "lists-follower", "audit-follower"}


def priority(thread_id: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, thread_id)


@pytest.mark.parametrize("nice", [10, 0])
def test_the_followers_run_below_the_rest_of_the_process(store_env, nice) -> None:
    ledger = HourLedger(env=store_env, settings=LedgerSettings(follower_nice=nice))
    mine = priority(threading.get_native_id())
    followers = start_followers(ledger)
    try:
        threads = [t for t in threading.enumerate() if t.name in FOLLOWERS]
        assert {t.name for t in threads} == FOLLOWERS
        assert {priority(t.native_id) for t in threads if t.native_id} == {min(19, mine + nice)}
        assert priority(threading.get_native_id()) == mine  # the thread that started them keeps its own
    finally:
        for follower in followers:
            follower.stop()
        ledger.close()
