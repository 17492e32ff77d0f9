"""pydantic's validation errors said in plain words, in English or Simplified Chinese: which
field, and what it takes — never a regular expression or a library's own phrasing.

Each error type pydantic can give for the request models of `api/schemas.py` has its message
in the catalogue (`ledger/messages.py`); a type not listed reads as "has a value this field does
not take"."""

from __future__ import annotations

import re
from typing import Any

from ledger.commands import COMMAND_TYPES
from ledger.messages import Language, render

# Where pydantic says a value was found (not part of a field's path).
_PLACES = ("body", "query", "path", "header", "cookie")

# pydantic's error type → the catalogue's message and the parameters it takes from `ctx`.
_BY_TYPE: dict[str, tuple[str, dict[str, str]]] = {
    "missing": ("required", {}),
    "extra_forbidden": ("unknown_field", {}),
    "string_type": ("text", {}),
    "string_too_long": ("too_long", {"max": "max_length"}),
    "int_type": ("whole_number", {}),
    "int_parsing": ("whole_number", {}),
    "int_from_float": ("whole_number", {}),
    "int_parsing_size": ("whole_number", {}),
    "greater_than_equal": ("at_least", {"low": "ge"}),
    "greater_than": ("above", {"low": "gt"}),
    "less_than_equal": ("at_most", {"high": "le"}),
    "less_than": ("below", {"high": "lt"}),
    "bool_type": ("boolean", {}),
    "bool_parsing": ("boolean", {}),
    "uuid_type": ("uuid", {}),
    "uuid_parsing": ("uuid", {}),
    "uuid_version": ("uuid", {}),
    "datetime_type": ("timestamp", {}),
    "datetime_parsing": ("timestamp", {}),
    "datetime_from_date_parsing": ("timestamp", {}),
    "datetime_object_invalid": ("timestamp", {}),
    "timestamp_text": ("timestamp", {}),
    "timezone_aware": ("timestamp_zone", {}),
    "date_type": ("date", {}),
    "date_parsing": ("date", {}),
    "date_from_datetime_parsing": ("date", {}),
    "date_from_datetime_inexact": ("date", {}),
    "date_text": ("date", {}),
    "dict_type": ("object", {}),
    "model_type": ("object", {}),
    "model_attributes_type": ("object", {}),
    "list_type": ("list", {}),
}


def field_path(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """`items.0.quantity` from pydantic's location; None for the body as a whole."""
    parts = [str(part) for part in loc if part not in _PLACES]
    # A discriminated union puts the variant's tag in the path; it is not a field of the body.
    parts = [part for part in parts if part not in COMMAND_TYPES]
    return ".".join(parts) or None


def plain_validation_problem(errors: list[Any], language: Language, body: Any = None) -> tuple[int, str | None, str]:
    """(status, field or None, text) for the first error: 400 for JSON that does not parse
    (with its line and column), else 422 naming the field ("body" for the body as a whole)."""
    first = errors[0] if errors else {"loc": (), "type": ""}
    kind = str(first.get("type", ""))
    ctx = first.get("ctx") or {}
    if kind == "json_invalid":
        line, column = _line_and_column(body, first.get("loc", ()))
        return 400, None, render("json_malformed", {"line": line, "column": column}, language)
    field = field_path(first.get("loc", ())) or "body"
    return 422, field, render(*_message(kind, ctx, field), language)


def _message(kind: str, ctx: dict[str, Any], field: str) -> tuple[str, dict[str, Any]]:
    leaf = field.rsplit(".", 1)[-1]
    if kind in ("dict_type", "model_type", "model_attributes_type") and field == "body":
        return "body_object", {}
    if kind == "union_tag_invalid":
        return "type_choice", {"choices": _choices(ctx.get("expected_tags", ""))}
    if kind == "union_tag_not_found":
        return "type_missing", {"choices": list(COMMAND_TYPES)}
    if kind in ("literal_error", "enum"):
        return "one_of", {"choices": _choices(ctx.get("expected", ""))}
    if kind == "string_too_short":
        minimum = int(ctx.get("min_length", 1))
        return ("not_empty", {}) if minimum <= 1 else ("at_least_chars", {"min": minimum})
    if kind == "too_short":
        return "list_at_least", {"min": ctx.get("min_length", 1)}
    if kind == "too_long":
        return "list_at_most", {"max": ctx.get("max_length", 0)}
    if kind == "string_pattern_mismatch":
        if leaf in ("region_code", "region"):
            return "region_code_shape", {}
        if leaf == "sku":
            return "sku_form", {}
        return "bad_form", {}
    if kind in _BY_TYPE:
        message, wanted = _BY_TYPE[kind]
        return message, {name: ctx.get(key, "") for name, key in wanted.items()}
    return "bad_value", {}


def _choices(expected: str) -> list[str]:
    """pydantic's "'a', 'b' or 'c'" as ["a", "b", "c"]."""
    return re.findall(r"'([^']*)'", str(expected)) or [str(expected)]


def _line_and_column(document: Any, loc: tuple[Any, ...] | list[Any]) -> tuple[int, int]:
    position = next((part for part in loc if isinstance(part, int)), 0)
    text = document if isinstance(document, str) else ""
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
