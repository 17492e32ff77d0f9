"""How the ledger's events are written in the store: eventsourcing's JSON, byte for byte,
written and read by orjson.

eventsourcing 9.5's JSONTranscoder writes an event's state as compact UTF-8 JSON (separators
"," and ":", no ASCII escaping, keys in attribute order) with each typed value as an object
{"_type_": name, "_data_": ...}: a UUID as {"_type_": "uuid_hex", "_data_": hex}, a time as
{"_type_": "datetime_iso", "_data_": isoformat}. The read models' bulk SQL, the audit
records and the offline verifier read exactly those bytes, so `LedgerTranscoder` writes the
same bytes and reads them back to equal values; it only spends less time doing so.

Writing, one walk over the state puts each typed value's object in its place and orjson
writes the rest in C (a UTC or fixed-offset time is left for orjson to spell, which it
spells as `isoformat` does). Reading, orjson parses and one walk turns the typed objects back
into values. Whatever orjson would not write or read exactly as the library does (floats,
integers beyond 64 bits, keys that are not strings, values of unregistered types, invalid
text) goes to the library's own code, so that the bytes, the values and the errors are the
library's. tests/application/test_encoding.py checks all of this against JSONTranscoder.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Transcoder, Transcoding, UUIDAsHex

TYPE = "_type_"
DATA = "_data_"
# What orjson writes exactly as the library's encoder does, as they are.
_PLAIN = frozenset({str, int, bool, type(None)})
# Classes the library's encoder writes by itself whatever transcoding is registered for them.
_BUILT_IN = (str, int, float, list, tuple, dict)


class _NotMine(Exception):
    """A value this transcoder leaves to the library's encoder or decoder."""


def construct_transcoder(application: Application[Any]) -> Transcoder:
    """`HourLedger.construct_transcoder`: a LedgerTranscoder with the application's transcodings
    (eventsourcing's hook, as `Application.construct_transcoder` registers them)."""
    transcoder = LedgerTranscoder()
    application.register_transcodings(transcoder)
    return transcoder


class LedgerTranscoder(JSONTranscoder):
    """JSONTranscoder's bytes and values, by orjson (see the module's text)."""

    def __init__(self) -> None:
        super().__init__()
        # Class -> its typed object, for the classes the library's encoder hands to `default`.
        self._writers: dict[type, Callable[[Any], dict[str, Any]]] = {}
        # Type name -> its value, for typed objects read back.
        self._readers: dict[str, Callable[[Any], Any]] = {}

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        if not issubclass(transcoding.type, _BUILT_IN):
            self._writers[transcoding.type] = _writer(transcoding, self._ready)
        self._readers[transcoding.name] = _reader(transcoding)

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._ready(obj))
        except (TypeError, ValueError, RecursionError, _NotMine):  # orjson's errors are TypeErrors
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            return self._typed(orjson.loads(data))
        except Exception:
            # The library decides what orjson refused or read otherwise (NaN, big integers,
            # invalid text): its value, or its error.
            return super().decode(data)

    def _ready(self, value: Any) -> Any:
        """`value` with its typed values as their typed objects, for orjson to write."""
        kind = type(value)
        if kind is dict:
            for item in value.values():
                if type(item) not in _PLAIN:
                    ready = self._ready
                    return {key: item if type(item) in _PLAIN else ready(item) for key, item in value.items()}
            return value  # plain already (legs, posted_by): orjson writes it as it is
        if kind is list:
            for item in value:
                if type(item) not in _PLAIN:
                    ready = self._ready
                    return [item if type(item) in _PLAIN else ready(item) for item in value]
            return value
        writer = self._writers.get(kind)
        if writer is not None:
            return writer(value)
        # The rest as the library's encoder sees it, in its order of checks.
        if isinstance(value, str):
            return str.__str__(value)  # a StrEnum member: its text, not its name
        if isinstance(value, int) and kind is not bool:
            return int.__int__(value)
        if isinstance(value, (list, tuple)):
            return [self._ready(item) for item in value]
        if isinstance(value, dict):
            return {key: self._ready(item) for key, item in value.items()}
        raise _NotMine  # floats, unregistered types: the library writes them or refuses them

    def _typed(self, value: Any) -> Any:
        """Parsed JSON with its typed objects as their values, innermost first (as the
        library's object hook meets them)."""
        if type(value) is dict:
            for key, item in value.items():
                kind = type(item)
                if kind is dict or kind is list:
                    value[key] = self._typed(item)
                elif kind is float:
                    raise _NotMine  # orjson reads an integer beyond 64 bits as a float
            if len(value) == 2 and TYPE in value and DATA in value:
                return self._readers[value[TYPE]](value[DATA])
            return value
        if type(value) is list:
            for index, item in enumerate(value):
                kind = type(item)
                if kind is dict or kind is list:
                    value[index] = self._typed(item)
                elif kind is float:
                    raise _NotMine
            return value
        if type(value) is float:
            raise _NotMine
        return value


def _writer(transcoding: Transcoding, ready: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    name = transcoding.name
    if type(transcoding) is UUIDAsHex:
        return lambda value: {TYPE: name, DATA: value.hex}
    if type(transcoding) is DatetimeAsISO:
        return lambda value: {TYPE: name, DATA: value if orjson_spells(value) else value.isoformat()}
    encode = transcoding.encode
    return lambda value: {TYPE: name, DATA: ready(encode(value))}


def orjson_spells(moment: datetime) -> bool:
    """Whether orjson writes this time as `isoformat()` does (the events here, the API's
    answers in api/local_time.py): naive, UTC, or at an offset of
    whole minutes, whatever the zone (orjson asks the zone for the time's offset, as
    `isoformat` does, and writes no seconds of it). Times arrive through the API with
    pydantic's zones: answering only for `timezone` sent every one of them to `isoformat`."""
    zone = moment.tzinfo
    if zone is None or zone is timezone.utc:
        return True
    offset = moment.utcoffset()
    return offset is not None and offset.seconds % 60 == 0 and offset.microseconds == 0


def _reader(transcoding: Transcoding) -> Callable[[Any], Any]:
    if type(transcoding) is UUIDAsHex:
        return _uuid_of_hex
    if type(transcoding) is DatetimeAsISO:
        return datetime.fromisoformat
    return transcoding.decode


def _uuid_of_hex(text: str) -> UUID:
    """UUID(text), without UUID.__init__'s Python for the 32 hex digits the library writes
    (a third of the time). Only ASCII letters and digits are read here, which int() reads as
    hex digits or refuses: anything else is UUID()'s to read or refuse."""
    if type(text) is str and len(text) == 32 and text.isascii() and text.isalnum():
        uuid = object.__new__(UUID)
        object.__setattr__(uuid, "int", int(text, 16))
        object.__setattr__(uuid, "is_safe", SafeUUID.unknown)
        return uuid
    assert isinstance(text, str)  # as UUIDAsHex.decode
    return UUID(text)
