"""`hour-ledger projections follow` stops on SIGTERM or Ctrl-C whenever the signal comes: its
handler leaves the stopping to a thread of its own, for the signal may come while the main
thread is inside one of the threading.Events that stopping sets (their lock is not reentrant:
a follower once hung there until killed)."""

from __future__ import annotations

import signal
import threading

import pytest

from projections.cli import stop_on_signal

WITHIN = 10.0  # seconds; a handler that waited for the held lock would wait forever


def test_a_signal_that_comes_while_the_stop_would_wait_is_answered_at_once_and_stops_after() -> None:
    held = threading.Lock()
    held.acquire()  # as the main thread holds an Event's lock when the signal comes
    stopped = threading.Event()

    def stop() -> None:
        with held:
            stopped.set()

    handler = stop_on_signal(stop, threading.Event())
    answered = threading.Event()
    caller = threading.Thread(target=lambda: (handler(signal.SIGTERM, None), answered.set()), daemon=True)
    caller.start()
    assert answered.wait(WITHIN), "the handler waited for the lock the interrupted thread holds"
    assert not stopped.is_set()
    held.release()  # the main thread goes on, and lets go
    assert stopped.wait(WITHIN)


def test_a_second_ctrl_c_quits_at_once() -> None:
    stopping = threading.Event()
    stopping.set()
    handler = stop_on_signal(lambda: None, stopping)
    with pytest.raises(KeyboardInterrupt):
        handler(signal.SIGINT, None)
