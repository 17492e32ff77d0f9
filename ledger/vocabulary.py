"""The ledger's shared vocabulary: the words every layer uses for the same things, said once.

- transaction types (SPEC §3): `TransactionType`;
- books and account addresses (`volunteer:<id>:service`, `org:<id>:timebank`, `point:<id>`,
  `pool`): `Book`, `AccountKind`, `AccountAddress`, which builds and parses them;
- legs and who posted: `Leg`, `PostedBy`, the JSON shapes stored in every event (typed here,
  stored as plain objects: the audit tree hashes the stored bytes, so their shape never changes);
- the local day the statistics count in: China Standard Time, `local_day`;
- star levels (星级): `star_level`, `NATIONAL_THRESHOLDS_MINUTES`;
- limits of what one request may ask: `MAX_MINUTES` and the others below, and `check_name`.

The read models' bulk SQL restates some of these (types, account addresses, the day's offset):
it generates those constants from here rather than retyping them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import TypedDict
from uuid import UUID

from ledger.errors import ValidationError

# Transactions -------------------------------------------------------------------------------


class TransactionType(StrEnum):
    """What a client posts (SPEC §3): each is one command of `ledger.commands`. The values are
    stored in every `Transaction.Posted` event."""

    SERVICE_RECORD = "service_record"
    TIMEBANK_DEPOSIT = "timebank_deposit"
    TIMEBANK_WITHDRAWAL = "timebank_withdrawal"
    TIMEBANK_TRANSFER = "timebank_transfer"
    TIMEBANK_DONATION = "timebank_donation"
    TIMEBANK_GRANT = "timebank_grant"
    REDEMPTION = "redemption"
    REVERSAL = "reversal"


# Books and accounts -------------------------------------------------------------------------


class Book(StrEnum):
    """A volunteer's two books (SPEC §1); an organisation has an account of each kind too."""

    SERVICE = "service"
    TIMEBANK = "timebank"


class AccountKind(StrEnum):
    """Who holds an account: the first part of its address."""

    VOLUNTEER = "volunteer"
    ORGANIZATION = "org"
    EXCHANGE_POINT = "point"
    POOL = "pool"


SEPARATOR = ":"
# Where an address's parts stand once split at SEPARATOR, counted from 1 (as SQL's split_part
# counts): its kind, then its owner, then its book.
KIND_PART, OWNER_PART, BOOK_PART = 1, 2, 3
# The organisation that settles a withdrawal of a volunteer who belongs to none
# (`org:unaffiliated:timebank`), and the statistics' group of such volunteers.
UNAFFILIATED = "unaffiliated"

# A volunteer's book account: its two groups are the volunteer's id and the book. The bulk
# SQL matches stored legs with this same pattern (PostgreSQL's regular expressions read it
# alike) and takes the id and the book at OWNER_PART and BOOK_PART.
VOLUNTEER_BOOK_PATTERN = (
    f"^{AccountKind.VOLUNTEER}{SEPARATOR}([^{SEPARATOR}]*){SEPARATOR}({'|'.join(Book)})$"
)
_VOLUNTEER_BOOK = re.compile(VOLUNTEER_BOOK_PATTERN)
_BOOKS = {book.value: book for book in Book}  # a dict look-up: Book(text) costs several times more


class AccountAddressError(ValueError):
    """A text that is not the address of an account of the ledger."""


@dataclass(frozen=True)
class AccountAddress:
    """Where a leg's minutes go: `volunteer:<id>:<book>`, `org:<id>:<book>`, `point:<id>` or
    `pool`. `str()` gives the address as stored in legs; `parse()` reads one back."""

    kind: AccountKind
    owner: str = ""  # the volunteer's, organisation's or exchange point's id (empty for the pool)
    book: Book | None = None

    @classmethod
    def volunteer(cls, volunteer_id: UUID | str, book: Book) -> AccountAddress:
        return cls(AccountKind.VOLUNTEER, str(volunteer_id), book)

    @classmethod
    def organization(cls, organization_id: UUID | str, book: Book) -> AccountAddress:
        """`organization_id` may be `UNAFFILIATED` (a withdrawal of a volunteer of no organisation)."""
        return cls(AccountKind.ORGANIZATION, str(organization_id), book)

    @classmethod
    def exchange_point(cls, exchange_point_id: UUID | str) -> AccountAddress:
        return cls(AccountKind.EXCHANGE_POINT, str(exchange_point_id))

    @classmethod
    def pool(cls) -> AccountAddress:
        return cls(AccountKind.POOL)

    def __str__(self) -> str:
        # Formatted, not joined from `.value`s: two of these a posting (kind and book are
        # StrEnums, which format as their values).
        if self.book is not None:
            return f"{self.kind}{SEPARATOR}{self.owner}{SEPARATOR}{self.book}"
        if self.kind is AccountKind.POOL:
            return AccountKind.POOL.value
        return f"{self.kind}{SEPARATOR}{self.owner}"

    @classmethod
    def parse(cls, text: str) -> AccountAddress:
        """The address a leg names; AccountAddressError if it is none of the ledger's."""
        parts = text.split(SEPARATOR)
        try:
            kind = AccountKind(parts[KIND_PART - 1])
            if kind is AccountKind.POOL and len(parts) == KIND_PART:
                return cls.pool()
            if kind is AccountKind.EXCHANGE_POINT and len(parts) == OWNER_PART:
                return cls.exchange_point(parts[OWNER_PART - 1])
            if kind in (AccountKind.VOLUNTEER, AccountKind.ORGANIZATION) and len(parts) == BOOK_PART:
                return cls(kind, parts[OWNER_PART - 1], Book(parts[BOOK_PART - 1]))
        except ValueError:
            pass
        raise AccountAddressError(f"{text!r} is not an account address of the ledger")


POOL_ACCOUNT = str(AccountAddress.pool())


def volunteer_book(account: str) -> tuple[str, Book] | None:
    """(volunteer id, book) when `account` is a volunteer's book, else None: what the read
    models ask of every leg (one match, no exceptions, on the follower's hot path)."""
    found = _VOLUNTEER_BOOK.fullmatch(account)
    return None if found is None else (found.group(1), _BOOKS[found.group(2)])


class Leg(TypedDict):
    """One entry of a transaction: `{"account": <address>, "minutes": <signed int>}`."""

    account: str
    minutes: int


def leg(account: AccountAddress, minutes: int) -> Leg:
    return {"account": str(account), "minutes": minutes}


class PostedBy(TypedDict):
    """Who posted an event: the API key's id (None for the system itself) and its name."""

    key_id: str | None
    name: str


# Time ---------------------------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_MICROSECOND = timedelta(microseconds=1)


def epoch_microseconds(moment: datetime) -> int:
    """Microseconds since the Unix epoch: recorded times compare exactly as integers."""
    return (moment - EPOCH) // ONE_MICROSECOND


def moment_of(microseconds: int) -> datetime:
    return EPOCH + timedelta(microseconds=microseconds)


# The province reports by China Standard Time days (Asia/Shanghai: UTC+8, no daylight saving
# since 1991). Statistics and bare dates in queries use this fixed offset, whatever
# HOUR_LEDGER_TIMEZONE says (that zone dresses timestamps shown to people, and certificates).
LOCAL_DAY_UTC_OFFSET = timedelta(hours=8)
CHINA_STANDARD_TIME = timezone(LOCAL_DAY_UTC_OFFSET, "Asia/Shanghai")


def day_number(day: date) -> int:
    """A calendar day as the integer yyyymmdd."""
    return day.year * 10_000 + day.month * 100 + day.day


def local_day(moment: datetime) -> int:
    """The China Standard Time calendar day of a moment, as yyyymmdd."""
    return day_number(moment.astimezone(CHINA_STANDARD_TIME))


# Star levels (星级) ---------------------------------------------------------------------------

# After 民政部《志愿服务记录办法》: ★1 ≥ 100 h, ★2 ≥ 300 h, ★3 ≥ 600 h, ★4 ≥ 1,000 h, ★5 ≥ 1,500 h.
# Configurable (HOUR_LEDGER_STAR_THRESHOLDS_HOURS): some cities use others.
NATIONAL_THRESHOLDS_MINUTES: tuple[int, ...] = (6_000, 18_000, 36_000, 60_000, 90_000)
STAR_LEVELS = range(1, len(NATIONAL_THRESHOLDS_MINUTES) + 1)  # ★1..★5; 0 is "no star"


def star_level(earned_minutes: int, thresholds_minutes: Sequence[int]) -> int:
    """0 below the first threshold, else the highest star whose threshold is reached."""
    return sum(1 for threshold in thresholds_minutes if earned_minutes >= threshold)


# Limits of one request ------------------------------------------------------------------------

MAX_MINUTES = 1_000_000  # one transaction, or one item's price: ~16,000 hours
MAX_SERVICE_MINUTES = 1_440  # a service record lasts at most a day
MAX_NAME = 200  # names of volunteers, organisations, exchange points, items, keys
MAX_TEXT = 500  # free texts the domain takes: a category, an activity, a note, a reason
MAX_SHORT_TEXT = 64  # a category or a relation, as the API takes them
MAX_SKU = 64
SKU_PATTERN = r"^[A-Za-z0-9._:-]+$"
MAX_STOCK = 1_000_000_000
MAX_QUANTITY = 10_000  # of one line of a redemption
MAX_REDEMPTION_LINES = 100


def check_name(name: str) -> None:
    """A name of a thing, an item or a key: not blank, at most MAX_NAME characters.
    Raises ValidationError."""
    if not name or not name.strip():
        raise ValidationError("name", "not_empty")
    if len(name) > MAX_NAME:
        raise ValidationError("name", "too_long", max=MAX_NAME)
