"""The canonical record of a stored event (SPEC §6): the bytes a leaf of the audit tree hashes.

`{position, originator_id, originator_version, type, recorded_at, posted_by, data}`, derived
from the stored row itself (its notification id, originator, version, topic and stored JSON
state), so that changing any stored byte that means something changes the record. The
state's typed values (UUIDs, times) become plain strings: an auditor needs no knowledge of
the library that stored them to read or recompute a record.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from projections.audit.canonical import canonical_json

LEAF_PREFIX = b"\x00"
RECORD_FIELDS = ("position", "originator_id", "originator_version", "type", "recorded_at", "posted_by", "data")
# How eventsourcing's JSON transcoder writes the typed values of a stored state.
_TYPED = "_type_"
_DATA = "_data_"
# UTF-8 lead bytes of U+D800 and above, or 16 digits in a row.
_SLOW_PATH = re.compile(rb"[\xed-\xf4]|[0-9]{16}")


class RecordError(Exception):
    """A stored event that cannot be read as a record (its state is not what was stored)."""


def rfc3339_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, as every record spells a time."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: dict[str, Any]) -> Any:
    """A typed value of the stored JSON as a plain JSON value (json's object hook)."""
    if len(value) == 2 and _TYPED in value and _DATA in value:
        kind, data = value[_TYPED], value[_DATA]
        if kind == "uuid_hex":
            return str(UUID(hex=data))
        if kind == "datetime_iso":
            # As the library writes UTC times: "2026-12-01T03:39:03.364845+00:00".
            if len(data) == 32 and data.endswith("+00:00") and data[19] == ".":
                return data[:26] + "Z"
            return rfc3339_utc(datetime.fromisoformat(data))
        if kind == "decimal_str":
            return str(data)
        raise RecordError(f"a stored value of unknown type {kind!r}")
    return value


def record_of(position: int, originator_id: UUID | str, originator_version: int, topic: str, state: bytes) -> dict[str, Any]:
    """The record of one stored event row."""
    try:
        data = json.loads(state, object_hook=_plain)
    except (ValueError, TypeError, UnicodeDecodeError) as error:
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
    """RFC 8785 bytes of a record. Python's own sorted, compact JSON is the same bytes unless
    the text holds a character above U+D7FF (where UTF-16 and code point orders of keys part),
    a run of 16 digits (perhaps an integer beyond ±2**53) or a lone surrogate: then the
    general encoder decides (and refuses what JCS cannot hold)."""
    try:
        data = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return canonical_json(record)  # which names the lone surrogate
    return canonical_json(record) if _SLOW_PATH.search(data) else data


def leaf_hash_of(record: dict[str, Any]) -> bytes:
    """RFC 9162 leaf hash of a record: SHA-256(0x00 ‖ canonical record)."""
    return hashlib.sha256(LEAF_PREFIX + record_bytes(record)).digest()


def record_from_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The record inside an exported or listed entry (which adds leaf_index and leaf_hash)."""
    missing = [name for name in RECORD_FIELDS if name not in entry]
    if missing:
        raise RecordError(f"an entry without {', '.join(missing)}")
    return {name: entry[name] for name in RECORD_FIELDS}
