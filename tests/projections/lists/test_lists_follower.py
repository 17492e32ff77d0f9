"""The lists' follower and rebuild, on both stores: following in batches of any size gives the
rows a rebuild gives; two followers on one store (two processes) write every batch exactly
once; a rebuild while another follower runs ends in the same rows; a follower in the
background is woken by a save; a read that cannot catch up in time is a 503; and the
`hour-ledger lists` and `hour-ledger api-keys list|revoke` commands."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from ledger.actors import SYSTEM, Role
from ledger.application import HourLedger
from ledger.errors import UnauthorizedError, UnavailableError
from projections.lists import Lists
from projections.lists.store import keys_question
from tests.support.builders import (
    CHANGZHOU,
    XUYI,
    AppWorld,
    deposit,
    item,
    redemption,
    reversal,
    service,
    transfer,
)


def story(ledger: HourLedger, rounds: int = 1) -> None:
    """Every kind of event the lists read: things, items, keys, every transaction type that
    names volunteers, organisations and points, reversals, a revoked key."""
    world = AppWorld(ledger)
    for n in range(rounds):
        org = world.organization(XUYI)
        alice = world.volunteer(org, earned_minutes=300, timebank_minutes=120)
        bob = world.volunteer(org, region_code=CHANGZHOU, timebank_minutes=0)
        point = world.point(XUYI, tea=item(60, 10), badge=item(10, 5))
        world.post(transfer(alice, bob, 30))
        bought = world.post(redemption(point, alice, ("tea", 2), ("badge", 1))).transaction
        world.post(reversal(bought))
        world.post(redemption(point, alice, ("badge", 1)))
        recorded = world.post(service(alice, org, 45)).transaction
        world.post(reversal(recorded))
        world.post(deposit(bob, org, 15))
        key, _ = ledger.keys.issue(SYSTEM, Role.OPERATOR, f"operator {n}", region_prefix=XUYI)
        ledger.keys.revoke(SYSTEM, key.id)


def test_following_in_batches_of_any_size_gives_the_rows_a_rebuild_gives(ledger: HourLedger) -> None:
    story(ledger, rounds=2)
    rebuilt = Lists(ledger)
    rebuilt.rebuild()
    expected = rebuilt.store.every_row()
    assert len(expected["lists_volunteers"]) == 4 and len(expected["lists_transactions"]) == 18

    for size in (1, 3, 7):
        followed = Lists(ledger, batch_size=size)
        followed.rebuild()  # with pages of `size`, as a follower writes them
        assert followed.store.every_row() == expected, size


def test_two_followers_write_every_batch_exactly_once(ledger: HourLedger, other: HourLedger) -> None:
    first, second = Lists(ledger, batch_size=4), Lists(other, batch_size=3)
    done = threading.Event()
    failures: list[BaseException] = []

    def follow(lists: Lists) -> None:
        while not done.is_set():
            try:
                lists.catch_up()
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)
                return

    threads = [threading.Thread(target=follow, args=(lists,)) for lists in (first, second)]
    for thread in threads:
        thread.start()
    try:
        story(ledger, rounds=3)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert not failures, failures
    first.catch_up()
    second.catch_up()
    followed = first.store.every_row()

    check = Lists(ledger)
    check.rebuild()
    assert followed == check.store.every_row()
    assert first.position() == second.position() == ledger.head_position()


def test_a_rebuild_while_another_process_follows(ledger: HourLedger, other: HourLedger) -> None:
    story(ledger)
    follower = Lists(other)
    rebuilder = Lists(ledger, batch_size=5)
    follower.start()
    writer = threading.Thread(target=story, args=(ledger, 2))
    writer.start()
    try:
        rebuilder.rebuild()
    finally:
        writer.join()
    try:
        assert follower.wait_for(ledger.head_position(), 10)
    finally:
        follower.stop()
    followed = follower.store.every_row()
    check = Lists(ledger)
    check.rebuild()
    assert followed == check.store.every_row()


def test_a_follower_in_the_background_is_woken_by_a_save(ledger: HourLedger) -> None:
    lists = Lists(ledger, poll_interval=60)  # it would poll only once a minute
    lists.start()
    try:
        started = time.monotonic()
        registered = ledger.register_volunteer(SYSTEM, "王秀英", XUYI)
        assert lists.wait_for(registered.position or 0, 5)
        assert time.monotonic() - started < 5
        found = lists.things("volunteer", q="秀英")
        assert [row["id"] for row in found.rows] == [str(registered.aggregate.id)]
    finally:
        lists.stop()
    assert not lists.following


def test_a_read_the_lists_cannot_answer_in_time_is_unavailable(ledger: HourLedger) -> None:
    lists = Lists(ledger)
    ledger.register_volunteer(SYSTEM, "李秀兰", XUYI)
    head = ledger.head_position()
    assert lists.answer(keys_question(0, 10), min_position=head) == []
    started = time.monotonic()
    with pytest.raises(UnavailableError, match=f"position {head + 5}"):
        lists.answer(keys_question(0, 10), min_position=head + 5, wait=0.3)
    assert time.monotonic() - started < 3


# The command line ---------------------------------------------------------------------------


@pytest.fixture
def command(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HOUR_LEDGER_DATABASE_URL", database_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "200"})


def test_the_lists_commands(ledger: HourLedger, command: Any) -> None:
    story(ledger)
    status = command("lists", "status")
    assert status.exit_code == 0, status.output
    assert "volunteers" in status.output and "lag" in status.output

    rebuilt = command("lists", "rebuild")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"rebuilt to position {ledger.head_position():,}: 2 volunteers" in rebuilt.output
    assert Lists(ledger).status()["lag"] == 0


def test_api_keys_list_and_revoke(ledger: HourLedger, command: Any) -> None:
    created = command("api-keys", "create", "--role", "operator", "--name", "淮安市文明办", "--region", "3208")
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    actor = ledger.keys.authenticate(secret)

    listed = command("api-keys", "list")
    assert listed.exit_code == 0, listed.output
    assert str(actor.key_id) in listed.output and "淮安市文明办" in listed.output and "3208" in listed.output
    assert secret not in listed.output and "hl_" not in listed.output

    revoked = command("api-keys", "revoke", str(actor.key_id))
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked operator key {actor.key_id}" in revoked.output
    ledger.keys.cache_seconds = 0
    with pytest.raises(UnauthorizedError):
        ledger.keys.authenticate(secret)
    row = [k for k in Lists(ledger).api_keys().rows if k["id"] == str(actor.key_id)][0]
    assert row["revoked_us"] is not None

    unknown = command("api-keys", "revoke", "00000000-0000-0000-0000-000000000000")
    assert unknown.exit_code == 2 and "not found" in unknown.output


def test_a_serving_app_follows_the_lists_and_reads_its_own_writes(ledger: HourLedger) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    secret = ledger.keys.bootstrap_admin()
    app = create_app(ledger, follow_projections=True)
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(app) as client:
        assert app.state.lists.following
        for n in range(5):
            made = client.post("/v1/volunteers", json={"name": f"秀英{n}", "region_code": XUYI}, headers=headers).json()
            found = client.get("/v1/volunteers", params={"q": f"秀英{n}"}, headers=headers).json()["items"]
            assert [v["id"] for v in found] == [made["id"]]
    assert not app.state.lists.following
