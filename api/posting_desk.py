"""The posting desk: one thread that posts what the posting lane hands it, a group at a time.

Postings that arrive while the desk is busy wait on its queue; when it is free it takes all of
them (up to `MAX_GROUP`) and checks them as one group (`HourLedger.check_group`), whose events
one store transaction writes. A posting that arrives when the desk is idle is taken at once,
alone: no latency is added when one client posts.

The write is the desk's second thread's: while a group is being written, the desk checks the
next one against the state the first leaves, and has it written once the first is settled
(each group waits for the one before: a group is written all or nothing, and the next, built on
it, is checked again if it was refused). So the desk computes while the database commits. A
posting a group leaves to post alone (a rule refused it, it needs the store's state) is posted
by `HourLedger.post` in a small pool of threads of its own, so that one client's refused
postings never hold up the desk.

Why so few threads: measured on this service's 2-core machine (docs/decisions.md,
2026-12-01), a pool thread per posting made the worker wake and switch threads about eighteen
times a posting (the hop, the interpreter lock passed back and forth around each query, the
group commit's waits), and the kernel's share of the worker's CPU was 28 %. The desk wakes once
per group and answers the whole group with one call into the event loop.

The results are handed to each request's event loop (`call_soon_threadsafe`); a request whose
client went away meanwhile is simply not answered. The threads end after `IDLE_SECONDS` with
nothing to do and start again with the next posting, so an app that is dropped leaves no
thread behind."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from eventsourcing.persistence import PersistenceError

from ledger.actors import Actor
from ledger.application import HourLedger, Posted, PostingGroup
from ledger.commands import Command
from ledger.errors import LedgerError

log = logging.getLogger(__name__)

MAX_GROUP = 64  # postings written in one store transaction, at most
# Postings a group left to post alone (refused, or needing the store's state) are posted by
# these threads, not the desk's: one client's refused postings never hold up the others'.
ALONE_THREADS = 8
IDLE_SECONDS = 5.0

Outcome = Posted | Exception


@dataclass
class Waiting:
    secret: str
    command: Command
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Outcome]


@dataclass
class PostingDesk:
    """Posts (key secret, command) pairs for `ledger`, grouping those that arrive together."""

    ledger: HourLedger
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _queue: list[Waiting] = field(default_factory=list)
    _running: bool = False

    @property
    def serving(self) -> bool:
        """Whether the desk's thread runs (it ends when idle)."""
        with self._lock:
            return self._running

    async def post(self, secret: str, command: Command) -> Posted:
        """The posting's result, as `HourLedger.post` by the key behind `secret` answers it;
        raises what that would raise (UnauthorizedError for an unknown key)."""
        loop = asyncio.get_running_loop()
        waiting = Waiting(secret, command, loop, loop.create_future())
        with self._lock:
            self._queue.append(waiting)
            if self._running:
                self._lock.notify()
            else:
                self._running = True
                threading.Thread(target=self._serve, name="posting-desk", daemon=True).start()
        outcome = await waiting.future
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _serve(self) -> None:
        # One write at a time, in a thread of its own: while a group is being written the
        # desk checks the next one against the state the first leaves, and has it written
        # once the first is settled (checked again if the first was refused).
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="posting-desk-writer")
        alone = ThreadPoolExecutor(max_workers=ALONE_THREADS, thread_name_prefix="posting-alone")
        with writer, alone:
            writing: Writing | None = None
            while True:
                with self._lock:
                    if writing is None:
                        if not self._lock.wait_for(lambda: bool(self._queue), IDLE_SECONDS):
                            self._running = False
                            return
                    else:  # until postings arrive to check meanwhile, or the write is done
                        in_flight = writing.written
                        self._lock.wait_for(lambda: bool(self._queue) or in_flight.done())
                    taken, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                group = self._checked(taken, after=writing) if taken else None
                if writing is not None:
                    if not self._settle(writing, alone) and group is not None:
                        group = self._checked(group.waiting, after=None)
                    writing = None
                if group is not None:
                    group.written = writer.submit(self.ledger.write_group, group.checked)
                    group.written.add_done_callback(self._written)
                    writing = group

    def _written(self, _: Future[list[int] | None]) -> None:
        with self._lock:
            self._lock.notify()

    def _checked(self, taken: list[Waiting], after: Writing | None) -> Writing | None:
        """The postings checked as a group, their keys first (a posting whose key is refused
        is answered at once, and left out); None if checking failed (each was answered so)."""
        try:
            return self._check(taken, after)
        except Exception as error:  # noqa: BLE001 - a fault of the desk's: answer, and go on
            log.exception("posting desk: checking a group failed")
            _hand_over(taken, dict.fromkeys(range(len(taken)), error))
            return None

    def _check(self, taken: list[Waiting], after: Writing | None) -> Writing:
        actors: list[tuple[int, Actor]] = []
        refused: dict[int, Outcome] = {}
        for index, waiting in enumerate(taken):
            try:
                # A key this process remembers costs no query (`ApiKeys.authenticate` asks
                # its memory first).
                actors.append((index, self.ledger.keys.authenticate(waiting.secret)))
            except Exception as error:  # noqa: BLE001 - this posting's answer
                refused[index] = error
        if refused:
            _hand_over(taken, refused)
        kept = [taken[index] for index, _ in actors]
        postings = [(actor, taken[index].command) for index, actor in actors]
        return Writing(kept, self.ledger.check_group(postings, after=None if after is None else after.checked))

    def _settle(self, writing: Writing, alone: ThreadPoolExecutor) -> bool:
        """Answers the group being written once it is, and hands the postings that must be
        posted alone to `alone`; whether the group was written (else the store refused it and
        every posting goes alone, or the store failed it)."""
        assert writing.written is not None
        answered: set[int] = set()

        def answer(results: dict[int, Outcome]) -> None:
            answered.update(results)
            _hand_over(writing.waiting, results)

        try:
            positions = writing.written.result()
            for index in self.ledger.settle_group(writing.checked, positions, answer):
                answered.add(index)
                actor, command = writing.checked.postings[index]
                alone.submit(self._post_alone, writing.waiting[index], actor, command)
            return positions is not None
        except Exception as error:  # noqa: BLE001 - the store failed the group: nothing was written
            if not isinstance(error, (LedgerError, PersistenceError)):
                log.exception("posting desk: settling a group failed")
            _hand_over(writing.waiting, {i: error for i in range(len(writing.waiting)) if i not in answered})
            return False

    def _post_alone(self, waiting: Waiting, actor: Actor, command: Command) -> None:
        try:
            outcome: Outcome = self.ledger.post(actor, command)
        except Exception as error:  # noqa: BLE001 - the posting's own answer
            outcome = error
        _hand_over([waiting], {0: outcome})


@dataclass
class Writing:
    """A group of postings checked by the desk, and the write of its events once submitted."""

    waiting: list[Waiting]
    checked: PostingGroup
    written: Future[list[int] | None] | None = None


def _hand_over(group: list[Waiting], outcomes: dict[int, Outcome]) -> None:
    """Hands outcomes to their requests' event loops, one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Outcome], Outcome]]] = {}
    for index, outcome in outcomes.items():
        waiting = group[index]
        by_loop.setdefault(waiting.loop, []).append((waiting.future, outcome))
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_answer, answers)
        except RuntimeError:  # the loop was closed: no one waits for these answers
            pass


def _answer(answers: list[tuple[asyncio.Future[Outcome], Outcome]]) -> None:
    for future, outcome in answers:
        if not future.done():  # a request whose client went away was cancelled
            future.set_result(outcome)
