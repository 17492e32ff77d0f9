"""The demo data set: reproducible, and every transaction in it passes the ledger's rules."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ledger.application import HourLedger
from ledger.demo import DemoAlreadyLoadedError, demo_id, load_demo
from tests.support.served import hour_ledger
from ledger.transaction import Transaction

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}


def transactions_of(ledger: HourLedger) -> dict:
    found = {}
    for n in range(1, 10_000):
        transaction = ledger.repository.get(demo_id(2021, "tx", n)) if demo_id(2021, "tx", n) in ledger.repository else None
        if transaction is None:
            break
        assert isinstance(transaction, Transaction)
        found[transaction.id] = (transaction.type, transaction.content, transaction.legs)
    return found


def test_the_demo_loads_without_refusals_and_is_the_same_every_time() -> None:
    first, second = HourLedger(env=MEMORY), HourLedger(env=dict(MEMORY, SQLITE_DBNAME="file:second?mode=memory&cache=shared"))
    report = load_demo(first, scale=1)
    again = load_demo(second, scale=1)

    assert report.refused == 0
    assert report.volunteers == 100 and report.transactions > 3000
    assert again == report
    assert transactions_of(first) == transactions_of(second)
    assert len(transactions_of(first)) == report.transactions


def test_loading_the_same_demo_again_writes_nothing_and_says_so() -> None:
    ledger = HourLedger(env=dict(MEMORY, SQLITE_DBNAME="file:twice?mode=memory&cache=shared"))
    load_demo(ledger, scale=1)
    head = ledger.head_position()

    with pytest.raises(DemoAlreadyLoadedError):
        load_demo(ledger, scale=1)
    assert ledger.head_position() == head  # not one event: stock and accounts untouched

    other = load_demo(ledger, scale=1, seed=7)  # another seed: a separate data set beside it
    assert other.refused == 0 and other.volunteers == 100
    assert ledger.head_position() > head


def test_the_demo_command_run_twice_prints_how_to_look_and_then_that_it_is_there(tmp_path: Path) -> None:
    env = {**os.environ, "HOUR_LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    run = lambda: subprocess.run([*hour_ledger(), "demo"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)  # noqa: E731

    first = run()
    assert first.returncode == 0, first.stderr
    assert "Loaded 26 organisations, 100 volunteers" in first.stdout
    assert str(demo_id(2021, "volunteer", 0)) in first.stdout
    assert "api-keys create --role operator" in first.stdout

    second = run()
    assert second.returncode == 0, second.stderr
    assert "already loaded" in second.stdout and "--seed 2022" in second.stdout
    assert "Traceback" not in second.stdout + second.stderr
