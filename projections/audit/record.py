"""The canonical record of a stored event (SPEC §6): the bytes a leaf of the audit tree hashes.

`{position, originator_id, originator_version, type, recorded_at, posted_by, data}`, derived
from the stored row itself (its notification id, originator, version, topic and stored JSON
state), so that changing any stored byte that means something changes the record. The
state's typed values (UUIDs, times) become plain strings: an auditor needs no knowledge of
the library that stored them to read or recompute a record.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import orjson

from projections.audit.canonical import canonical_json

LEAF_PREFIX = b"\x00"
RECORD_FIELDS = ("position", "originator_id", "originator_version", "type", "recorded_at", "posted_by", "data")
# How eventsourcing's JSON transcoder writes the typed values of a stored state.
_TYPED = "_type_"
_DATA = "_data_"
_TYPED_KEY = b'"_type_"'
_TYPED_VALUE = re.compile(
    rb'\{"_type_":"uuid_hex","_data_":"([0-9a-f]{32})"\}|\{"_type_":"datetime_iso","_data_":"([0-9T:.+-]{19,32})"\}'
)
# UTF-8 lead bytes of U+D800 and above: where UTF-16 and code point orders of keys part.
_HIGH_CHARACTER = re.compile(rb"[\xed-\xf4]")


class RecordError(Exception):
    """A stored event that cannot be read as a record (its state is not what was stored)."""


def rfc3339_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, as every record spells a time."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    """The stored JSON (freshly parsed, changed in place) with its typed values (the library's
    {"_type_", "_data_"} objects) as plain JSON values: UUIDs and times as strings."""
    kind = type(value)
    if kind is dict:
        if len(value) == 2 and _TYPED in value and _DATA in value:
            return _typed(value[_TYPED], value[_DATA])
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                value[key] = _plain(item)
    elif kind is list:
        for index, item in enumerate(value):
            if type(item) is dict or type(item) is list:
                value[index] = _plain(item)
    return value


def _typed(kind: str, data: Any) -> Any:
    if kind == "uuid_hex":
        return str(UUID(hex=data))
    if kind == "datetime_iso":
        # As the library writes UTC times: "2026-12-01T03:39:03.364845+00:00".
        if len(data) == 32 and data.endswith("+00:00") and data[19] == ".":
            return data[:26] + "Z"
        return _utc_text(data)
    if kind == "decimal_str":
        return str(data)
    raise RecordError(f"a stored value of unknown type {kind!r}")


def _plain_value(match: re.Match[bytes]) -> bytes:
    uuid_hex, moment = match.group(1), match.group(2)
    if uuid_hex is not None:
        h = uuid_hex
        return b'"' + h[:8] + b"-" + h[8:12] + b"-" + h[12:16] + b"-" + h[16:20] + b"-" + h[20:] + b'"'
    return b'"' + _typed("datetime_iso", moment.decode("ascii")).encode("ascii") + b'"'


@lru_cache(maxsize=65_536)
def _utc_text(stored: str) -> str:
    return rfc3339_utc(datetime.fromisoformat(stored))


def record_of(position: int, originator_id: UUID | str, originator_version: int, topic: str, state: bytes) -> dict[str, Any]:
    """The record of one stored event row."""
    try:
        # The library writes its typed values compactly: replaced in the bytes at once, and
        # only what that did not catch (other spacing, other types) is walked in Python.
        text = _TYPED_VALUE.sub(_plain_value, bytes(state))
        data = orjson.loads(text)
        if _TYPED_KEY in text:
            data = _plain(data)
    except (orjson.JSONDecodeError, TypeError, ValueError) as error:
        raise RecordError(f"the stored state is not JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("timestamp"), str):
        raise RecordError("the stored state has no timestamp")
    recorded_at = data.pop("timestamp")
    posted_by = data.pop("posted_by", None)
    return {
        "position": position,
        "originator_id": str(originator_id),
        "originator_version": originator_version,
        # The class as the events API names it ("Volunteer.Registered"), not its module path.
        "type": topic.partition(":")[2] or topic,
        "recorded_at": recorded_at,
        "posted_by": posted_by,
        "data": data,
    }


def record_bytes(record: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of a record. orjson's sorted, compact JSON is the same bytes unless the
    text holds a character above U+D7FF (where UTF-16 and code point orders of keys part), an
    integer beyond ±(2**53 - 1) or a lone surrogate: then the general encoder decides (and
    refuses what JCS cannot hold). The ledger stores no floats (amounts are whole minutes)."""
    try:
        data = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER)
    except (orjson.JSONEncodeError, TypeError):
        return canonical_json(record)  # which names what JCS cannot hold
    if data.isascii() or not _HIGH_CHARACTER.search(data):
        return data
    return canonical_json(record)


def leaf_hash_of(record: dict[str, Any]) -> bytes:
    """RFC 9162 leaf hash of a record: SHA-256(0x00 ‖ canonical record)."""
    return hashlib.sha256(LEAF_PREFIX + record_bytes(record)).digest()


def record_from_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The record inside an exported or listed entry (which adds leaf_index and leaf_hash)."""
    missing = [name for name in RECORD_FIELDS if name not in entry]
    if missing:
        raise RecordError(f"an entry without {', '.join(missing)}")
    return {name: entry[name] for name in RECORD_FIELDS}
