"""The message catalogue (`ledger/messages.py`): every problem code SPEC names, and every
message the ledger and the API can say, exists in English and in Simplified Chinese; the two
differ, take the same parameters, and every message key raised anywhere in the code is in the
catalogue."""

from __future__ import annotations

import ast
import re
from datetime import datetime, timezone

import pytest

from ledger import errors
from ledger.messages import CHINESE, DETAILS, ENGLISH, FIELDS_ZH, THINGS, TITLES, Thing, placeholders, render
from tests.support.paths import PROJECT

CJK = re.compile(r"[\u4e00-\u9fff]")

# SPEC §3's stable codes, and the two of ours (docs/decisions.md).
SPEC_CODES = [
    "validation_error", "not_found", "unauthorized", "forbidden", "insufficient_balance", "out_of_stock",
    "star_level_too_low", "timebank_not_open", "timebank_cap_exceeded", "overlapping_service",
    "already_reversed", "not_reversible", "transaction_id_conflict", "unavailable",
]
OUR_CODES = ["timebank_already_open", "not_applied"]


@pytest.mark.parametrize("code", SPEC_CODES + OUR_CODES)
def test_every_problem_code_has_a_title_in_both_languages(code: str) -> None:
    english, chinese = TITLES[code].en, TITLES[code].zh
    assert english and chinese and english != chinese
    assert CJK.search(chinese) and not CJK.search(english)


def test_every_domain_error_code_has_a_title() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.LedgerError)]
    assert {c.code for c in classes} <= set(TITLES)


@pytest.mark.parametrize("key", sorted(DETAILS))
def test_every_message_is_said_in_both_languages_with_the_same_parameters(key: str) -> None:
    text = DETAILS[key]
    assert text.en != text.zh
    assert CJK.search(text.zh), text.zh
    assert not CJK.search(text.en), text.en
    assert placeholders(text.en) == placeholders(text.zh)
    params = {name: 7 for name in placeholders(text.en)}
    for language in (ENGLISH, CHINESE):
        rendered = render(key, params, language)
        assert "{" not in rendered.replace("{...}", "").replace("{…}", ""), rendered


def test_things_and_field_labels_are_chinese() -> None:
    for name in THINGS.values():
        assert CJK.search(name.zh) and name.en != name.zh
    assert all(CJK.search(label) for label in FIELDS_ZH.values())


def test_times_in_messages_are_shown_in_the_zone_asked_for() -> None:
    moment = datetime(2026, 3, 5, 0, 30, tzinfo=timezone.utc)
    from zoneinfo import ZoneInfo

    assert render("in_future", {"moment": moment}, ENGLISH) == "2026-03-05T08:30:00+08:00 is in the future"
    assert render("in_future", {"moment": moment}, CHINESE, ZoneInfo("Europe/Berlin")).startswith("2026-03-05T01:30:00+01:00")
    assert render("thing_not_found", {"thing": Thing("volunteer", 42)}, CHINESE) == "未找到志愿者 42"


def raised_message_keys() -> list[tuple[str, int, str]]:
    """(file, line, key) of every error raised with a literal message key in the service's code:
    `SomeError("key", ...)`, `ValidationError("field", "key", ...)`, `AuditError("key", ...)`."""
    found = []
    for package in ("ledger", "api", "projections"):
        for path in sorted((PROJECT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                    continue
                name = node.func.id
                strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                if name == "ValidationError" and len(node.args) >= 2:
                    key = node.args[1]
                elif name in {c for c in dir(errors) if c.endswith("Error")} | {"AuditError", "NotInTreeError", "UnbalancedLegsError"} and node.args:
                    key = node.args[0]
                else:
                    continue
                if name == "ValidationError" and not strings:
                    continue
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    found.append((str(path.relative_to(PROJECT)), node.lineno, key.value))
    return found


def test_every_message_key_raised_in_the_code_is_in_the_catalogue() -> None:
    raised = raised_message_keys()
    assert len(raised) > 60, "the scan found too few raises to be looking at the code"
    unknown = [f"{path}:{line}: {key!r}" for path, line, key in raised if key not in DETAILS]
    assert not unknown, "\n".join(unknown)
