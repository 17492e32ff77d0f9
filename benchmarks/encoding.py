"""Writing and reading the events' stored state (issue 11, item 4): the ledger's transcoder
(ledger/encoding.py) beside eventsourcing's JSONTranscoder, on every event of the demo data
set (100 volunteers, ~7,500 events of every kind), in CPU microseconds per event: encode,
decode, and both; and the json text alone (json.dumps/loads of the same values, no typed
values) as the floor of what the library's way costs. The best of several rounds."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from benchmarks.common import console, report
from ledger.application import HourLedger
from ledger.config import LedgerSettings
from ledger.demo import load_demo
from ledger.encoding import LedgerTranscoder

ROUNDS = 7


def run() -> None:
    ledger = HourLedger(settings=LedgerSettings(database_url="sqlite:///:memory:"))
    load_demo(ledger, scale=1)
    states = [n.state for n in ledger.recorder.select_notifications(start=1, limit=1_000_000)]
    ledger.close()
    library, mine = JSONTranscoder(), LedgerTranscoder()
    for transcoder in (library, mine):
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            transcoder.register(transcoding)
    values = [library.decode(state) for state in states]
    assert all(mine.encode(value) == state for value, state in zip(values, states))
    plain = [json.loads(state) for state in states]  # typed values as their {"_type_"} objects

    def per_event(work: Callable[[], Any]) -> float:
        best = float("inf")
        for _ in range(ROUNDS):
            started = time.thread_time()
            work()
            best = min(best, time.thread_time() - started)
        return best / len(states) * 1e6

    figures = {}
    for name, transcoder in (("library", library), ("ledger", mine)):
        figures[name] = (
            per_event(lambda: [transcoder.encode(v) for v in values]),
            per_event(lambda: [transcoder.decode(s) for s in states]),
        )
    json_text = (
        per_event(lambda: [json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode() for p in plain]),
        per_event(lambda: [json.loads(s) for s in states]),
    )
    lib, led = figures["library"], figures["ledger"]
    console.print(f"{len(states)} events, {sum(map(len, states)) // len(states)} bytes each on average")
    report(
        "Event state, CPU µs per event (ledger's transcoder | eventsourcing's JSONTranscoder)",
        [
            ("encode", f"{led[0]:.2f}", f"{lib[0]:.2f}"),
            ("decode", f"{led[1]:.2f}", f"{lib[1]:.2f}"),
            ("encode + decode", f"{sum(led):.2f}", f"{sum(lib):.2f}"),
            ("speed-up", f"{sum(lib) / sum(led):.2f}×", "1×"),
            ("json text alone (no typed values)", "", f"{sum(json_text):.2f}"),
        ],
    )
