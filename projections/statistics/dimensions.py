"""What statistics are broken down by: regions and their levels, the keys a figure is rolled
up to, region names, calendar days and months.

Days are China Standard Time calendar days as yyyymmdd integers (`ledger.vocabulary`).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from ledger.errors import ValidationError
from ledger.regions import LEVEL_LENGTHS, is_region_code
from ledger.vocabulary import day_number

NO_DAY = 0  # "no previous day" in the distinct-count tables
FIRST_DAY = 1  # below every real day (yyyymmdd)
LAST_DAY = 99_991_231

# Region levels: 0 is the whole ledger, 1..5 province..village.
WHOLE_LEDGER = 0
LEVEL_NUMBERS: dict[str, int] = {"province": 1, "city": 2, "county": 3, "town": 4, "village": 5}
LENGTH_OF_LEVEL: dict[int, int] = {LEVEL_NUMBERS[name]: length for name, length in LEVEL_LENGTHS.items()}
LEVEL_OF_LENGTH: dict[int, int] = {length: number for number, length in LENGTH_OF_LEVEL.items()}
DEEPEST_LEVEL = 5
# Additive figures are rolled up to the enclosing regions down to this level; below it they are
# summed from the rows of each exact code.
DEEPEST_ROLLUP = 3
# A figure's row under its exact region code has level EXACT + the code's level (11..15).
EXACT = 10

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
def region_keys(code: str, deepest: int) -> tuple[tuple[int, str], ...]:
    """Where a figure of a region is added, as (level, ancestor): the whole ledger, the
    enclosing regions down to level `deepest`, and the exact code itself (EXACT + its level)."""
    keys = [(WHOLE_LEDGER, "")]
    for level in range(1, deepest + 1):
        length = LENGTH_OF_LEVEL[level]
        if length <= len(code):
            keys.append((level, code[:length]))
    keys.append((EXACT + level_of_code(code), code))
    return tuple(keys)


# Days and months -------------------------------------------------------------------------------


def check_dates(from_: date | None, to: date | None) -> tuple[int, int]:
    """The first and last day of a period (inclusive), as yyyymmdd."""
    for field, value in (("from", from_), ("to", to)):
        if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
            raise ValidationError(field, "date")
    if from_ is not None and to is not None and from_ > to:
        raise ValidationError("from", "not_after", other="to")
    return (
        day_number(from_) if from_ else FIRST_DAY,
        day_number(to) if to else LAST_DAY,
    )


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
