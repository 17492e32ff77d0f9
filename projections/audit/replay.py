"""Replay and compare (SPEC §6, `hour-ledger audit replay [--as-of T]`).

Recomputes from the stored events alone -- never from snapshots or the read-model tables --
every volunteer's two books and star level, every exchange point's stock and the community
pool; checks that every transaction's legs sum to zero and that all accounts together sum to
zero; cross-checks the legs with the books; and compares the outcome with the read models and
with the aggregates as the application loads them (with snapshots). Every disagreement is a
`Difference`.

How the events are read: the recorder's public API, `select_notifications` in pages of
`PAGE_SIZE`, in log order, each decoded by the application's mapper. Each event is applied
with its own `mutate()` (the domain's code, version checks included) to the aggregate it
belongs to, held in memory. Transactions and certificates are not kept (there is one per
posting; a long log holds millions): a transaction's `Posted` event is built into an aggregate
(which checks its legs), checked and summed into per-account totals, then dropped. Memory is
therefore per volunteer, account, exchange point and organisation, never per event.

`as_of` is recorded time, as the read models answer it (SPEC §3): a transaction counts when
its `Posted` event was recorded at or before `as_of`, and so do the events it caused in the
accounts (they carry its id as `transaction_id` or `reversal_id`, were saved in the same store
transaction just before it, and bear a timestamp a few microseconds earlier). Those events wait
in a short queue until their transaction's `Posted` event decides them. Registrations, openings
and item changes count by their own timestamp.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import CanInitAggregate

from ledger.certificate import Certificate
from ledger.exchange_point import ExchangePoint
from ledger.pool import POOL_ID, CommunityPool
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.vocabulary import POOL_ACCOUNT as POOL
from ledger.vocabulary import AccountAddress, AccountAddressError, AccountKind, Book, star_level
from ledger.volunteer import Volunteer

PAGE_SIZE = 5_000
# Events that wait for their transaction's `Posted` event: one store transaction's worth (an
# atomic batch of 1,000 postings is a few thousand). Beyond this, a waiting event is decided by
# its own timestamp (a log where the transaction never follows is reported anyway).
MAX_WAITING = 50_000
# With `as_of`, reading stops after a whole page recorded later than `as_of` + this: an event is
# stored within seconds of being created (one attempt of a use case), so nothing after such a
# page can have been recorded at or before `as_of`.
SETTLE = timedelta(minutes=10)
# Aggregates kept only while their event is checked (one per posting or certificate).
_TRANSIENT_EVENTS: tuple[type, ...] = (Transaction.Event, Certificate.Event)
_NO_VALUE = object()


@dataclass(frozen=True)
class Difference:
    """One disagreement. `expected` is what the events say; `found` what the other side (the
    read models, the aggregate as loaded with snapshots, or the legs) says; None where there is
    no other side."""

    what: str
    expected: object
    found: object


@dataclass(frozen=True)
class ReplayReport:
    events: int  # events replayed (with as_of: those recorded at or before it)
    volunteers: int
    transactions: int
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def replay(
    ledger: Any,
    read_models: Any | None,
    as_of: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Replays the whole log (or up to `as_of`, recorded time) and compares; see the module doc.

    `ledger` is an `HourLedger`; `read_models` a `ReadModels` of it, or None to compare with
    nothing but the events themselves and the stored aggregates. `progress(done, total)` is
    called after each page with the last position read and the log's head."""
    if as_of is not None and (as_of.tzinfo is None or as_of.utcoffset() is None):
        raise ValueError("as_of needs a zone, e.g. 2026-03-05T09:00:00+08:00")
    thresholds = tuple(ledger.settings.star_thresholds_minutes)
    state = _Replay(ledger.mapper, as_of)
    head = ledger.recorder.max_notification_id() or 0
    state.read(ledger.recorder, head, progress)
    if read_models is not None:
        # The read models are brought to the head; what was recorded meanwhile is replayed too,
        # so both sides stand at the same position when they are compared (a few rounds at
        # most: on a ledger that never rests, a volunteer posting just then may differ).
        for _ in range(5):
            position = read_models.catch_up()
            if position <= state.position or state.stopped_early:
                break
            state.read(ledger.recorder, position, progress)
    state.finish()

    books = _books(state, thresholds)
    differences = list(state.differences)
    differences += _check_legs(state, books)
    if read_models is not None:
        differences += _compare_read_models(read_models, books, as_of)
    if as_of is None:
        differences += _compare_stored(ledger, state, thresholds)
    return ReplayReport(
        events=state.applied,
        volunteers=len(books),
        transactions=state.transactions,
        differences=differences,
    )


# Reading and rebuilding ---------------------------------------------------------------------


def _as_uuid(value: Any) -> UUID | None:
    if value is None or isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None


class _Replay:
    """The aggregates rebuilt so far, the per-account sums of the legs, and what went wrong."""

    def __init__(self, mapper: Any, as_of: datetime | None) -> None:
        self.mapper = mapper
        self.as_of = as_of
        self.position = 0  # the last notification id read
        self.applied = 0
        self.transactions = 0
        self.stopped_early = False
        self.aggregates: dict[UUID, Any] = {}
        self.accounts: dict[str, int] = {}
        # Minutes of the items an exchange point gave out, less those returned (its events' lines).
        self.stock_value: dict[UUID, int] = {}
        self.differences: list[Difference] = []
        # as_of: events waiting for their transaction's decision, and the decisions.
        self.waiting: deque[tuple[int, Any, UUID | None]] = deque()
        self.decided: dict[UUID, bool] = {}
        self.excluded: set[UUID] = set()  # aggregates with an event after as_of: none later counts

    # Reading

    def read(self, recorder: Any, stop: int, progress: Callable[[int, int], None] | None) -> None:
        total = max(stop, self.position)
        while self.position < stop:
            page = recorder.select_notifications(
                self.position, PAGE_SIZE, stop=stop, inclusive_of_start=False
            )
            if not page:
                break
            earliest = None
            for notification in page:
                self.position = notification.id
                event = self._decode(notification)
                if event is None:
                    continue
                if self.as_of is None:
                    self._apply(notification.id, event)
                else:
                    self._stage(notification.id, event)
                    if earliest is None or event.timestamp < earliest:
                        earliest = event.timestamp
            if progress:
                progress(self.position, total)
            if self.as_of is not None and len(page) == PAGE_SIZE and earliest is not None:
                if earliest > self.as_of + SETTLE:
                    self.stopped_early = True
                    break

    def _decode(self, notification: Any) -> Any | None:
        try:
            return self.mapper.to_domain_event(notification)
        except Exception as error:  # noqa: BLE001 - a stored event that cannot be read is a finding
            self.differences.append(Difference(
                f"event at position {notification.id} ({notification.topic}): cannot be decoded",
                "a readable event", f"{type(error).__name__}: {error}",
            ))
            return None

    def finish(self) -> None:
        self._drain(force=True)

    # as_of: each event counts when the transaction that caused it was recorded by then

    def _stage(self, position: int, event: Any) -> None:
        if isinstance(event, Transaction.Posted):
            self.decided[_as_uuid(event.originator_id)] = event.timestamp <= self.as_of
            cause = _as_uuid(event.originator_id)
        else:
            cause = _as_uuid(getattr(event, "reversal_id", None) or getattr(event, "transaction_id", None))
        self.waiting.append((position, event, cause))
        self._drain(force=False)

    def _drain(self, force: bool) -> None:
        while self.waiting:
            position, event, cause = self.waiting[0]
            if cause is not None and cause in self.decided:
                included = self.decided[cause]
            elif cause is None or force or len(self.waiting) > MAX_WAITING:
                included = event.timestamp <= self.as_of
            else:
                return  # its transaction's Posted event has not been read yet
            self.waiting.popleft()
            originator = _as_uuid(event.originator_id)
            if included and originator not in self.excluded:
                self._apply(position, event)
            elif not isinstance(event, _TRANSIENT_EVENTS):
                self.excluded.add(originator)
        self.decided.clear()  # nothing waits: the decisions were all used

    # Applying

    def _apply(self, position: int, event: Any) -> None:
        self.applied += 1
        originator = _as_uuid(event.originator_id)
        if isinstance(event, Transaction.Posted):
            self._posted(position, event)
            return
        if isinstance(event, _TRANSIENT_EVENTS):
            if isinstance(event, CanInitAggregate):
                self._mutate(position, event, None)
            return  # e.g. Transaction.Reversed: the transaction itself is not kept
        if isinstance(event, CanInitAggregate):
            if originator in self.aggregates:
                self._bad(position, event, "creates an aggregate that exists already")
                return
            aggregate = self._mutate(position, event, None)
        else:
            current = self.aggregates.get(originator)
            if current is None:
                self._bad(position, event, "belongs to no aggregate created before it")
                return
            aggregate = self._mutate(position, event, current)
            if aggregate is not None:
                self._value_of_stock(event)
        if aggregate is not None:
            self.aggregates[originator] = aggregate

    def _mutate(self, position: int, event: Any, aggregate: Any) -> Any:
        try:
            return event.mutate(aggregate)
        except Exception as error:  # noqa: BLE001 - any failure of the domain's code is a finding
            self._bad(position, event, f"cannot be applied: {type(error).__name__}: {error}")
            return None

    def _bad(self, position: int, event: Any, problem: str) -> None:
        self.differences.append(Difference(
            f"event at position {position} ({type(event).__qualname__} of {event.originator_id}, "
            f"version {event.originator_version}): {problem}",
            None, None,
        ))

    def _posted(self, position: int, event: Any) -> None:
        self.transactions += 1
        legs = getattr(event, "legs", None)
        if not isinstance(legs, list) or not all(_is_leg(leg) for leg in legs):
            self.differences.append(Difference(
                f"transaction {event.originator_id}: legs are not a list of {{account, minutes}} "
                "with whole minutes", None, legs,
            ))
            return
        total = sum(leg["minutes"] for leg in legs)
        if total != 0:
            self.differences.append(Difference(f"transaction {event.originator_id}: legs sum to {total}", 0, total))
        else:
            # The domain's own construction (it refuses unbalanced legs, reported above).
            self._mutate(position, event, None)
        for leg in legs:
            self.accounts[leg["account"]] = self.accounts.get(leg["account"], 0) + leg["minutes"]

    def _value_of_stock(self, event: Any) -> None:
        if isinstance(event, ExchangePoint.StockTaken):
            sign = 1
        elif isinstance(event, ExchangePoint.StockReturned):
            sign = -1
        else:
            return
        point = _as_uuid(event.originator_id)
        value = sum(line["price_minutes"] * line["quantity"] for line in event.lines)
        self.stock_value[point] = self.stock_value.get(point, 0) + sign * value


def _is_leg(leg: Any) -> bool:
    return (
        isinstance(leg, dict)
        and isinstance(leg.get("account"), str)
        and isinstance(leg.get("minutes"), int)
        and not isinstance(leg.get("minutes"), bool)
    )


# What the events say ------------------------------------------------------------------------


@dataclass
class _Book:
    earned: int
    redeemed: int
    star: int
    timebank_open: bool
    timebank_balance: int

    def fields(self) -> list[tuple[str, Any]]:
        return [
            ("service earned_minutes", self.earned),
            ("service redeemed_minutes", self.redeemed),
            ("service available_minutes", self.earned - self.redeemed),
            ("service star_level", self.star),
            ("timebank open", self.timebank_open),
            ("timebank balance_minutes", self.timebank_balance),
        ]


def _books(state: _Replay, thresholds: tuple[int, ...]) -> dict[UUID, _Book]:
    books: dict[UUID, _Book] = {}
    for aggregate in state.aggregates.values():
        if isinstance(aggregate, Volunteer):
            books[aggregate.id] = _Book(
                aggregate.earned_minutes, aggregate.redeemed_minutes,
                star_level(aggregate.earned_minutes, thresholds), False, 0,
            )
    for aggregate in state.aggregates.values():
        if isinstance(aggregate, TimebankAccount):
            book = books.get(_as_uuid(aggregate.volunteer_id))
            if book is None:
                state.differences.append(Difference(
                    f"time-bank account {aggregate.id}: of no registered volunteer ({aggregate.volunteer_id})",
                    None, aggregate.balance_minutes,
                ))
                continue
            book.timebank_open = True
            book.timebank_balance = aggregate.balance_minutes
    return books


def _check_legs(state: _Replay, books: dict[UUID, _Book]) -> list[Difference]:
    """All accounts sum to zero, and each account that mirrors a book agrees with it."""
    out: list[Difference] = []
    accounts = state.accounts
    grand = sum(accounts.values())
    if grand != 0:
        out.append(Difference(f"all accounts sum to {grand}", 0, grand))

    # A volunteer's service account: +service, -redemption, and their reversals' opposites.
    # Its time-bank account: every deposit, withdrawal, transfer, donation, grant and reversal.
    for vid, book in books.items():
        service = AccountAddress.volunteer(vid, Book.SERVICE)
        legs = accounts.get(str(service), 0)
        if legs != book.earned - book.redeemed:
            out.append(Difference(
                f"volunteer {vid}: legs of {service} against service available_minutes",
                book.earned - book.redeemed, legs,
            ))
        timebank = AccountAddress.volunteer(vid, Book.TIMEBANK)
        legs = accounts.get(str(timebank), 0)
        if legs != book.timebank_balance:
            out.append(Difference(
                f"volunteer {vid}: legs of {timebank} against timebank balance_minutes",
                book.timebank_balance, legs,
            ))
    known = {str(vid) for vid in books}
    points = {str(a.id) for a in state.aggregates.values() if isinstance(a, ExchangePoint)}
    org_service = points_total = 0
    for account, minutes in sorted(accounts.items()):
        try:
            address = AccountAddress.parse(account)
        except AccountAddressError:
            out.append(Difference(f"account {account}: not an account of the ledger", 0, minutes))
            continue
        if address.kind is AccountKind.VOLUNTEER and address.owner not in known:
            out.append(Difference(f"account {account}: of no registered volunteer's book", 0, minutes))
        elif address.kind is AccountKind.EXCHANGE_POINT:
            points_total += minutes
            if address.owner not in points:
                out.append(Difference(f"account {account}: of no registered exchange point", 0, minutes))
        elif address.kind is AccountKind.ORGANIZATION and address.book is Book.SERVICE:
            org_service += minutes

    # Service hours come from organisations; redeemed hours go to exchange points.
    earned = sum(book.earned for book in books.values())
    redeemed = sum(book.redeemed for book in books.values())
    if org_service != -earned:
        out.append(Difference(
            "organisations' service accounts together, against the volunteers' earned_minutes", -earned, org_service,
        ))
    if points_total != redeemed:
        out.append(Difference(
            "exchange points' accounts together, against the volunteers' redeemed_minutes", redeemed, points_total,
        ))
    # Each exchange point's account holds the price of the items it gave out, less those returned.
    for point in sorted(points):
        value = state.stock_value.get(UUID(point), 0)
        account = str(AccountAddress.exchange_point(point))
        legs = accounts.get(account, 0)
        if legs != value:
            out.append(Difference(
                f"exchange point {point}: legs of {account} against the price of the stock it gave out",
                value, legs,
            ))

    pool = state.aggregates.get(POOL_ID)
    pool_balance = pool.balance_minutes if isinstance(pool, CommunityPool) else 0
    if accounts.get(POOL, 0) != pool_balance:
        out.append(Difference("community pool: legs of pool against the pool's balance", pool_balance, accounts.get(POOL, 0)))
    return out


# Comparing ----------------------------------------------------------------------------------


def _compare_read_models(read_models: Any, books: dict[UUID, _Book], as_of: datetime | None) -> list[Difference]:
    out: list[Difference] = []
    for vid in sorted(books, key=str):
        book = books[vid]
        document = read_models.balance(vid, as_of)
        if document is None:
            out.append(Difference(f"volunteer {vid}: balance in the read models", "a balance", None))
            continue
        found = {
            "service earned_minutes": document["service"]["earned_minutes"],
            "service redeemed_minutes": document["service"]["redeemed_minutes"],
            "service available_minutes": document["service"]["available_minutes"],
            "service star_level": document["service"]["star_level"],
            "timebank open": document["timebank"]["open"],
            "timebank balance_minutes": document["timebank"]["balance_minutes"],
        }
        for name, expected in book.fields():
            if found[name] != expected:
                out.append(Difference(f"volunteer {vid}: {name} in the read models", expected, found[name]))
    return out


def _compare_stored(ledger: Any, state: _Replay, thresholds: tuple[int, ...]) -> list[Difference]:
    """Each kept aggregate as the application loads it (snapshot, then newer events), at the
    version the replay reached: a snapshot that does not follow from the events shows here."""
    out: list[Difference] = []
    for aggregate_id in sorted(state.aggregates, key=str):
        rebuilt = state.aggregates[aggregate_id]
        try:
            loaded = ledger.repository.get(aggregate_id, version=rebuilt.version)
        except Exception as error:  # noqa: BLE001 - a stored aggregate that cannot be loaded is a finding
            out.append(Difference(
                f"{_name(rebuilt)}: as loaded by the application", f"version {rebuilt.version}",
                f"{type(error).__name__}: {error}",
            ))
            continue
        out += _compare_aggregate(rebuilt, loaded, thresholds)
    return out


def _name(aggregate: Any) -> str:
    if isinstance(aggregate, Volunteer):
        return f"volunteer {aggregate.id}"
    if isinstance(aggregate, TimebankAccount):
        return f"volunteer {aggregate.volunteer_id}"
    if isinstance(aggregate, ExchangePoint):
        return f"exchange point {aggregate.id}"
    if isinstance(aggregate, CommunityPool):
        return "community pool"
    return f"{type(aggregate).__name__.lower()} {aggregate.id}"


def _compare_aggregate(rebuilt: Any, loaded: Any, thresholds: tuple[int, ...]) -> list[Difference]:
    name = _name(rebuilt)
    suffix = "as loaded (with snapshots)"
    out: list[Difference] = []
    if type(loaded) is not type(rebuilt) or loaded.version != rebuilt.version:
        return [Difference(
            f"{name}: aggregate {suffix}",
            f"{type(rebuilt).__name__} version {rebuilt.version}",
            f"{type(loaded).__name__} version {loaded.version}",
        )]
    expected_state = {k: v for k, v in vars(rebuilt).items() if not k.startswith("_")}
    found_state = {k: v for k, v in vars(loaded).items() if not k.startswith("_")}

    def differ(label: str, expected: Any, found: Any) -> None:
        if expected != found:
            out.append(Difference(f"{name}: {label} {suffix}", expected, found))

    if isinstance(rebuilt, Volunteer):
        differ("service earned_minutes", rebuilt.earned_minutes, found_state.pop("earned_minutes", None))
        differ("service redeemed_minutes", rebuilt.redeemed_minutes, found_state.pop("redeemed_minutes", None))
        differ("service available_minutes", rebuilt.available_minutes, _try(lambda: loaded.available_minutes))
        differ("service star_level", star_level(rebuilt.earned_minutes, thresholds),
               _try(lambda: loaded.star_level(thresholds)))
        expected_state.pop("earned_minutes")
        expected_state.pop("redeemed_minutes")
    elif isinstance(rebuilt, TimebankAccount):
        differ("timebank balance_minutes", rebuilt.balance_minutes, found_state.pop("balance_minutes", None))
        expected_state.pop("balance_minutes")
    elif isinstance(rebuilt, CommunityPool):
        differ("balance_minutes", rebuilt.balance_minutes, found_state.pop("balance_minutes", None))
        expected_state.pop("balance_minutes")
    elif isinstance(rebuilt, ExchangePoint):
        expected_items = expected_state.pop("items")
        found_items = found_state.pop("items", None)
        if not isinstance(found_items, dict):
            differ("items", expected_items, found_items)
        else:
            for sku in sorted(set(expected_items) | set(found_items)):
                expected_item = expected_items.get(sku)
                found_item = found_items.get(sku)
                if expected_item is None or not isinstance(found_item, dict):
                    differ(f"item {sku!r}", expected_item, found_item)
                    continue
                for key in sorted(set(expected_item) | set(found_item)):
                    label = f"stock of {sku!r}" if key == "stock" else f"item {sku!r} {key}"
                    differ(label, expected_item.get(key), found_item.get(key))
    # Everything else the aggregate holds (names, regions, service periods, ...).
    for key in sorted(set(expected_state) | set(found_state)):
        expected, found = expected_state.get(key, _NO_VALUE), found_state.get(key, _NO_VALUE)
        if expected == found:
            continue
        if isinstance(expected, dict) and isinstance(found, dict):
            keys = sorted((k for k in set(expected) | set(found) if expected.get(k) != found.get(k)), key=str)
            out.append(Difference(
                f"{name}: {key} {suffix}",
                {k: expected.get(k) for k in keys[:10]},
                {k: found.get(k) for k in keys[:10]},
            ))
        else:
            out.append(Difference(
                f"{name}: {key} {suffix}",
                None if expected is _NO_VALUE else expected,
                None if found is _NO_VALUE else found,
            ))
    return out


def _try(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as error:  # noqa: BLE001
        return f"{type(error).__name__}: {error}"
