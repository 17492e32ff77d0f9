"""The balances' answers: a volunteer's two books now or as of any moment, statements, and the
auditor's cross-check of a balance from the aggregates' own events (`replayed_balance`).

Answers are plain JSON-ready dicts with SPEC's field names; minutes are ints; times are RFC 3339
in UTC with microseconds. Bad arguments raise ValidationError naming the field; an unknown
volunteer is None (a 404).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from ledger.errors import ValidationError
from ledger.timebank import TimebankAccount
from ledger.vocabulary import Book, epoch_microseconds, moment_of, star_level
from ledger.volunteer import Volunteer
from projections.balances.projection import BalancesProjection
from projections.balances.tables import BAL_ENTRY, BAL_VOLUNTEER
from projections.engine.reads import Reads
from projections.engine.store import Reader

MAX_LIMIT = 1000
EARLIEST_US, LATEST_US = -(2**62), 2**62  # below and above every recorded time
CURSOR_VERSION = "s1"


# Times and cursors ----------------------------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def aware(field: str, moment: datetime | None) -> datetime | None:
    """`moment`, if it has a zone (a ValidationError naming `field` if not)."""
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        raise ValidationError(field, "timestamp")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(field, "timestamp_zone")
    return moment


def encode_cursor(*parts: Any) -> str:
    text = "|".join(str(p) for p in parts)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode().split("|")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValidationError("cursor", "cursor_unknown") from None


# Reading the tables ------------------------------------------------------------------------------


def entry_at_or_before(
    reader: Reader, volunteer_id: str, book: Book, moment_us: int, strict: bool = False
) -> dict[str, Any] | None:
    """The latest statement entry recorded at or before (strict: before) a moment."""
    cols = BAL_ENTRY.column_names
    rows = reader.rows(
        f"SELECT {', '.join(cols)} FROM {reader.table(BAL_ENTRY)} "
        f"WHERE volunteer_id = ? AND book = ? AND recorded_us {'<' if strict else '<='} ? "
        "ORDER BY recorded_us DESC, seq DESC LIMIT 1",
        (volunteer_id, book.value, moment_us),
    )
    return dict(zip(cols, rows[0], strict=True)) if rows else None


def entries(
    reader: Reader, volunteer_id: str, book: Book, after_seq: int, from_us: int, to_us: int, limit: int
) -> list[dict[str, Any]]:
    """Statement entries after `after_seq`, recorded in [from_us, to_us], oldest first."""
    cols = BAL_ENTRY.column_names
    rows = reader.rows(
        f"SELECT {', '.join(cols)} FROM {reader.table(BAL_ENTRY)} "
        "WHERE volunteer_id = ? AND book = ? AND seq > ? AND recorded_us >= ? AND recorded_us <= ? "
        "ORDER BY seq LIMIT ?",
        (volunteer_id, book.value, after_seq, from_us, to_us, limit),
    )
    return [dict(zip(cols, r, strict=True)) for r in rows]


def balance_document(
    earned: int, redeemed: int, timebank_open: bool, timebank_balance: int,
    thresholds: Sequence[int], as_of: str,
) -> dict[str, Any]:
    return {
        "service": {
            "earned_minutes": earned,
            "redeemed_minutes": redeemed,
            "available_minutes": earned - redeemed,
            "star_level": star_level(earned, thresholds),
        },
        "timebank": {"open": timebank_open, "balance_minutes": timebank_balance},
        "as_of": as_of,
    }


class BalanceQueries:
    """Balances and statements, read from the current generation through `reads`."""

    def __init__(self, ledger: Any, reads: Reads, thresholds: Sequence[int]) -> None:
        self.ledger = ledger
        self.reads = reads
        self.thresholds = tuple(thresholds)

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
        see `Reads.caught_up_glance`."""
        as_of = aware("as_of", as_of)
        vid = str(volunteer_id)

        def now(row: dict[str, Any]) -> dict[str, Any]:
            return balance_document(
                row["earned"], row["redeemed"], row["timebank_opened_us"] is not None,
                row["timebank_balance"], self.thresholds, rfc3339(self.ledger.clock()),
            )

        if wait is not None:
            found = self.reads.caught_up_glance(BAL_VOLUNTEER, (vid,), [BalancesProjection.name], min_position, wait)
            if as_of is None:
                return None if found.row is None else now(found.row)
            # As of a moment: the statement entries, read below now that the balances are there.

        def question(r: Reader) -> dict[str, Any] | None:
            row = r.row(BAL_VOLUNTEER, (vid,))
            if row is None:
                return None
            if as_of is None:
                return now(row)
            moment_us = epoch_microseconds(as_of)
            service = entry_at_or_before(r, vid, Book.SERVICE, moment_us)
            timebank = entry_at_or_before(r, vid, Book.TIMEBANK, moment_us)
            opened = row["timebank_opened_us"]
            return balance_document(
                service["earned_after"] if service else 0,
                service["redeemed_after"] if service else 0,
                opened is not None and opened <= moment_us,
                timebank["balance_after"] if timebank else 0,
                self.thresholds, rfc3339(as_of),
            )

        return self.reads.read(question)

    def replayed_balance(self, volunteer_id: UUID, as_of: datetime | None = None) -> dict[str, Any] | None:
        """The auditor's cross-check: the same answer, from the aggregates' own events."""
        as_of = aware("as_of", as_of)
        found = self.reads.store.guarded(lambda: replay(self.ledger, volunteer_id, as_of))
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
        if book not in tuple(Book):
            raise ValidationError("book", "book_choice")
        which = Book(book)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValidationError("limit", "whole_range", low=1, high=MAX_LIMIT)
        from_, to = aware("from", from_), aware("to", to)
        if from_ is not None and to is not None and from_ > to:
            raise ValidationError("from", "not_after", other="to")
        vid = str(volunteer_id)
        after_seq = 0
        if cursor is not None:
            parts = decode_cursor(cursor) if isinstance(cursor, str) else []
            if len(parts) != 4 or parts[0] != CURSOR_VERSION or parts[1] != vid[:8] or parts[2] != book or not parts[3].isdigit():
                raise ValidationError("cursor", "cursor_other_statement")
            after_seq = int(parts[3])
        from_us = epoch_microseconds(from_) if from_ is not None else EARLIEST_US
        to_us = epoch_microseconds(to) if to is not None else LATEST_US

        def question(r: Reader) -> dict[str, Any] | None:
            row = r.row(BAL_VOLUNTEER, (vid,))
            if row is None:
                return None
            before = entry_at_or_before(r, vid, which, from_us, strict=True) if from_ is not None else None
            if to is not None:
                last = entry_at_or_before(r, vid, which, to_us)
                closing = last["balance_after"] if last else 0
            elif which is Book.SERVICE:
                closing = row["earned"] - row["redeemed"]
            else:
                closing = row["timebank_balance"]
            rows = entries(r, vid, which, after_seq, from_us, to_us, limit + 1)
            page = rows[:limit]
            return {
                "opening_minutes": before["balance_after"] if before else 0,
                "entries": [
                    {
                        "transaction_id": e["transaction_id"],
                        "type": e["type"],
                        "minutes": e["minutes"],
                        "balance_after_minutes": e["balance_after"],
                        "recorded_at": rfc3339(moment_of(e["recorded_us"])),
                    }
                    for e in page
                ],
                "closing_minutes": closing,
                "next_cursor": encode_cursor(CURSOR_VERSION, vid[:8], book, page[-1]["seq"]) if len(rows) > limit else None,
            }

        return self.reads.read(question)


def replay(
    ledger: Any, volunteer_id: UUID, as_of: datetime | None
) -> tuple[int, int, bool, int] | None:
    """(earned, redeemed, timebank open, timebank balance) from the aggregates' own events,
    counting each event whose transaction was recorded at or before `as_of`."""
    events = list(ledger.events.get(volunteer_id))
    if not events or not isinstance(events[0], Volunteer.Registered):
        return None
    limit = epoch_microseconds(as_of) if as_of is not None else None
    posted_at: dict[UUID, int] = {}

    def recorded(e: Any, transaction_id: UUID | None) -> int:
        if transaction_id is None:
            return epoch_microseconds(e.timestamp)
        if transaction_id not in posted_at:
            first = list(ledger.events.get(transaction_id, lte=1))
            posted_at[transaction_id] = epoch_microseconds(first[0].timestamp if first else e.timestamp)
        return posted_at[transaction_id]

    def included(e: Any, transaction_id: UUID | None) -> bool:
        return limit is None or recorded(e, transaction_id) <= limit

    earned = redeemed = 0
    if not included(events[0], None):
        return 0, 0, False, 0
    for e in events[1:]:
        reversal_id = getattr(e, "reversal_id", None)
        if not included(e, reversal_id or getattr(e, "transaction_id", None)):
            continue
        if isinstance(e, Volunteer.ServiceRecorded):
            earned += e.minutes
        elif isinstance(e, Volunteer.ServiceReversed):
            earned -= e.minutes
        elif isinstance(e, Volunteer.Redeemed):
            redeemed += e.minutes
        elif isinstance(e, Volunteer.RedemptionReversed):
            redeemed -= e.minutes
    account = list(ledger.events.get(TimebankAccount.id_for(volunteer_id)))
    opened, balance = False, 0
    if account and included(account[0], None):
        opened = True
        for e in account[1:]:
            if not included(e, getattr(e, "transaction_id", None)):
                continue
            if isinstance(e, TimebankAccount.Credited):
                balance += e.minutes
            elif isinstance(e, TimebankAccount.Debited):
                balance -= e.minutes
    return earned, redeemed, opened, balance
