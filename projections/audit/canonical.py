"""RFC 8785 (JCS) canonical JSON for the values an audit record holds.

A leaf of the audit tree is the canonical bytes of an event's record, so the same record
must always give the same bytes, here and in any other JCS implementation an auditor uses.
The ledger has no floats, so only the non-number part of JCS matters plus integers, which
must stay within I-JSON's exact range (|n| ≤ 2**53 - 1) to mean the same to every reader.
"""

from __future__ import annotations

import re

MAX_SAFE_INTEGER = 2**53 - 1

# ECMAScript JSON.stringify escapes exactly these (JCS §3.2.2.2); everything else is literal.
_ESCAPES = {
    **{code: f"\\u{code:04x}" for code in range(0x20)},
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def canonical_json(value: object) -> bytes:
    """The RFC 8785 serialisation of `value` as UTF-8 bytes.

    Accepts dict (str keys), list, tuple, str, int (|n| ≤ 2**53 - 1), bool and None.
    Floats and any other type raise TypeError; unsafe integers and strings with lone
    surrogates (not Unicode, so not I-JSON) raise ValueError.
    """
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode("utf-8")


def _write(value: object, parts: list[str]) -> None:
    # bool before int: True is an int in Python but `true` in JSON.
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(_string(value))
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is outside ±(2**53 - 1): not exact in I-JSON")
        # int.__repr__, not str(): an IntEnum member must still print as its number.
        parts.append(int.__repr__(value))
    elif isinstance(value, float):
        raise TypeError("floats have no place in an audit record")
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
            _check_unicode(key)
        # JCS §3.2.3: by UTF-16 code units. Big-endian UTF-16 bytes compare in that order,
        # which differs from code point order above U+FFFF (surrogates sort below U+E000).
        parts.append("{")
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be"))):
            if i:
                parts.append(",")
            parts.append(_string(key))
            parts.append(":")
            _write(value[key], parts)
        parts.append("}")
    elif isinstance(value, (list, tuple)):
        parts.append("[")
        for i, item in enumerate(value):
            if i:
                parts.append(",")
            _write(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"{type(value).__name__} cannot be put in canonical JSON")


def _check_unicode(text: str) -> None:
    found = _LONE_SURROGATE.search(text)
    if found:
        raise ValueError(f"lone surrogate U+{ord(found.group()):04X} at {found.start()}: not Unicode text")


def _string(text: str) -> str:
    _check_unicode(text)
    return '"' + text.translate(_ESCAPES) + '"'
