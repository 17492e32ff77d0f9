"""Lists and search (SPEC §7): what the HTTP layer and the command line call.

A follower reads the stored events after the lists' position, a page at a time, and writes
each page's rows and the new position in one store transaction (exactly once: the position
moves by compare-and-set). It runs in a background thread of a serving process, woken by the
ledger's saves in this process and polling for other processes' writes. A read first lets the
lists catch up with the log's head as it was when the read arrived (or with `min_position`),
for a bounded time, then answers from one store transaction: a client reads its own writes.

Lists are walked by keyset cursors: things in registration order (oldest first), transactions
newest first (descending position). A cursor is opaque (base64 of the list's kind and the last
position shown): rows registered during a walk come after it, so every thing that existed when
the walk began is shown exactly once.
"""

from __future__ import annotations

import base64
import binascii
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from eventsourcing.persistence import PersistenceError
from eventsourcing.utils import get_topic

from ledger.errors import UnavailableError, ValidationError
from ledger.regions import check_region_code
from projections.engine.waking import Wakeup, follow
from projections.lists.names import MAX_QUERY, query_grams, search_key
from projections.lists.rules import TOPICS, changes_of, micros
from projections.lists.store import (
    ListsBusyError,
    ListsStore,
    PositionMovedError,
    Question,
    keys_question,
    lists_store_of,
    things_question,
    transactions_question,
)

log = logging.getLogger("lists")

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
BATCH_SIZE = 2000
WAIT_SECONDS = 3.0
NEWEST = 2**62
ANALYZE_EVERY = 50_000  # events written by this process's catch-ups between two ANALYZEs
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Page:
    """Rows of a list and the cursor of the next page (None: this is the last)."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(kind: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None, default: int) -> int:
    """The position a cursor of this list stands at; a 422 naming `cursor` for anything else."""
    if cursor is None:
        return default
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    found_kind, _, number = text.partition(":")
    if found_kind != kind or not number.isdigit() or len(number) > 19:
        raise ValidationError("cursor", "bad_cursor", kind=kind)
    return int(number)


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", "limit_range", most=MAX_LIMIT)
    return limit


def check_region(region: str | None) -> str | None:
    return None if region is None else check_region_code(region, "region")


def name_query(q: str | None) -> tuple[str, list[str]] | None:
    """A name query's search key and the grams to look up; None for no query (absent or blank)."""
    if q is None:
        return None
    if len(q) > MAX_QUERY:
        raise ValidationError("q", "query_too_long", most=MAX_QUERY)
    key = search_key(q)
    return (key, query_grams(key)) if key else None


class Lists:
    """The lists and search of one HourLedger's store."""

    def __init__(self, ledger: Any, *, batch_size: int = BATCH_SIZE, poll_interval: float = 0.25) -> None:
        self.ledger = ledger
        self.store: ListsStore = lists_store_of(ledger.recorder)
        self._guard(self.store.setup)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.topics = [get_topic(cls) for cls in TOPICS]
        self._lock = threading.RLock()  # one catch-up at a time in this process
        self._changed = threading.Condition()
        self._batches = 0  # batches committed by this process: waiters wake on each
        # This process's saves wake the follower; it reads the commits in slices (waking.py).
        self._wakeup = Wakeup(ledger, poll_interval)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = 0

    # Following the log ---------------------------------------------------------------------

    def catch_up(self, progress: Progress | None = None) -> int:
        """Writes the rows of every event recorded so far; answers the position."""
        with self._lock:
            for _ in range(100):
                try:
                    return self._catch_up(progress)
                except PositionMovedError:
                    log.info("lists: another follower moved the position first; going on from there")
            raise UnavailableError("lists_moving")

    def _catch_up(self, progress: Progress | None, cur: Any = None) -> int:
        """Up to the head as it is now (read once: a busy log is not chased forever). With
        `cur`, every page in that one store transaction (a rebuild on PostgreSQL)."""
        head = self.store.head()
        position = self.store.position() if cur is None else 0
        while position < head:
            notifications = self.ledger.recorder.select_notifications(
                start=position, limit=self.batch_size, stop=head, topics=self.topics, inclusive_of_start=False
            )
            # A short page means nothing else is stored up to the head (ids are given out in
            # commit order; gaps are ids that were never used).
            end = notifications[-1].id if len(notifications) >= self.batch_size else head
            events = [(n.id, self.ledger.mapper.to_domain_event(n)) for n in notifications]
            if cur is None:
                with self.store.writing() as batch:
                    self._write(batch, events, position, end)
            else:
                self._write(cur, events, position, end)
            position = end
            self._announce()
            if progress:
                progress(position, head)
            self._written += len(events)
            if cur is None and self._written >= ANALYZE_EVERY:
                # Many new rows: the planner's idea of the tables is out of date (a first
                # catch-up of a big log, before autovacuum has looked at them).
                self._written = 0
                self.store.refresh_statistics()
        return position

    def _write(self, cur: Any, events: list[tuple[int, Any]], expected: int, end: int) -> None:
        self.store.move(cur, expected, end)  # first: it takes the position's lock
        self.store.write(cur, changes_of(events, self.store.known(cur)))

    def _announce(self) -> None:
        with self._changed:
            self._batches += 1
            self._changed.notify_all()

    def position(self) -> int:
        return int(self._guard(self.store.position))

    def start(self) -> None:
        """Follows the log in a background (daemon) thread; does nothing if already following."""
        if self.following:
            return
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, args=(self._stopping,), name="lists-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.hurry()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    @property
    def following(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    def _follow(self, stopping: threading.Event) -> None:
        follow(self.catch_up, self._wakeup, stopping, log, "lists", busy=(ListsBusyError,))

    def wait_for(self, position: int, timeout: float) -> bool:
        """True once the lists have read the log up to `position` (False after `timeout`)."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            with self._changed:
                seen = self._batches
            if self.position() >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self.following:
                self._wakeup.hurry()
                with self._changed:
                    self._changed.wait_for(lambda: self._batches != seen, timeout=min(remaining, 0.25))
            elif self._lock.acquire(timeout=remaining):
                # Nobody follows in this process: catch up here (or after the thread that is).
                try:
                    self._guard(self.catch_up)
                except ListsBusyError:
                    time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))  # a rebuild elsewhere
                finally:
                    self._lock.release()
            else:
                return False

    # Rebuilding ----------------------------------------------------------------------------

    def rebuild(self, progress: Progress | None = None) -> int:
        """Drops every row and writes them again from event 0; answers the position.

        PostgreSQL: in one store transaction, so readers see the old rows until the new ones
        are all there (a follower elsewhere waits, then goes on from the rebuilt position).
        SQLite: the rows go at once and come back page by page, each page committed (one long
        write would block the ledger's own writers); reads wait for them or answer 503."""
        with self._lock:
            if self.store.atomic_rebuild:
                with self.store.writing(wait_for_locks=True) as cur:
                    self.store.reset(cur)
                    position = self._catch_up(progress, cur)
            else:
                with self.store.writing(wait_for_locks=True) as cur:
                    self.store.reset(cur)
                position = self.catch_up(progress)
            self._announce()
        self._guard(self.store.refresh_statistics)
        return position

    def status(self) -> dict[str, Any]:
        asked = self._guard(lambda: self.store.ask(keys_question(0, 0)))
        return {
            "position": asked.position, "head_position": asked.head, "lag": max(0, asked.head - asked.position),
            **self._guard(self.store.counts),
        }

    # Reading -------------------------------------------------------------------------------

    def _guard(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (PersistenceError, sqlite3.Error) as error:
            raise UnavailableError("lists_failed", error=type(error).__name__) from error

    def answer(self, question: Question, min_position: int | None = None, wait: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        """The rows of `question`, once the lists have read the log up to `min_position`, or
        without it up to the head as this read finds it; 503 `unavailable` if they cannot
        within `wait` seconds. In the common case the head, the position and the rows come
        from one round trip."""
        self.ledger.store_health.refuse_if_down()
        asked = self._guard(lambda: self.store.ask(question))
        target = asked.head if min_position is None else min_position
        if asked.position < target:
            if self.wait_for(target, wait):
                asked = self._guard(lambda: self.store.ask(question))
            if asked.position < target:
                raise UnavailableError("lists_behind", wanted=target)
        return asked.rows

    def _page(self, kind: str, rows: list[dict[str, Any]], limit: int) -> Page:
        following = encode_cursor(kind, rows[limit - 1]["position"]) if len(rows) > limit else None
        return Page(rows[:limit], following)

    def things(
        self,
        kind: str,
        *,
        region: str | None = None,
        q: str | None = None,
        organization_id: str | None = None,
        id_number_hash: str | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
        min_position: int | None = None,
    ) -> Page:
        """Volunteers, organisations or exchange points (`kind`: volunteer, organization,
        exchange_point), oldest registration first, with the filters given."""
        limit, region = check_limit(limit), check_region(region)
        after = decode_cursor(kind, cursor, 0)
        query = name_query(q)
        question = things_question(
            self.store, kind, after, limit + 1, region=region,
            name_key=query[0] if query else None, query_grams=query[1] if query else (),
            organization_id=organization_id, id_number_hash=id_number_hash,
        )
        return self._page(kind, self.answer(question, min_position), limit)

    def api_keys(self, cursor: str | None = None, limit: int = DEFAULT_LIMIT, min_position: int | None = None) -> Page:
        limit = check_limit(limit)
        after = decode_cursor("api_key", cursor, 0)
        return self._page("api_key", self.answer(keys_question(after, limit + 1), min_position), limit)

    def transactions(
        self,
        *,
        volunteer_id: str | None = None,
        exchange_point_id: str | None = None,
        type: str | None = None,
        from_: datetime | None = None,
        to: datetime | None = None,
        region: str | None = None,
        pickup_code: str | None = None,
        with_volunteer_name: bool = False,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
        min_position: int | None = None,
    ) -> Page:
        """Transactions, newest first; `from`/`to` bound the recorded time, both inclusive;
        `region`: only those all of whose parties are inside it."""
        limit, region = check_limit(limit), check_region(region)
        if from_ is not None and to is not None and from_ > to:
            raise ValidationError("from", "from_after_to")
        before = decode_cursor("transaction", cursor, NEWEST)
        question = transactions_question(
            before, limit + 1, volunteer_id=volunteer_id, exchange_point_id=exchange_point_id, type=type,
            from_us=micros(from_) if from_ is not None else None, to_us=micros(to) if to is not None else None,
            region=region, pickup_code=pickup_code, with_volunteer_name=with_volunteer_name,
        )
        return self._page("transaction", self.answer(question, min_position), limit)
