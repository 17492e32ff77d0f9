"""Balances, as-of balances and statements from the read models, on SQLite and PostgreSQL:
paging, running balances, exact as_of boundaries, the auditor's replay, read-your-writes under
concurrent writers, and (hypothesis) agreement with the aggregates after any operations."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.commands import (
    DepositTimebank,
    DonateTimebank,
    GrantTimebank,
    RecordService,
    Redeem,
    RedemptionLine,
    Reverse,
    TransferTimebank,
    WithdrawTimebank,
)
from ledger.errors import LedgerError, ValidationError
from projections import ReadModels

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=timezone.utc)
ONE_US = timedelta(microseconds=1)
_days = itertools.count(1)


@pytest.fixture
def app(store_env: dict[str, str]) -> Iterator[HourLedger]:
    ledger = HourLedger(env=store_env, clock=lambda: NOW)
    try:
        yield ledger
    finally:
        ledger.close()


@pytest.fixture
def models(app: HourLedger) -> Iterator[ReadModels]:
    read_models = ReadModels(app)
    try:
        yield read_models
    finally:
        read_models.stop()


def organization(app: HourLedger) -> UUID:
    return app.register_organization(SYSTEM, "盱眙志愿服务队", "320830").aggregate.id


def volunteer(app: HourLedger, org: UUID | None = None) -> UUID:
    return app.register_volunteer(SYSTEM, "王芳", "320830001001", organization_id=org).aggregate.id


def service(app: HourLedger, vid: UUID, org: UUID, minutes: int):
    begins = datetime(2025, 1, 1, 9, tzinfo=timezone.utc) + timedelta(days=next(_days))
    return app.post(SYSTEM, RecordService(
        id=uuid4(), volunteer_id=vid, organization_id=org, category="elder_care",
        started_at=begins, ended_at=begins + timedelta(minutes=minutes),
    ))


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def pages(models: ReadModels, vid: UUID, book: str, limit: int, **window) -> list[dict]:
    out, cursor = [], None
    while True:
        page = models.statement(vid, book, window.get("from_"), window.get("to"), cursor, limit)
        assert len(page["entries"]) <= limit
        out.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def test_statement_pages_with_signed_minutes_and_running_balances(app: HourLedger, models: ReadModels) -> None:
    org = organization(app)
    vid = volunteer(app, org)
    point = app.register_exchange_point(SYSTEM, "兑换点", "320830").aggregate.id
    app.put_item(SYSTEM, point, "soap", "肥皂", 25, 10)
    posted = [service(app, vid, org, m) for m in (10, 20, 30, 40, 50, 60, 70)]
    redemption = app.post(SYSTEM, Redeem(id=uuid4(), exchange_point_id=point, volunteer_id=vid,
                                          items=(RedemptionLine("soap", 2),)))
    reversal = app.post(SYSTEM, Reverse(id=uuid4(), reverses=posted[1].transaction.id, reason="重复"))
    models.catch_up()

    got = pages(models, vid, "service", 3)
    assert [len(p["entries"]) for p in got] == [3, 3, 3]
    entries = [e for p in got for e in p["entries"]]
    assert [(e["type"], e["minutes"]) for e in entries] == [
        ("service_record", 10), ("service_record", 20), ("service_record", 30), ("service_record", 40),
        ("service_record", 50), ("service_record", 60), ("service_record", 70), ("redemption", -50),
        ("reversal", -20),
    ]
    assert [e["transaction_id"] for e in entries] == [
        *(str(p.transaction.id) for p in posted), str(redemption.transaction.id), str(reversal.transaction.id),
    ]
    running = list(itertools.accumulate(e["minutes"] for e in entries))
    assert [e["balance_after_minutes"] for e in entries] == running
    assert all(p["opening_minutes"] == 0 and p["closing_minutes"] == 210 for p in got)
    # The recorded time of an entry is its transaction's posted_at.
    assert parse(entries[0]["recorded_at"]) == posted[0].transaction.posted_at
    assert [parse(e["recorded_at"]) for e in entries] == sorted(parse(e["recorded_at"]) for e in entries)

    # A window on recorded time, inclusive at both ends.
    window = {"from_": parse(entries[2]["recorded_at"]), "to": parse(entries[4]["recorded_at"])}
    (only,) = pages(models, vid, "service", 10, **window)
    assert [e["minutes"] for e in only["entries"]] == [30, 40, 50]
    assert only["opening_minutes"] == 30 and only["closing_minutes"] == 150
    assert only["next_cursor"] is None
    narrower = {"from_": window["from_"] + ONE_US, "to": window["to"] - ONE_US}
    (inside,) = pages(models, vid, "service", 10, **narrower)
    assert [e["minutes"] for e in inside["entries"]] == [40]
    assert inside["opening_minutes"] == 60 and inside["closing_minutes"] == 100
    split = pages(models, vid, "service", 2, **window)
    assert [[e["minutes"] for e in p["entries"]] for p in split] == [[30, 40], [50]]
    assert all(p["opening_minutes"] == 30 and p["closing_minutes"] == 150 for p in split)
    empty = models.statement(vid, "service", NOW + timedelta(days=3650), None, None, 10)
    assert empty == {"opening_minutes": 210, "entries": [], "closing_minutes": 210, "next_cursor": None}

    # Cursors belong to their statement.
    cursor = got[0]["next_cursor"]
    with pytest.raises(ValidationError) as raised:
        models.statement(vid, "timebank", None, None, cursor, 3)
    assert raised.value.field == "cursor"
    other = volunteer(app, org)
    with pytest.raises(ValidationError):
        models.statement(other, "service", None, None, cursor, 3)
    for bad in ("", "not a cursor!", "czF8eHh4", cursor[:-2]):
        with pytest.raises(ValidationError):
            models.statement(vid, "service", None, None, bad, 3)


def test_timebank_statement(app: HourLedger, models: ReadModels) -> None:
    org = organization(app)
    mother, daughter = volunteer(app, org), volunteer(app, org)
    for vid in (mother, daughter):
        app.open_timebank(SYSTEM, vid)
    app.post(SYSTEM, DepositTimebank(id=uuid4(), volunteer_id=mother, organization_id=org, minutes=120,
                                     served_at=NOW - timedelta(days=1)))
    transfer = app.post(SYSTEM, TransferTimebank(id=uuid4(), from_volunteer_id=mother, to_volunteer_id=daughter, minutes=45))
    app.post(SYSTEM, Reverse(id=uuid4(), reverses=transfer.transaction.id, reason="转错"))
    app.post(SYSTEM, TransferTimebank(id=uuid4(), from_volunteer_id=mother, to_volunteer_id=daughter, minutes=30))
    app.post(SYSTEM, WithdrawTimebank(id=uuid4(), volunteer_id=daughter, minutes=15))
    app.post(SYSTEM, DonateTimebank(id=uuid4(), volunteer_id=mother, minutes=5))
    models.catch_up()
    (m,) = pages(models, mother, "timebank", 50)
    assert [(e["type"], e["minutes"], e["balance_after_minutes"]) for e in m["entries"]] == [
        ("timebank_deposit", 120, 120), ("timebank_transfer", -45, 75), ("reversal", 45, 120),
        ("timebank_transfer", -30, 90), ("timebank_donation", -5, 85),
    ]
    (d,) = pages(models, daughter, "timebank", 50)
    assert [(e["type"], e["minutes"], e["balance_after_minutes"]) for e in d["entries"]] == [
        ("timebank_transfer", 45, 45), ("reversal", -45, 0), ("timebank_transfer", 30, 30),
        ("timebank_withdrawal", -15, 15),
    ]
    assert models.statement(mother, "service", None, None, None, 10)["entries"] == []
    assert models.balance(mother)["timebank"] == {"open": True, "balance_minutes": 85}
    assert models.balance(daughter)["timebank"] == {"open": True, "balance_minutes": 15}


def test_balance_as_of_exact_moments_agrees_with_the_replay(app: HourLedger, models: ReadModels) -> None:
    org = organization(app)
    vid = volunteer(app, org)
    registered = app.get_volunteer(vid).created_on
    point = app.register_exchange_point(SYSTEM, "兑换点", "320830").aggregate.id
    app.put_item(SYSTEM, point, "soap", "肥皂", 30, 10)
    first = service(app, vid, org, 90)
    app.open_timebank(SYSTEM, vid)
    opened = app.find_timebank(vid).created_on
    app.post(SYSTEM, DepositTimebank(id=uuid4(), volunteer_id=vid, organization_id=org, minutes=60,
                                     served_at=NOW - timedelta(days=1)))
    redeemed = app.post(SYSTEM, Redeem(id=uuid4(), exchange_point_id=point, volunteer_id=vid,
                                        items=(RedemptionLine("soap", 1),)))
    app.post(SYSTEM, Reverse(id=uuid4(), reverses=redeemed.transaction.id, reason="退货"))
    service(app, vid, org, 30)
    models.catch_up()

    moments = {registered, opened, registered - ONE_US, opened - ONE_US, opened + ONE_US}
    for book in ("service", "timebank"):
        for entry in models.statement(vid, book, None, None, None, 100)["entries"]:
            at = parse(entry["recorded_at"])
            moments |= {at, at - ONE_US}
            included = models.balance(vid, as_of=at)
            excluded = models.balance(vid, as_of=at - ONE_US)
            if book == "service":
                assert included["service"]["available_minutes"] == entry["balance_after_minutes"]
                assert excluded["service"]["available_minutes"] == entry["balance_after_minutes"] - entry["minutes"]
            else:
                assert included["timebank"]["balance_minutes"] == entry["balance_after_minutes"]
                assert excluded["timebank"]["balance_minutes"] == entry["balance_after_minutes"] - entry["minutes"]
    for moment in sorted(moments):
        projected = models.balance(vid, as_of=moment)
        assert projected == models.replayed_balance(vid, as_of=moment), moment
        assert projected["as_of"] == moment.isoformat(timespec="microseconds")

    at_first = models.balance(vid, as_of=first.transaction.posted_at)
    assert at_first["service"] == {"earned_minutes": 90, "redeemed_minutes": 0, "available_minutes": 90, "star_level": 0}
    assert models.balance(vid, as_of=first.transaction.posted_at - ONE_US)["service"]["earned_minutes"] == 0
    assert models.balance(vid, as_of=opened)["timebank"] == {"open": True, "balance_minutes": 0}
    assert models.balance(vid, as_of=opened - ONE_US)["timebank"] == {"open": False, "balance_minutes": 0}
    before = models.balance(vid, as_of=registered - ONE_US)
    assert before["service"]["earned_minutes"] == 0 and before["timebank"]["open"] is False
    # A zone other than UTC is the same moment.
    cst = timezone(timedelta(hours=8))
    assert models.balance(vid, as_of=opened.astimezone(cst))["timebank"]["open"] is True
    now = models.balance(vid)
    assert now == {**models.replayed_balance(vid), "as_of": now["as_of"]}
    assert now["service"] == {"earned_minutes": 120, "redeemed_minutes": 0, "available_minutes": 120, "star_level": 0}
    assert now["as_of"] == NOW.isoformat(timespec="microseconds")


def test_unknown_volunteers_and_bad_arguments(app: HourLedger, models: ReadModels) -> None:
    vid = volunteer(app)
    models.catch_up()
    stranger = uuid4()
    assert models.balance(stranger) is None
    assert models.balance(stranger, as_of=NOW) is None
    assert models.replayed_balance(stranger) is None
    assert models.statement(stranger, "service", None, None, None, 10) is None
    naive = datetime(2026, 1, 1)
    for call, field in (
        (lambda: models.statement(vid, "savings", None, None, None, 10), "book"),
        (lambda: models.statement(vid, "service", None, None, None, 0), "limit"),
        (lambda: models.statement(vid, "service", None, None, None, 1001), "limit"),
        (lambda: models.statement(vid, "service", naive, None, None, 10), "from"),
        (lambda: models.statement(vid, "service", None, naive, None, 10), "to"),
        (lambda: models.statement(vid, "service", NOW, NOW - ONE_US, None, 10), "from"),
        (lambda: models.balance(vid, as_of=naive), "as_of"),
        (lambda: models.replayed_balance(vid, as_of=naive), "as_of"),
    ):
        with pytest.raises(ValidationError) as raised:
            call()
        assert raised.value.field == field


def test_read_your_writes_under_concurrent_writers(app: HourLedger, models: ReadModels) -> None:
    """Writers in threads post, wait for their own position, and read their own balance;
    the read models follow in a background thread (woken by each save)."""
    org = organization(app)
    models.start()
    models.start()  # idempotent
    writers, posts = 4, 5
    barrier = threading.Barrier(writers)
    problems: list[str] = []

    def write() -> None:
        try:
            vid = volunteer(app, org)
            barrier.wait(timeout=10)
            earned = 0
            for n in range(1, posts + 1):
                posted = service(app, vid, org, 10 * n)
                earned += 10 * n
                if not models.wait_for(posted.position, timeout=10):
                    problems.append(f"position {posted.position} not reached")
                    return
                seen = models.balance(vid)["service"]["earned_minutes"]
                if seen != earned:
                    problems.append(f"read {seen} after writing {earned}")
        except Exception as error:  # noqa: BLE001 - reported below
            problems.append(repr(error))

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert problems == []
    assert models.wait_for(app.head_position(), timeout=10)
    models.stop()
    assert not models.following


def test_wait_for_without_a_follower_catches_up_in_the_caller(app: HourLedger, models: ReadModels) -> None:
    org = organization(app)
    vid = volunteer(app, org)
    posted = service(app, vid, org, 45)
    assert models.wait_for(posted.position, timeout=5)
    assert models.position() >= posted.position
    assert models.balance(vid)["service"]["earned_minutes"] == 45
    assert not models.wait_for(posted.position + 1000, timeout=0.2)


# Any sequence of operations: the projection agrees with the aggregates ---------------------

operation = st.one_of(
    st.tuples(st.just("service"), st.integers(0, 2), st.integers(1, 600)),
    st.tuples(st.just("redeem"), st.integers(0, 2), st.integers(1, 3)),
    st.tuples(st.just("open"), st.integers(0, 2), st.just(0)),
    st.tuples(st.just("deposit"), st.integers(0, 2), st.integers(1, 300)),
    st.tuples(st.just("withdraw"), st.integers(0, 2), st.integers(1, 300)),
    st.tuples(st.just("transfer"), st.integers(0, 2), st.integers(1, 200)),
    st.tuples(st.just("donate"), st.integers(0, 2), st.integers(1, 100)),
    st.tuples(st.just("grant"), st.integers(0, 2), st.integers(1, 100)),
    st.tuples(st.just("reverse"), st.integers(0, 30), st.just(0)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(operation, min_size=1, max_size=20))
def test_projected_balances_equal_the_aggregates(app: HourLedger, models: ReadModels, operations) -> None:
    org = organization(app)
    people = [volunteer(app, org) for _ in range(3)]
    point = app.register_exchange_point(SYSTEM, "兑换点", "320830").aggregate.id
    app.put_item(SYSTEM, point, "soap", "肥皂", 40, 1000)
    posted: list[UUID] = []
    for kind, who, amount in operations:
        vid, other = people[who % 3], people[(who + 1) % 3]
        commands = {
            "service": lambda: None,
            "redeem": lambda: Redeem(id=uuid4(), exchange_point_id=point, volunteer_id=vid,
                                     items=(RedemptionLine("soap", amount),)),
            "deposit": lambda: DepositTimebank(id=uuid4(), volunteer_id=vid, organization_id=org,
                                               minutes=amount, served_at=NOW - timedelta(days=1)),
            "withdraw": lambda: WithdrawTimebank(id=uuid4(), volunteer_id=vid, minutes=amount),
            "transfer": lambda: TransferTimebank(id=uuid4(), from_volunteer_id=vid, to_volunteer_id=other, minutes=amount),
            "donate": lambda: DonateTimebank(id=uuid4(), volunteer_id=vid, minutes=amount),
            "grant": lambda: GrantTimebank(id=uuid4(), volunteer_id=vid, minutes=amount, reason="困难"),
            "reverse": lambda: Reverse(id=uuid4(), reverses=posted[who % len(posted)], reason="更正") if posted else None,
        }
        try:
            if kind == "service":
                result = service(app, vid, org, amount)
            elif kind == "open":
                app.open_timebank(SYSTEM, vid)
                continue
            else:
                command = commands[kind]()
                if command is None:
                    continue
                result = app.post(SYSTEM, command)
            posted.append(result.transaction.id)
        except LedgerError:
            pass  # refused: nothing recorded
    models.catch_up()
    for vid in people:
        truth = app.balance(vid)
        projected = models.balance(vid)
        assert projected["service"] == {
            "earned_minutes": truth.earned_minutes, "redeemed_minutes": truth.redeemed_minutes,
            "available_minutes": truth.available_minutes, "star_level": truth.star_level,
        }
        assert projected["timebank"] == {"open": truth.timebank_open, "balance_minutes": truth.timebank_balance_minutes}
        assert models.replayed_balance(vid) == {**projected, "as_of": models.replayed_balance(vid)["as_of"]}
        for book, total in (("service", truth.available_minutes), ("timebank", truth.timebank_balance_minutes)):
            statement = models.statement(vid, book, None, None, None, 1000)
            assert statement["closing_minutes"] == total
            assert sum(e["minutes"] for e in statement["entries"]) == total
            if statement["entries"]:
                last = parse(statement["entries"][-1]["recorded_at"])
                assert models.balance(vid, as_of=last) == models.replayed_balance(vid, as_of=last)
