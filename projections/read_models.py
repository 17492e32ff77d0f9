"""ReadModels: what the HTTP layer and the command line call.

Consistency: eventually consistent with the ledger, with read-your-writes through positions:
every transaction's response carries its position; `wait_for(position, timeout)` answers once
the read models have processed it (a condition variable, woken by each committed batch).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.errors import UnavailableError, ValidationError
from projections.balances import BOOKS, SERVICE, BalancesProjection, balance_document, replay
from projections.dims import (
    ALL_LEVELS,
    EXACT,
    LENGTH_OF_LEVEL,
    ROLLUP_LEVELS,
    UNAFFILIATED,
    aware,
    check_dates,
    check_level,
    check_region,
    decode_cursor,
    encode_cursor,
    level_of_code,
    month_key,
    months_between,
    region_name,
    rfc3339,
    rfc3339_us,
    to_us,
)
from projections.runner import DEFAULT_BATCH_SIZE, Runner
from projections.schema import BAL_VOLUNTEER, CUMULATIVE_MEASURES, DAY_MEASURES, ST_ORG, ST_POINT, Table
from projections.stats import ACTIVE, BENEFICIARY, StatsProjection
from projections.store import GenerationChanged, Glance, Grouping, Reader, ReadModelStore, Spot

log = logging.getLogger("projections")

BREAKDOWNS = ("region", "organization", "category", "exchange_point", "month")
MAX_LIMIT = 1000
MAX_MONTHS = 1200
MIN_US, MAX_US = -(2**62), 2**62
FIGURES = (
    "volunteers", "active_volunteers", "service_records", "service_minutes", "redemptions",
    "redeemed_minutes", "timebank_accounts", "timebank_deposited_minutes",
    "timebank_withdrawn_minutes", "beneficiaries",
)
UNAFFILIATED_NAME = "未隶属组织"


def make_store(ledger: Any) -> ReadModelStore:
    recorder = ledger.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        from projections.postgres_store import PostgresReadModelStore

        return PostgresReadModelStore(recorder.datastore, recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        from projections.sqlite_store import SQLiteReadModelStore

        return SQLiteReadModelStore(recorder.datastore, recorder)
    raise TypeError(f"read models need a PostgreSQL or SQLite store, not {type(recorder).__name__}")


def _spot(region: str | None, max_level: int) -> Spot:
    if region is None:
        return Spot(0, 0, "", False)
    level = level_of_code(region)
    if level <= max_level:
        return Spot(level, level, region, False)
    return Spot(EXACT + level, EXACT + ALL_LEVELS, region, True)


def _figures(day: dict[str, int] | None, active: int, beneficiaries: int) -> dict[str, Any]:
    d = day or dict.fromkeys(DAY_MEASURES, 0)
    return {
        "volunteers": d["volunteers"],
        "active_volunteers": active,
        "service_records": d["service_records"],
        "service_minutes": d["service_minutes"],
        "redemptions": d["redemptions"],
        "redeemed_minutes": d["redeemed_minutes"],
        "timebank_accounts": d["timebank_accounts"],
        "timebank_deposited_minutes": d["deposited_minutes"],
        "timebank_withdrawn_minutes": d["withdrawn_minutes"],
        "beneficiaries": beneficiaries,
        "stars": {str(k): d[f"star{k}"] for k in range(1, 6)},
    }


def _is_zero(figures: dict[str, Any]) -> bool:
    return not any(figures[f] for f in FIGURES) and not any(figures["stars"].values()) and not figures.get("items")


class ReadModels:
    """Read models of one HourLedger, in the same store (database file or schema)."""

    def __init__(
        self,
        ledger: Any,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_interval: float | None = None,
        on_batch: Callable[[str, int, int, int], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.store = make_store(ledger)
        self.thresholds = tuple(ledger.settings.star_thresholds_minutes)
        self.projections = [BalancesProjection(), StatsProjection(self.thresholds)]
        self.names = [p.name for p in self.projections]
        self.batch_size = batch_size
        self.on_batch = on_batch
        # SQLite is polled (other processes' writes); PostgreSQL notifies, the poll is a fallback.
        self.poll_interval = poll_interval or (2.0 if self.store.supports_notifications else 0.25)
        self._guard(lambda: self.store.setup(self.names))
        self._runner: Runner | None = None
        self._lock = threading.RLock()  # one catch-up at a time in this process
        self._state = threading.Lock()  # starting and stopping
        self._changed = threading.Condition()
        self._known = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._hooked = False

    # Following ---------------------------------------------------------------------------

    def start(self) -> None:
        """Follows the log in a background (daemon) thread; does nothing if already following."""
        with self._state:
            if self.following:
                return
            self._stopping = threading.Event()
            self._hook()
            threads = [threading.Thread(target=self._follow, args=(self._stopping,), name="projections-follower", daemon=True)]
            if self.store.supports_notifications:
                threads.append(threading.Thread(
                    target=self.store.listen, args=(self._wake, self._stopping),
                    name="projections-listener", daemon=True,
                ))
            self._threads = threads
            for thread in threads:
                thread.start()

    def _hook(self) -> None:
        """Wakes the follower at once when this process's ledger saves."""
        if self._hooked:
            return
        self._hooked = True
        this = weakref.ref(self)

        def saved(position: int) -> None:
            models = this()
            if models is not None:
                models._wake.set()

        self.ledger.on_saved(saved)

    def stop(self) -> None:
        with self._state:
            stopping, threads = self._stopping, self._threads
            self._threads = []
        stopping.set()
        self._wake.set()
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()

    @property
    def following(self) -> bool:
        return any(t.is_alive() for t in self._threads) and not self._stopping.is_set()

    def _follow(self, stopping: threading.Event) -> None:
        failures = 0
        while not stopping.is_set():
            self._wake.clear()
            try:
                self.catch_up()
                failures = 0
            except Exception:
                failures += 1
                log.exception("projections: catching up failed (attempt %s)", failures)
                stopping.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            self._wake.wait(self.poll_interval)

    def follow(self, stopping: threading.Event) -> None:
        """Follows in this thread until `stopping` is set (the command line's `follow`)."""
        with self._state:
            if self.following:
                raise RuntimeError("already following in a background thread")
            self._stopping = stopping
            self._hook()
        listener = None
        if self.store.supports_notifications:
            listener = threading.Thread(
                target=self.store.listen, args=(self._wake, stopping), name="projections-listener", daemon=True
            )
            listener.start()
        try:
            self._follow(stopping)
        finally:
            stopping.set()
            if listener:
                listener.join()

    def catch_up(self) -> int:
        """Processes everything recorded so far, in this thread; answers the position."""
        with self._lock:
            for _ in range(10):
                runner = self._current_runner()
                try:
                    position = runner.run()
                except Exception as error:
                    # A rebuild switched generations (the old tables may be gone): follow the new.
                    if isinstance(error, GenerationChanged) or self._generation_moved(runner):
                        self._runner = None
                        continue
                    raise
                self._advance(position)
                return position
            raise UnavailableError("read_models_generation")

    def _generation_moved(self, runner: Runner) -> bool:
        try:
            return self.store.generation_state(runner.generation) != "current"
        except Exception:  # noqa: BLE001
            return False

    def _current_runner(self) -> Runner:
        if self._runner is None:
            generation = self._current_generation()
            self._runner = Runner(
                self.ledger, self.store, self.projections, generation, "current",
                batch_size=self.batch_size, on_batch=self._batch_done,
            )
        return self._runner

    def _current_generation(self) -> int:
        for generation, state in self.store.generations():
            if state == "current":
                return generation
        return self.store.setup(self.names)

    def _batch_done(self, name: str, generation: int, position: int, events: int) -> None:
        runner = self._runner
        if runner is not None:
            self._advance(runner.position)
        if self.on_batch:
            self.on_batch(name, generation, position, events)

    def _advance(self, position: int) -> None:
        with self._changed:
            self._known = position
            self._changed.notify_all()

    def position(self) -> int:
        """The last notification id every read model has processed."""
        generation = self._guard(self._current_generation)
        position = min(self._guard(lambda: self.store.positions(generation, self.names)).values())
        with self._changed:
            if position > self._known:
                self._known = position
                self._changed.notify_all()
        return position

    def wait_for(self, position: int, timeout: float) -> bool:
        """True once the read models have processed `position` (False after `timeout` seconds)."""
        if position <= self._known:
            return True
        deadline = time.monotonic() + max(0.0, timeout)
        if not self.following:
            # Nobody follows in this process: perhaps another process did it; else catch up
            # here (or wait for the thread that is).
            if self.position() >= position:
                return True
            if self._lock.acquire(timeout=max(0.0, timeout)):
                try:
                    self._guard(self.catch_up)
                finally:
                    self._lock.release()
            if position <= self._known:
                return True
        self._wake.set()
        with self._changed:
            return self._changed.wait_for(
                lambda: self._known >= position, timeout=max(0.0, deadline - time.monotonic())
            )

    # Reading -----------------------------------------------------------------------------

    def _guard(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (PersistenceError, sqlite3.Error) as error:
            raise UnavailableError("read_models_failed", error=type(error).__name__) from error

    def _read(self, question: Callable[[Reader], Any]) -> Any:
        """Asks in one snapshot of the current generation; again if a rebuild switched
        generations meanwhile (the old tables may be gone by then)."""

        def ask() -> Any:
            with self.store.reading() as reader:
                return question(reader)

        return self._again_if_moved(ask)

    def _again_if_moved(self, read: Callable[[], Any]) -> Any:
        """`read()`; again if a rebuild switched generations under it."""
        self.ledger.refuse_if_store_down()
        for attempt in range(3):
            try:
                return read()
            except (GenerationChanged, PersistenceError, sqlite3.Error) as error:
                text = str(error)
                moved = isinstance(error, GenerationChanged) or "no such table" in text or "does not exist" in text
                if moved and attempt < 2:
                    continue
                raise UnavailableError("read_models_failed", error=type(error).__name__) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def caught_up_glance(
        self, table: Table, key: tuple[Any, ...], names: Sequence[str], min_position: int | None, wait: float
    ) -> Glance:
        """A row of a read model, read once `names` have processed `min_position` (else, after
        up to `wait` seconds, UnavailableError), or without it the head of the log as this read
        finds it (else, after up to `wait` seconds, what they hold then): a client sees every
        write that finished before its read unless the follower is far behind.

        One statement when the read models are up to date (the row, the head and the
        position come from one snapshot); only a follower behind makes it wait and read again."""

        def read() -> Glance:
            return self.store.glance(table, key, names)

        glance: Glance = self._again_if_moved(read)
        target = glance.head if min_position is None else min_position
        if glance.position < target:
            self.wait_for(target, wait)
            glance = self._again_if_moved(read)
        if min_position is not None and glance.position < min_position:
            raise UnavailableError("read_models_behind", position=glance.position, wanted=min_position)
        return glance

    def balance(
        self,
        volunteer_id: UUID,
        as_of: datetime | None = None,
        *,
        min_position: int | None = None,
        wait: float | None = None,
    ) -> dict[str, Any] | None:
        """Both books of a volunteer (None: the read models do not know them). With `wait`
        (seconds), once the balances have caught up with `min_position` or the log's head:
        see `caught_up_glance`."""
        as_of = aware("as_of", as_of)
        vid = str(volunteer_id)

        def now(row: dict[str, Any]) -> dict[str, Any]:
            return balance_document(
                row["earned"], row["redeemed"], row["timebank_opened_us"] is not None,
                row["timebank_balance"], self.thresholds, rfc3339(self.ledger.clock()),
            )

        if wait is not None:
            found = self.caught_up_glance(BAL_VOLUNTEER, (vid,), [BalancesProjection.name], min_position, wait)
            if as_of is None:
                return None if found.row is None else now(found.row)
            # As of a moment: the statement entries, read below now that the balances are there.

        def question(r: Reader) -> dict[str, Any] | None:
            row = r.row(BAL_VOLUNTEER, (vid,))
            if row is None:
                return None
            if as_of is None:
                return now(row)
            us = to_us(as_of)
            service = r.entry_at_or_before(vid, SERVICE, us)
            timebank = r.entry_at_or_before(vid, "timebank", us)
            opened = row["timebank_opened_us"]
            return balance_document(
                service["earned_after"] if service else 0,
                service["redeemed_after"] if service else 0,
                opened is not None and opened <= us,
                timebank["balance_after"] if timebank else 0,
                self.thresholds, rfc3339(as_of),
            )

        return self._read(question)

    def replayed_balance(self, volunteer_id: UUID, as_of: datetime | None = None) -> dict[str, Any] | None:
        """The auditor's cross-check: the same answer, from the aggregates' own events."""
        as_of = aware("as_of", as_of)
        found = self._guard(lambda: replay(self.ledger, volunteer_id, as_of))
        if found is None:
            return None
        earned, redeemed, opened, balance = found
        moment = rfc3339(as_of) if as_of is not None else rfc3339(self.ledger.clock())
        return balance_document(earned, redeemed, opened, balance, self.thresholds, moment)

    def statement(
        self,
        volunteer_id: UUID,
        book: str,
        from_: datetime | None,
        to: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> dict[str, Any] | None:
        if book not in BOOKS:
            raise ValidationError("book", "book_choice")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValidationError("limit", "whole_range", low=1, high=MAX_LIMIT)
        from_, to = aware("from", from_), aware("to", to)
        if from_ is not None and to is not None and from_ > to:
            raise ValidationError("from", "not_after", other="to")
        vid = str(volunteer_id)
        after_seq = 0
        if cursor is not None:
            parts = decode_cursor(cursor) if isinstance(cursor, str) else []
            if len(parts) != 4 or parts[0] != "s1" or parts[1] != vid[:8] or parts[2] != book or not parts[3].isdigit():
                raise ValidationError("cursor", "cursor_other_statement")
            after_seq = int(parts[3])
        from_us = to_us(from_) if from_ is not None else MIN_US
        to_us_ = to_us(to) if to is not None else MAX_US

        def question(r: Reader) -> dict[str, Any] | None:
            row = r.row(BAL_VOLUNTEER, (vid,))
            if row is None:
                return None
            before = r.entry_at_or_before(vid, book, from_us, strict=True) if from_ is not None else None
            if to is not None:
                last = r.entry_at_or_before(vid, book, to_us_)
                closing = last["balance_after"] if last else 0
            elif book == SERVICE:
                closing = row["earned"] - row["redeemed"]
            else:
                closing = row["timebank_balance"]
            rows = r.entries(vid, book, after_seq, from_us, to_us_, limit + 1)
            page = rows[:limit]
            return {
                "opening_minutes": before["balance_after"] if before else 0,
                "entries": [
                    {
                        "transaction_id": e["transaction_id"],
                        "type": e["type"],
                        "minutes": e["minutes"],
                        "balance_after_minutes": e["balance_after"],
                        "recorded_at": rfc3339_us(e["recorded_us"]),
                    }
                    for e in page
                ],
                "closing_minutes": closing,
                "next_cursor": encode_cursor("s1", vid[:8], book, page[-1]["seq"]) if len(rows) > limit else None,
            }

        return self._read(question)

    # Statistics --------------------------------------------------------------------------

    def summary(self, region: str | None, from_: date | None, to: date | None) -> dict[str, Any]:
        region = check_region("region", region)
        first, last = check_dates(from_, to)

        def question(r: Reader) -> dict[str, Any]:
            none = Grouping("none")
            day = r.day_sums(_spot(region, ROLLUP_LEVELS), "", False, first, last, none).get(None)
            active = self._active(r, region, first, last, none)
            ben = r.distinct_counts(BENEFICIARY, _spot(region, ALL_LEVELS), first, last, none)
            return _figures(day, active.get(None, 0), ben.get(None, 0))

        return self._read(question)

    @staticmethod
    def _active(r: Reader, region: str | None, first: int, last: int, grouping: Grouping) -> dict[Any, int]:
        """Active volunteers: rolled-up counts down to county level, the pairs themselves below."""
        if region is not None and level_of_code(region) > ROLLUP_LEVELS:
            return r.pair_counts(ACTIVE, "", False, region, first, last, grouping)
        return r.distinct_counts(ACTIVE, _spot(region, ROLLUP_LEVELS), first, last, grouping)

    def breakdown(
        self, by: str, level: str | None, region: str | None, from_: date | None, to: date | None
    ) -> dict[str, Any]:
        if by not in BREAKDOWNS:
            raise ValidationError("by", "one_of", choices=list(BREAKDOWNS))
        level_number = check_level(level)
        region = check_region("region", region)
        first, last = check_dates(from_, to)
        if by == "region":
            top = level_of_code(region) if region else 0
            if level_number is None:
                level_number = min(top + 1, ALL_LEVELS)
            if level_number < top:
                raise ValidationError("level", "level_above_region")
            groups = self._read(lambda r: self._by_region(r, region, top, level_number, first, last))
        elif by == "month":
            groups = self._read(lambda r: self._by_month(r, region, from_, to, first, last))
        else:
            prefix = {"organization": "o:", "category": "c:", "exchange_point": "p:"}[by]
            groups = self._read(lambda r: self._by_group(r, by, prefix, region, first, last))
        return {"by": by, "groups": groups}

    def _by_region(
        self, r: Reader, region: str | None, top: int, level: int, first: int, last: int
    ) -> list[dict[str, Any]]:
        anc = region or ""
        by_anc = Grouping("anc")
        deeper = Grouping("substr", LENGTH_OF_LEVEL[level])
        # Groups at `level` from the rollups, and codes recorded above `level` (coarser than
        # asked, e.g. a volunteer registered at county level in a town breakdown) as their own.
        at_level = Spot(level, level, anc, True)
        coarser = Spot(EXACT + max(top, 1), EXACT + level - 1, anc, True) if level - 1 >= max(top, 1) else None
        exact_all = Spot(EXACT + max(top, 1), EXACT + ALL_LEVELS, anc, True)

        def parts(max_level: int) -> list[tuple[Spot, Grouping]]:
            if level <= max_level:
                return [(at_level, by_anc)] + ([(coarser, by_anc)] if coarser else [])
            return [(exact_all, deeper)]

        days: dict[Any, Any] = {}
        for spot, grouping in parts(ROLLUP_LEVELS):
            days.update(r.day_sums(spot, "", False, first, last, grouping))
        active: dict[Any, int] = {}
        if level <= ROLLUP_LEVELS:
            for spot, grouping in parts(ROLLUP_LEVELS):
                active.update(r.distinct_counts(ACTIVE, spot, first, last, grouping))
        else:
            active = r.pair_counts(ACTIVE, "", False, region, first, last, deeper)
        ben: dict[Any, int] = {}
        for spot, grouping in parts(ALL_LEVELS):
            ben.update(r.distinct_counts(BENEFICIARY, spot, first, last, grouping))
        groups = []
        for key in sorted(set(days) | set(active) | set(ben)):
            figures = _figures(days.get(key), active.get(key, 0), ben.get(key, 0))
            if not _is_zero(figures):
                groups.append({"key": key, "name": region_name(key), **figures})
        return groups

    def _by_group(
        self, r: Reader, by: str, prefix: str, region: str | None, first: int, last: int
    ) -> list[dict[str, Any]]:
        by_grp = Grouping("grp")
        days = r.day_sums(_spot(region, ROLLUP_LEVELS), prefix, True, first, last, by_grp)
        active: dict[str, int] = {}
        ben: dict[str, int] = {}
        if by in ("organization", "category"):
            active = r.pair_counts(ACTIVE, prefix, True, region, first, last, Grouping("scope"))
        if by == "organization":
            # A beneficiary is counted once per region prefix and organisation.
            scope = f"{level_of_code(region) if region else 0}|{region or ''}|"
            found = r.pair_counts(BENEFICIARY, scope + prefix, True, None, first, last, Grouping("scope"))
            ben = {k[len(scope):]: v for k, v in found.items()}
        keys = sorted({k[len(prefix):] for k in set(days) | set(active) | set(ben)})
        if by == "organization":
            names = {k: v["name"] for k, v in r.names(ST_ORG, keys).items()}
            names.setdefault(UNAFFILIATED, UNAFFILIATED_NAME)
        elif by == "exchange_point":
            names = {k: v["name"] for k, v in r.names(ST_POINT, keys).items()}
        else:
            names = {}
        groups = []
        for key in keys:
            g = prefix + key
            figures = _figures(days.get(g), active.get(g, 0), ben.get(g, 0))
            if by == "exchange_point":
                figures["items"] = (days.get(g) or {}).get("items", 0)
            if not _is_zero(figures):
                groups.append({"key": key, "name": names.get(key, key), **figures})
        if by != "category":
            groups.sort(key=lambda g: (g["name"], g["key"]))
        return groups

    def _by_month(
        self, r: Reader, region: str | None, from_: date | None, to: date | None, first: int, last: int
    ) -> list[dict[str, Any]]:
        spot = _spot(region, ROLLUP_LEVELS)
        span = r.day_span(spot)
        if from_ is None and to is None and span is None:
            return []
        first_month = first // 100 if from_ else (span[0] // 100 if span else last // 100)
        last_month = last // 100 if to else max(span[1] // 100 if span else first_month, first_month)
        months = months_between(first_month, last_month)
        if len(months) > MAX_MONTHS:
            raise ValidationError("from", "months_max", max=MAX_MONTHS)
        by_month = Grouping("month")
        days = r.day_sums(spot, "", False, first, last, by_month)
        active = self._active(r, region, first, last, by_month)
        ben = r.distinct_counts(BENEFICIARY, _spot(region, ALL_LEVELS), first, last, by_month)
        running = dict.fromkeys(CUMULATIVE_MEASURES, 0)
        for month in sorted(m for m in days if m < first_month):
            for name in CUMULATIVE_MEASURES:
                running[name] += days[month][name]
        groups = []
        for month in months:
            sums = dict(days.get(month) or dict.fromkeys(DAY_MEASURES, 0))
            for name in CUMULATIVE_MEASURES:
                running[name] += sums[name]
                sums[name] = running[name]
            key = month_key(month)
            groups.append({"key": key, "name": key, **_figures(sums, active.get(month, 0), ben.get(month, 0))})
        return groups

    # Operations --------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        head = int(self._guard(self.ledger.head_position) or 0)
        rows = []
        for generation, state in self._guard(self.store.generations):
            positions = self._guard(lambda g=generation: self.store.positions(g, self.names))
            for name in self.names:
                rows.append({
                    "name": name,
                    "generation": generation,
                    "state": state,
                    "position": positions[name],
                    "head_position": head,
                    "lag": max(0, head - positions[name]),
                })
        return rows

    def rebuild(
        self,
        progress: Callable[[int, int], None] | None = None,
        batch_size: int | None = None,
        stage: Callable[[str], None] | None = None,
        bulk: bool = True,
    ) -> int:
        """Rebuilds every read model from the first event into new tables while the current
        ones keep serving, switches to them atomically, and drops the old ones.

        Where the store has a bulk path (PostgreSQL) it loads the log as far as its snapshot
        saw, then the projections process the rest; `bulk=False` makes them process it all."""
        say = stage or (lambda text: None)
        generation = self._guard(lambda: self.store.begin_generation(self.names))
        size = batch_size or max(self.batch_size, self.store.rebuild_batch_size)
        try:
            if bulk:
                self.store.bulk_load(
                    generation, self.names, self.thresholds, progress, stage,
                    work_mem=self.ledger.settings.rebuild_work_mem,
                )
            runner = Runner(self.ledger, self.store, self.projections, generation, "building", batch_size=size)
            say("reading the log")
            runner.run(progress)
            say("analysing the new tables")
            self.store.analyze(generation)
            # Close the gap outside any lock first; then the last few events inside the switch,
            # while the current generation cannot move: positions never go backwards.
            while runner.head() - runner.run(progress) > size:
                pass
            say("switching")
            replaced = self.store.switch_generation(
                generation, self.names, final=lambda transaction: runner.run(progress, transaction)
            )
            if replaced is None:  # pragma: no cover - final() caught up under the lock
                raise UnavailableError("rebuild_catch_up")
        except BaseException:
            try:
                self.store.drop_generation(generation, self.names)
            except Exception:  # noqa: BLE001
                log.exception("projections: dropping the unfinished generation %s failed", generation)
            raise
        if replaced:
            self.store.drop_generation(replaced, self.names)
        position = runner.position
        if progress:
            progress(position, max(position, runner.head()))
        self._advance(max(self._known, position))
        self._wake.set()
        return position

    # Tests and tools ---------------------------------------------------------------------

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every read-model table of the current generation (names without the
        generation), for comparing generations."""
        from projections.schema import ALL_TABLES

        return self._read(lambda r: {t.name: r.dump(t) for t in ALL_TABLES})

    def close(self) -> None:
        self.stop()
