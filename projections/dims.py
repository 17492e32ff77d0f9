"""Dimensions shared by the read models: recorded times, calendar days, regions, group keys.

No SQL here. Everything that buckets by day uses China Standard Time (Asia/Shanghai, UTC+8,
no daylight saving since 1991), the calendar the province reports in.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from ledger.errors import ValidationError
from ledger.regions import LEVEL_LENGTHS, is_region_code

CST = timezone(timedelta(hours=8), "Asia/Shanghai")
UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)

NO_DAY = 0  # "no previous day" in the distinct-count tables
FIRST_DAY = 1  # below every real day (yyyymmdd)
LAST_DAY = 99_991_231

# Region levels: 0 is the whole ledger, 1..5 province..village; exact rows use 10 + level.
LEVEL_NUMBERS: dict[str, int] = {"province": 1, "city": 2, "county": 3, "town": 4, "village": 5}
LENGTH_OF_LEVEL: dict[int, int] = {LEVEL_NUMBERS[name]: length for name, length in LEVEL_LENGTHS.items()}
LEVEL_OF_LENGTH: dict[int, int] = {length: number for number, length in LENGTH_OF_LEVEL.items()}
EXACT = 10
# Additive figures are rolled up to these levels; below them they are summed from exact rows.
ROLLUP_LEVELS = 3
ALL_LEVELS = 5

UNAFFILIATED = "unaffiliated"  # ledger.posting.UNAFFILIATED: volunteers of no organisation

# Names for the region codes the SPEC and the bulletin use; any other code is its own name.
REGION_NAMES: dict[str, str] = {
    "32": "江苏省",
    "3208": "淮安市",
    "3204": "常州市",
    "320803": "淮安区",
    "320804": "淮阴区",
    "320812": "清江浦区",
    "320813": "洪泽区",
    "320826": "涟水县",
    "320830": "盱眙县",
    "320831": "金湖县",
    "320402": "天宁区",
    "320404": "钟楼区",
    "320411": "新北区",
    "320412": "武进区",
    "320413": "金坛区",
    "320481": "溧阳市",
}


def region_name(code: str) -> str:
    return REGION_NAMES.get(code, code)


# Times ----------------------------------------------------------------------------------


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch: recorded times compare exactly as integers."""
    return (moment - EPOCH) // ONE_MICROSECOND


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def rfc3339_us(us: int) -> str:
    return rfc3339(from_us(us))


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def aware(field: str, moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        raise ValidationError(field, "timestamp")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(field, "timestamp_zone")
    return moment


def day_of(moment: datetime) -> int:
    """The China Standard Time calendar day of a moment, as yyyymmdd."""
    local = moment.astimezone(CST)
    return local.year * 10_000 + local.month * 100 + local.day


def day_number(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def month_key(month: int) -> str:
    """yyyymm -> 'yyyy-mm'."""
    return f"{month // 100:04d}-{month % 100:02d}"


def months_between(first: int, last: int) -> list[int]:
    """Every yyyymm from first to last inclusive."""
    months = []
    year, month = divmod(first, 100)
    while year * 100 + month <= last:
        months.append(year * 100 + month)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return months


def check_dates(from_: date | None, to: date | None) -> tuple[int, int]:
    for field, value in (("from", from_), ("to", to)):
        if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
            raise ValidationError(field, "date")
    if from_ is not None and to is not None and from_ > to:
        raise ValidationError("from", "not_after", other="to")
    return (
        day_number(from_) if from_ else FIRST_DAY,
        day_number(to) if to else LAST_DAY,
    )


# Regions --------------------------------------------------------------------------------


def level_of_code(code: str) -> int:
    return LEVEL_OF_LENGTH[len(code)]


def check_region(field: str, code: str | None) -> str | None:
    if code is None:
        return None
    if not isinstance(code, str) or not is_region_code(code):
        raise ValidationError(field, "region_code_shape")
    return code


def check_level(level: str | None) -> int | None:
    if level is None:
        return None
    if level not in LEVEL_NUMBERS:
        raise ValidationError("level", "level_choice")
    return LEVEL_NUMBERS[level]


@lru_cache(maxsize=65536)
def region_keys(code: str, max_level: int) -> tuple[tuple[int, str], ...]:
    """Where a figure of a region is added: the whole ledger, the enclosing regions down to
    `max_level`, and the exact code itself (10 + its level)."""
    keys = [(0, "")]
    for level in range(1, max_level + 1):
        length = LENGTH_OF_LEVEL[level]
        if length <= len(code):
            keys.append((level, code[:length]))
    keys.append((EXACT + level_of_code(code), code))
    return tuple(keys)


def prefix_end(prefix: str) -> str:
    """The smallest string above every digit string starting with `prefix` (':' follows '9')."""
    return prefix + ":"


# Cursors --------------------------------------------------------------------------------


def encode_cursor(*parts: Any) -> str:
    text = "|".join(str(p) for p in parts)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode().split("|")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValidationError("cursor", "cursor_unknown") from None
