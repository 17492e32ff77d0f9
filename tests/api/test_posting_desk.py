"""The posting desk: postings arriving while it posts wait and go together in the next group;
each request gets its own posting's answer, whatever the others' were."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import uuid4

from api.posting_desk import PostingDesk
from ledger.actors import SYSTEM, Actor
from ledger.application import Posted
from ledger.commands import Command
from ledger.errors import OverlappingServiceError, UnauthorizedError, UnavailableError
from tests.support.builders import service


class Keys:
    def authenticate(self, secret: str) -> Actor:
        if secret != "good":
            raise UnauthorizedError("key_unknown")
        return SYSTEM


class FakeLedger:
    """Answers each command as `outcome_of` says; the first group is held until released."""

    def __init__(self, outcome_of: Callable[[Command], Posted | Exception]) -> None:
        self.keys = Keys()
        self.outcome_of = outcome_of
        self.groups: list[list[Command]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def post_group(self, postings: Sequence[tuple[Actor, Command]], answer: Callable[[dict[int, Any]], None]) -> None:
        self.groups.append([command for _, command in postings])
        self.entered.set()
        assert self.release.wait(10)
        answer({index: self.outcome_of(command) for index, (_, command) in enumerate(postings)})


def posted(command: Command) -> Posted:
    return Posted(transaction=command, created=True, position=1)  # type: ignore[arg-type]


def commands(count: int) -> list[Command]:
    return [service(uuid4(), uuid4(), 60) for _ in range(count)]


async def post_all(desk: PostingDesk, ledger: FakeLedger, secrets: list[str], sent: list[Command]) -> list[Any]:
    """The first posting alone (the desk is idle), the rest while the desk holds it."""
    first = asyncio.ensure_future(desk.post(secrets[0], sent[0]))
    assert await asyncio.to_thread(ledger.entered.wait, 10)
    rest = [asyncio.ensure_future(desk.post(secret, command)) for secret, command in zip(secrets[1:], sent[1:])]
    await asyncio.sleep(0)  # the rest are queued before the desk is let go
    ledger.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_postings_arriving_while_the_desk_posts_go_together_in_the_next_group():
    ledger = FakeLedger(posted)
    desk = PostingDesk(ledger)  # type: ignore[arg-type]
    sent = commands(5)

    answers = asyncio.run(post_all(desk, ledger, ["good"] * 5, sent))

    assert ledger.groups == [sent[:1], sent[1:]]
    assert [answer.transaction for answer in answers] == sent


def test_each_request_gets_its_own_posting_s_answer():
    sent = commands(4)
    refused = OverlappingServiceError("service_overlaps")
    ledger = FakeLedger(lambda command: refused if command is sent[2] else posted(command))
    desk = PostingDesk(ledger)  # type: ignore[arg-type]

    answers = asyncio.run(post_all(desk, ledger, ["good", "good", "good", "unknown"], sent))

    assert answers[0].transaction is sent[0] and answers[1].transaction is sent[1]
    assert answers[2] is refused
    assert isinstance(answers[3], UnauthorizedError)  # its key, not the group, refused it
    assert ledger.groups == [sent[:1], sent[1:3]]


def test_a_group_the_store_fails_fails_every_posting_of_it():
    def store_down(command: Command) -> Posted:
        raise UnavailableError("store_unavailable")

    ledger = FakeLedger(store_down)
    ledger.release.set()
    desk = PostingDesk(ledger)  # type: ignore[arg-type]

    async def post_three() -> list[Any]:
        return await asyncio.gather(*(desk.post("good", c) for c in commands(3)), return_exceptions=True)

    answers = asyncio.run(post_three())
    assert all(isinstance(answer, UnavailableError) for answer in answers)


def test_the_desk_s_thread_ends_when_idle_and_starts_again_with_the_next_posting(monkeypatch):
    monkeypatch.setattr("api.posting_desk.IDLE_SECONDS", 0.01)
    ledger = FakeLedger(posted)
    ledger.release.set()
    desk = PostingDesk(ledger)  # type: ignore[arg-type]

    for _ in range(3):
        assert asyncio.run(desk.post("good", commands(1)[0])).created
        wait_until(lambda: not desk.serving)
    assert len(ledger.groups) == 3


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
