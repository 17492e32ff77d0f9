"""Running the read models, on SQLite and PostgreSQL: rebuilds (twice, and while following),
status and lag, gaps in notification ids, a follower killed with SIGKILL in the middle of a
backlog and restarted, LISTEN/NOTIFY across processes, and the command line."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError
from typer.testing import CliRunner

from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.commands import DepositTimebank, RecordService, Redeem, RedemptionLine, Reverse, WithdrawTimebank
from ledger.persistence import persistence_env
from ledger.volunteer import Volunteer
from projections import ReadModels
from projections.cli import app as cli
from tests.support.follower import Follower, position_line, small_pool

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=timezone.utc)
START = datetime(2025, 1, 1, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def app(store_env: dict[str, str]) -> Iterator[HourLedger]:
    ledger = HourLedger(env=store_env, clock=lambda: NOW)
    try:
        yield ledger
    finally:
        ledger.close()


def backlog(app: HourLedger, volunteers: int, records: int, region: str = "320830001001") -> list[UUID]:
    """Volunteers with service records (a day each), some deposits, a redemption, a reversal."""
    org = app.register_organization(SYSTEM, "盱眙志愿服务队", region[:6]).aggregate.id
    point = app.register_exchange_point(SYSTEM, "兑换点", region[:6]).aggregate.id
    app.put_item(SYSTEM, point, "soap", "肥皂", 30, 1000)
    people = [
        app.register_volunteer(SYSTEM, f"志愿者{n}", region[:-3] + f"{n % 7:03d}", organization_id=org).aggregate.id
        for n in range(volunteers)
    ]
    commands = []
    for n, vid in enumerate(people):
        for day in range(records):
            begins = START + timedelta(days=day, hours=n % 5)
            commands.append(RecordService(
                id=uuid4(), volunteer_id=vid, organization_id=org, category=("elder_care", "cleanup")[day % 2],
                started_at=begins, ended_at=begins + timedelta(minutes=30 + day % 90),
            ))
    for start in range(0, len(commands), 250):
        app.post_batch(SYSTEM, commands[start : start + 250], atomic=True)
    first = people[0]
    app.open_timebank(SYSTEM, first)
    app.post(SYSTEM, DepositTimebank(id=uuid4(), volunteer_id=first, organization_id=org, minutes=90,
                                     served_at=START, beneficiary_id=uuid4()))
    app.post(SYSTEM, WithdrawTimebank(id=uuid4(), volunteer_id=first, minutes=30, beneficiary_id=uuid4()))
    redeemed = app.post(SYSTEM, Redeem(id=uuid4(), exchange_point_id=point, volunteer_id=first,
                                        items=(RedemptionLine("soap", 1),)))
    app.post(SYSTEM, Reverse(id=uuid4(), reverses=redeemed.transaction.id, reason="退货"))
    app.post(SYSTEM, Reverse(id=uuid4(), reverses=commands[0].id, reason="录入错误"))
    return people


def agree_with_aggregates(app: HourLedger, models: ReadModels, people: list[UUID]) -> None:
    for vid in people:
        truth = app.balance(vid)
        projected = models.balance(vid)
        assert projected["service"]["earned_minutes"] == truth.earned_minutes
        assert projected["service"]["redeemed_minutes"] == truth.redeemed_minutes
        assert projected["timebank"] == {"open": truth.timebank_open, "balance_minutes": truth.timebank_balance_minutes}


def test_rebuilding_twice_gives_identical_tables(app: HourLedger) -> None:
    """Followed in batches of 7 while posting, then rebuilt in batches of 2,000, twice: the
    same rows every time (nothing depends on where batches begin and end)."""
    live = ReadModels(app, batch_size=7)
    people = backlog(app, volunteers=2, records=3)
    live.catch_up()
    org = app.get_volunteer(people[0]).organization_id
    for n in range(6):
        begins = START + timedelta(days=100 + n)
        posted = app.post(SYSTEM, RecordService(
            id=uuid4(), volunteer_id=people[n % 2], organization_id=org, category="health",
            started_at=begins, ended_at=begins + timedelta(minutes=40),
        ))
        assert live.wait_for(posted.position, timeout=5)
    app.post(SYSTEM, Reverse(id=uuid4(), reverses=posted.transaction.id, reason="更正"))
    live.catch_up()
    followed = live.dump()
    assert sum(len(rows) for rows in followed.values()) > 50

    big = ReadModels(app)
    assert big.rebuild() == app.head_position()
    rebuilt = big.dump()
    assert rebuilt == followed
    big.rebuild()
    assert big.dump() == rebuilt
    assert [state for _, state in big.store.generations()] == ["current"]
    assert {row["generation"] for row in big.status()} == {3}
    agree_with_aggregates(app, big, people)
    assert live.balance(people[0]) == big.balance(people[0])  # the other instance reads the new tables


def test_rebuild_while_following_and_writing(app: HourLedger) -> None:
    """A writer keeps posting and a follower keeps following while two rebuilds switch
    generations under them: reads never go backwards, the follower moves to the new tables."""
    models = ReadModels(app)
    people = backlog(app, volunteers=3, records=4)
    org = app.get_volunteer(people[0]).organization_id
    stop = threading.Event()
    positions: list[int] = []

    def record(n: int) -> int:
        begins = START + timedelta(days=200, minutes=2 * n)
        return app.post(SYSTEM, RecordService(
            id=uuid4(), volunteer_id=people[n % 3], organization_id=org,
            category="health", started_at=begins, ended_at=begins + timedelta(minutes=1),
        )).position

    def write() -> None:
        n = 0
        while not stop.is_set() and n < 2000:
            n += 1
            positions.append(record(n))

    models.start()
    writer = threading.Thread(target=write)
    writer.start()
    try:
        models.rebuild()
        models.rebuild()
        stop.set()
        writer.join()
        assert positions, "the writer never wrote"
        assert models.wait_for(positions[-1], timeout=10)
        assert models.wait_for(record(5000), timeout=10)  # followed in the new generation
    finally:
        stop.set()
        writer.join()
        models.stop()
    agree_with_aggregates(app, models, people)
    followed = models.dump()
    models.rebuild()
    assert models.dump() == followed


def test_status_reports_position_head_and_lag(app: HourLedger) -> None:
    models = ReadModels(app)
    backlog(app, volunteers=1, records=2)
    head = app.head_position()
    assert models.position() == 0
    assert [(r["name"], r["position"], r["head_position"], r["lag"]) for r in models.status()] == [
        ("balances", 0, head, head), ("stats", 0, head, head),
    ]
    assert models.catch_up() == head
    assert all(r["lag"] == 0 and r["position"] == head and r["state"] == "current" for r in models.status())
    assert models.position() == head


def test_gaps_in_notification_ids_are_passed_over(app: HourLedger) -> None:
    """A rejected insert burns notification ids on PostgreSQL (a sequence is not rolled back)."""
    models = ReadModels(app, batch_size=3)
    people = backlog(app, volunteers=1, records=2)
    for _ in range(3):
        with pytest.raises(IntegrityError):
            app.save(Volunteer(id=people[0], name="重复", region_code="320830", organization_id=None,
                               birth_year=None, id_number_hash=None, posted_by={}))
    people += backlog(app, volunteers=1, records=2)
    ids = [n.id for n in app.recorder.select_notifications(1, 100_000)]
    if models.store.kind == "postgres":
        assert ids != list(range(1, len(ids) + 1)), "expected burned ids"
    assert models.catch_up() == app.head_position() == ids[-1]
    agree_with_aggregates(app, models, people)


def test_a_follower_killed_mid_batch_resumes_and_matches_a_rebuild(database_url: str, tmp_path: Path) -> None:
    app = HourLedger(env=persistence_env(database_url), clock=lambda: NOW)
    try:
        models = ReadModels(app)
        people = backlog(app, volunteers=12, records=40)
        head = app.head_position()

        # Killed with the 8th batch's rows written but not committed: the 4th page's
        # statistics, after its balances (each page commits both read models at once).
        with Follower(database_url, "--batch-size", "20", freeze_in_batch=8, hooks=tmp_path / "hooks") as first:
            first.expect(lambda line: line == "frozen inside a transaction")
            assert sum(position_line(line) is not None for line in first.seen) == 6
            assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        stopped_at = {row["name"]: row["position"] for row in models.status()}
        assert 0 < stopped_at["stats"] == stopped_at["balances"] < head, stopped_at

        with Follower(database_url, "--batch-size", "20") as second:
            second.expect(lambda line: line.startswith("stats@") and position_line(line) == head)
            assert second.stop(signal.SIGTERM) == 0
            assert second.expect(lambda line: line.startswith("stopped at")) == f"stopped at position {head}"

        assert models.position() == head
        followed = models.dump()
        agree_with_aggregates(app, models, people)
        models.rebuild()
        assert models.dump() == followed
    finally:
        app.close()


@pytest.mark.postgres
def test_listen_notify_wakes_a_follower_in_another_process(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite followers poll")
    app = HourLedger(env=persistence_env(database_url), clock=lambda: NOW)
    try:
        people = backlog(app, volunteers=1, records=1)
        with Follower(database_url, "--poll", "600") as follower:  # a poll would come far too late
            follower.expect(lambda line: line.startswith("following from position"))
            begins = START + timedelta(days=50)
            posted = app.post(SYSTEM, RecordService(
                id=uuid4(), volunteer_id=people[0], organization_id=app.get_volunteer(people[0]).organization_id,
                category="health", started_at=begins, ended_at=begins + timedelta(minutes=20),
            ))
            follower.expect(lambda line: line.startswith("stats@") and position_line(line) == posted.position, timeout=20)
            assert follower.stop(signal.SIGTERM) == 0
    finally:
        app.close()


def test_command_line_status_and_rebuild(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = HourLedger(env=persistence_env(database_url), clock=lambda: NOW)
    try:
        backlog(app, volunteers=1, records=3)
        head = app.head_position()
    finally:
        app.close()
    monkeypatch.setenv("HOUR_LEDGER_DATABASE_URL", small_pool(database_url))
    runner = CliRunner()
    status = runner.invoke(cli, ["status"])
    assert status.exit_code == 0, status.output
    assert "balances" in status.output and "stats" in status.output and f"{head:,}" in status.output
    rebuilt = runner.invoke(cli, ["rebuild", "--batch-size", "5"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"rebuilt to position {head:,}" in rebuilt.output
    after = runner.invoke(cli, ["status"])
    assert "current" in after.output
    monkeypatch.setenv("HOUR_LEDGER_DATABASE_URL", "mysql://nowhere/db")
    bad = runner.invoke(cli, ["status"])
    assert bad.exit_code == 2
