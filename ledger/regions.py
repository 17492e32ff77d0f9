"""Chinese administrative division codes: validation, levels and roll-up prefixes (SPEC §2)."""

from __future__ import annotations

from ledger.errors import ValidationError

LEVEL_LENGTHS: dict[str, int] = {
    "province": 2,
    "city": 4,
    "county": 6,
    "town": 9,
    "village": 12,
}
LEVEL_OF_LENGTH: dict[int, str] = {length: level for level, length in LEVEL_LENGTHS.items()}


def is_region_code(code: str) -> bool:
    return code.isascii() and code.isdigit() and len(code) in LEVEL_OF_LENGTH


def check_region_code(code: str, field: str = "region_code") -> str:
    if not is_region_code(code):
        raise ValidationError(field, "region_code_shape")
    return code


def level_of(code: str) -> str:
    return LEVEL_OF_LENGTH[len(check_region_code(code))]


def ancestors(code: str) -> list[str]:
    """The code and every enclosing region, province first."""
    check_region_code(code)
    return [code[:length] for length in sorted(LEVEL_OF_LENGTH) if length <= len(code)]


def is_within(code: str, prefix: str) -> bool:
    return code.startswith(prefix)
