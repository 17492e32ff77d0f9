"""The posting desk: postings arriving while it posts wait and go together in the next group,
checked while the group before is being written; each request gets its own posting's answer,
whatever the others' were."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import uuid4

from api.posting_desk import PostingDesk
from ledger.actors import SYSTEM, Actor
from ledger.application import Posted, PostingGroup
from ledger.commands import Command
from ledger.errors import OverlappingServiceError, UnauthorizedError, UnavailableError
from tests.support.builders import service


class Keys:
    def authenticate(self, secret: str) -> Actor:
        if secret != "good":
            raise UnauthorizedError("key_unknown")
        return SYSTEM


class FakeLedger:
    """Answers each command as `outcome_of` says. The first group's check waits for
    `checking`, its write for `writing`; `refuse_first` makes the store refuse the first write."""

    def __init__(self, outcome_of: Callable[[Command], Posted | Exception] | None = None) -> None:
        self.keys = Keys()
        self.outcome_of = outcome_of or posted
        self.checked: list[tuple[list[Command], list[Command] | None]] = []  # (group, the group it came after)
        self.written: list[list[Command]] = []
        self.checking, self.writing = threading.Event(), threading.Event()
        self.checking_first, self.writing_first = threading.Event(), threading.Event()
        self.refuse_first = False
        self.fail_writes = False
        self.alone: dict[Command, threading.Event] = {}  # postings a group leaves to post alone

    def check_group(self, postings: Sequence[tuple[Actor, Command]], after: PostingGroup | None = None) -> PostingGroup:
        group = PostingGroup(postings)
        self.checked.append((commands_of(group), None if after is None else commands_of(after)))
        if len(self.checked) == 1:
            self.checking_first.set()
            assert self.checking.wait(10)
        return group

    def write_group(self, group: PostingGroup) -> list[int] | None:
        first = not self.written
        self.written.append(commands_of(group))
        if first:
            self.writing_first.set()
            assert self.writing.wait(10)
        if self.fail_writes:
            raise UnavailableError("store_unavailable")
        return None if first and self.refuse_first else []

    def settle_group(self, group: PostingGroup, positions: list[int] | None, answer: Callable[[dict[int, Any]], None]) -> list[int]:
        alone = [index for index, (_, command) in enumerate(group.postings) if command in self.alone]
        answer({index: self.outcome_of(command) for index, (_, command) in enumerate(group.postings) if index not in alone})
        return alone

    def post(self, actor: Actor, command: Command) -> Posted:
        assert self.alone[command].wait(10)
        return posted(command)


def commands_of(group: PostingGroup) -> list[Command]:
    return [command for _, command in group.postings]


def posted(command: Command) -> Posted:
    return Posted(transaction=command, created=True, position=1)  # type: ignore[arg-type]


def commands(count: int) -> list[Command]:
    return [service(uuid4(), uuid4(), 60) for _ in range(count)]


async def post_while_held(desk: PostingDesk, held: threading.Event, secrets: list[str], sent: list[Command]) -> list[Any]:
    """The first posting alone (the desk is idle); the rest while the desk is held at `held`."""
    first = asyncio.ensure_future(desk.post(secrets[0], sent[0]))
    assert await asyncio.to_thread(held.wait, 10)
    rest = [asyncio.ensure_future(desk.post(secret, command)) for secret, command in zip(secrets[1:], sent[1:])]
    await asyncio.sleep(0)  # the rest are queued before the desk is let go
    return [first, *rest]


def test_postings_arriving_while_the_desk_checks_go_together_in_the_next_group():
    ledger = FakeLedger()
    ledger.writing.set()
    desk = PostingDesk(ledger)  # type: ignore[arg-type]
    sent = commands(5)

    async def run() -> list[Any]:
        posting = await post_while_held(desk, ledger.checking_first, ["good"] * 5, sent)
        ledger.checking.set()
        return await asyncio.gather(*posting)

    answers = asyncio.run(run())

    assert ledger.written == [sent[:1], sent[1:]]
    assert [answer.transaction for answer in answers] == sent


def test_the_next_group_is_checked_while_one_is_written_and_written_after_it():
    ledger = FakeLedger()
    ledger.checking.set()
    desk = PostingDesk(ledger)  # type: ignore[arg-type]
    sent = commands(3)

    async def run() -> list[Any]:
        posting = await post_while_held(desk, ledger.writing_first, ["good"] * 3, sent)
        await asyncio.to_thread(wait_until, lambda: len(ledger.checked) == 2)
        assert ledger.written == [sent[:1]]  # the second group waits for the first's write
        ledger.writing.set()
        return await asyncio.gather(*posting)

    answers = asyncio.run(run())

    assert ledger.checked == [(sent[:1], None), (sent[1:], sent[:1])]
    assert ledger.written == [sent[:1], sent[1:]]
    assert all(answer.created for answer in answers)


def test_a_group_checked_after_one_the_store_refused_is_checked_again():
    ledger = FakeLedger()
    ledger.checking.set()
    ledger.refuse_first = True
    desk = PostingDesk(ledger)  # type: ignore[arg-type]
    sent = commands(3)

    async def run() -> list[Any]:
        posting = await post_while_held(desk, ledger.writing_first, ["good"] * 3, sent)
        await asyncio.to_thread(wait_until, lambda: len(ledger.checked) == 2)
        ledger.writing.set()
        return await asyncio.gather(*posting)

    asyncio.run(run())

    assert ledger.checked == [(sent[:1], None), (sent[1:], sent[:1]), (sent[1:], None)]
    assert ledger.written == [sent[:1], sent[1:]]


def test_each_request_gets_its_own_posting_s_answer():
    sent = commands(4)
    refused = OverlappingServiceError("service_overlaps")
    ledger = FakeLedger(lambda command: refused if command is sent[2] else posted(command))
    ledger.writing.set()
    desk = PostingDesk(ledger)  # type: ignore[arg-type]

    async def run() -> list[Any]:
        posting = await post_while_held(desk, ledger.checking_first, ["good", "good", "good", "unknown"], sent)
        ledger.checking.set()
        return await asyncio.gather(*posting, return_exceptions=True)

    answers = asyncio.run(run())

    assert answers[0].transaction is sent[0] and answers[1].transaction is sent[1]
    assert answers[2] is refused
    assert isinstance(answers[3], UnauthorizedError)  # its key, not the group, refused it
    assert ledger.written == [sent[:1], sent[1:3]]


def test_a_posting_left_to_post_alone_holds_up_no_other():
    ledger = FakeLedger()
    ledger.checking.set()
    ledger.writing.set()
    desk = PostingDesk(ledger)  # type: ignore[arg-type]
    slow, other = commands(2)
    ledger.alone[slow] = threading.Event()

    async def run() -> Any:
        waiting_alone = asyncio.ensure_future(desk.post("good", slow))
        assert (await desk.post("good", other)).transaction is other  # answered meanwhile
        assert not waiting_alone.done()
        ledger.alone[slow].set()
        return await waiting_alone

    assert asyncio.run(run()).transaction is slow


def test_a_group_the_store_fails_fails_every_posting_of_it():
    ledger = FakeLedger()
    ledger.checking.set()
    ledger.writing.set()
    ledger.fail_writes = True
    desk = PostingDesk(ledger)  # type: ignore[arg-type]

    async def run() -> list[Any]:
        return await asyncio.gather(*(desk.post("good", c) for c in commands(3)), return_exceptions=True)

    answers = asyncio.run(run())
    assert len(answers) == 3 and all(isinstance(answer, UnavailableError) for answer in answers)


def test_a_fault_in_checking_a_group_answers_its_postings_and_the_desk_goes_on():
    ledger = FakeLedger()
    ledger.checking.set()
    ledger.writing.set()
    desk = PostingDesk(ledger)  # type: ignore[arg-type]
    checks = ledger.check_group

    def faulty(postings: Sequence[tuple[Actor, Command]], after: PostingGroup | None = None) -> PostingGroup:
        if len(ledger.checked) == 0:
            ledger.checked.append(([], None))
            raise RuntimeError("a bug")
        return checks(postings, after)

    ledger.check_group = faulty  # type: ignore[method-assign]

    async def run() -> list[Any]:
        failed = await asyncio.gather(desk.post("good", commands(1)[0]), return_exceptions=True)
        return [*failed, await desk.post("good", commands(1)[0])]

    failed, posted_after = asyncio.run(run())
    assert isinstance(failed, RuntimeError) and posted_after.created


def test_the_desk_s_threads_end_when_idle_and_start_again_with_the_next_posting(monkeypatch):
    monkeypatch.setattr("api.posting_desk.IDLE_SECONDS", 0.01)
    ledger = FakeLedger()
    ledger.checking.set()
    ledger.writing.set()
    desk = PostingDesk(ledger)  # type: ignore[arg-type]

    for _ in range(3):
        assert asyncio.run(desk.post("good", commands(1)[0])).created
        wait_until(lambda: not desk.serving)
    assert len(ledger.written) == 3


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
