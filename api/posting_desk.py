"""The posting desk: one thread that posts what the posting lane hands it, a group at a time.

Postings that arrive while the desk is busy wait on its queue; when it is free it takes all of
them (up to `MAX_GROUP`) and posts them with `HourLedger.post_group`, whose one store
transaction records the group. A posting that arrives when the desk is idle is taken at once,
alone: no latency is added when one client posts.

Why one thread and not a pool: measured on this service's 2-core machine (docs/decisions.md,
2026-12-01), a pool thread per posting made the worker wake and switch threads about eighteen
times a posting (the hop, the interpreter lock passed back and forth around each query, the
group commit's waits), and the kernel's share of the worker's CPU was 28 %. The desk wakes once
per group and answers the whole group with one call into the event loop.

The results are handed to each request's event loop (`call_soon_threadsafe`); a request whose
client went away meanwhile is simply not answered. The thread ends after `IDLE_SECONDS` with
nothing to do and starts again with the next posting, so an app that is dropped leaves no
thread behind."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from ledger.actors import Actor
from ledger.application import HourLedger, Posted
from ledger.commands import Command

MAX_GROUP = 64  # postings written in one store transaction, at most
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
        while True:
            with self._lock:
                if not self._queue and not self._lock.wait_for(lambda: bool(self._queue), IDLE_SECONDS):
                    self._running = False
                    return
                group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            self._post(group)

    def _post(self, group: list[Waiting]) -> None:
        refused: dict[int, Outcome] = {}
        actors: list[tuple[int, Actor]] = []
        for index, waiting in enumerate(group):
            try:
                # A key this process remembers costs no query (`ApiKeys.authenticate` asks
                # its memory first).
                actors.append((index, self.ledger.keys.authenticate(waiting.secret)))
            except Exception as error:  # noqa: BLE001 - this posting's answer
                refused[index] = error
        if refused:
            _settle(group, refused)
        answered: set[int] = set()

        def answer(results: dict[int, Outcome]) -> None:
            outcomes = {actors[i][0]: outcome for i, outcome in results.items()}
            answered.update(outcomes)
            _settle(group, outcomes)

        try:
            self.ledger.post_group([(actor, group[index].command) for index, actor in actors], answer)
        except Exception as error:  # noqa: BLE001 - the store failed the group: nothing was written
            _settle(group, {index: error for index, _ in actors if index not in answered})


def _settle(group: list[Waiting], outcomes: dict[int, Outcome]) -> None:
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
