"""The demo data set: reproducible, and every transaction in it passes the ledger's rules."""

from __future__ import annotations

from ledger.application import HourLedger
from ledger.demo import demo_id, load_demo
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
