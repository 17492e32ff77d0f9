"""RFC 8785 (JCS) canonical JSON (projections.audit.canonical) against published examples and properties."""

from __future__ import annotations

import enum
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.audit.canonical import MAX_SAFE_INTEGER, canonical_json


def jcs_text(value: object) -> str:
    return canonical_json(value).decode("utf-8")


# --- published examples ------------------------------------------------------------------


def test_rfc8785_property_sorting_example() -> None:
    # RFC 8785 §3.2.3, as reproduced by the "RFC8785/ObjectOrdering" case of
    # go-json-experiment/json jsontext/value_test.go (commit
    # 01eb4420fa68cc49437c0f7b50647364cb2bae38): its input and wantCanonicalized.
    source = r"""{
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    }"""
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",'
        '"\u20ac":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert jcs_text(json.loads(source)) == expected


def test_rfc8785_string_example() -> None:
    # RFC 8785 §3.2.2's "string" and "literals" members (the numbers are floats: not ours),
    # with the canonical form of cyberphone/json-canonicalization testdata/output/values.json.
    source = r"""{"string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}"""
    expected_hex = (  # from testdata/outhex/values.txt, the "literals" and "string" members
        "7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72 75 65 2c 66 61 6c 73 65 5d 2c"
        " 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24"
        " 5c 75 30 30 30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d"
    )
    assert canonical_json(json.loads(source)) == bytes.fromhex(expected_hex)
    assert jcs_text(json.loads(source)) == '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'


# cyberphone/json-canonicalization (the RFC 8785 authors' repository), testdata/input/*.json
# and testdata/output/*.json at commit 19d51d7fe467d4706a3ff08adf8a748f29fc21e0, for the files
# without floats.
CYBERPHONE = {
    "arrays": (
        '[\n  56,\n  {\n    "d": true,\n    "10": null,\n    "1": [ ]\n  }\n]',
        '[56,{"1":[],"10":null,"d":true}]',
    ),
    "french": (
        '{\n  "peach": "This sorting order",\n  "péché": "is wrong according to French",\n'
        '  "pêche": "but canonicalization MUST",\n  "sin":   "ignore locale"\n}',
        '{"peach":"This sorting order","péché":"is wrong according to French",'
        '"pêche":"but canonicalization MUST","sin":"ignore locale"}',
    ),
    "unicode": (
        '{\n  "Unnormalized Unicode":"A\\u030a"\n}',
        '{"Unnormalized Unicode":"A\u030a"}',
    ),
    "weird": (
        '{\n  "\\u20ac": "Euro Sign",\n  "\\r": "Carriage Return",\n  "\\u000a": "Newline",\n'
        '  "1": "One",\n  "\\u0080": "Control\\u007f",\n  "\\ud83d\\ude02": "Smiley",\n'
        '  "\\u00f6": "Latin Small Letter O With Diaeresis",\n'
        '  "\\ufb33": "Hebrew Letter Dalet With Dagesh",\n  "</script>": "Browser Challenge"\n}',
        '{"\\n":"Newline","\\r":"Carriage Return","1":"One","</script>":"Browser Challenge",'
        '"\u0080":"Control\u007f","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f602":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    ),
}


@pytest.mark.parametrize("name", sorted(CYBERPHONE))
def test_cyberphone_test_data(name: str) -> None:
    source, expected = CYBERPHONE[name]
    assert jcs_text(json.loads(source)) == expected


# The same files' expected bytes, testdata/outhex/*.txt, for the ones beyond ASCII.
CYBERPHONE_OUTHEX = {
    "french": (
        "7b 22 70 65 61 63 68 22 3a 22 54 68 69 73 20 73 6f 72 74 69 6e 67 20 6f 72 64 65 72 22 2c 22 70 "
        "c3 a9 63 68 c3 a9 22 3a 22 69 73 20 77 72 6f 6e 67 20 61 63 63 6f 72 64 69 6e 67 20 74 6f 20 46 "
        "72 65 6e 63 68 22 2c 22 70 c3 aa 63 68 65 22 3a 22 62 75 74 20 63 61 6e 6f 6e 69 63 61 6c 69 7a "
        "61 74 69 6f 6e 20 4d 55 53 54 22 2c 22 73 69 6e 22 3a 22 69 67 6e 6f 72 65 20 6c 6f 63 61 6c 65 "
        "22 7d "
    ),
    "weird": (
        "7b 22 5c 6e 22 3a 22 4e 65 77 6c 69 6e 65 22 2c 22 5c 72 22 3a 22 43 61 72 72 69 61 67 65 20 52 "
        "65 74 75 72 6e 22 2c 22 31 22 3a 22 4f 6e 65 22 2c 22 3c 2f 73 63 72 69 70 74 3e 22 3a 22 42 72 "
        "6f 77 73 65 72 20 43 68 61 6c 6c 65 6e 67 65 22 2c 22 c2 80 22 3a 22 43 6f 6e 74 72 6f 6c 7f 22 "
        "2c 22 c3 b6 22 3a 22 4c 61 74 69 6e 20 53 6d 61 6c 6c 20 4c 65 74 74 65 72 20 4f 20 57 69 74 68 "
        "20 44 69 61 65 72 65 73 69 73 22 2c 22 e2 82 ac 22 3a 22 45 75 72 6f 20 53 69 67 6e 22 2c 22 f0 "
        "9f 98 82 22 3a 22 53 6d 69 6c 65 79 22 2c 22 ef ac b3 22 3a 22 48 65 62 72 65 77 20 4c 65 74 74 "
        "65 72 20 44 61 6c 65 74 20 57 69 74 68 20 44 61 67 65 73 68 22 7d "
    ),
    "unicode": (
        "7b 22 55 6e 6e 6f 72 6d 61 6c 69 7a 65 64 20 55 6e 69 63 6f 64 65 22 3a 22 41 cc 8a 22 7d "
    ),
}


@pytest.mark.parametrize("name", sorted(CYBERPHONE_OUTHEX))
def test_cyberphone_test_data_bytes(name: str) -> None:
    source, _ = CYBERPHONE[name]
    assert canonical_json(json.loads(source)) == bytes.fromhex("".join(CYBERPHONE_OUTHEX[name]))


def test_cyberphone_structures_with_its_one_float_written_as_the_integer_it_is() -> None:
    # testdata/input/structures.json has "\n": 56.0, which JCS prints as 56; we hold ints only.
    source = (
        '{\n  "1": {"f": {"f": "hi","F": 5} ,"\\n": 56.0},\n  "10": { },\n  "": "empty",\n'
        '  "a": { },\n  "111": [ {"e": "yes","E": "no" } ],\n  "A": { }\n}'
    )
    value = json.loads(source, parse_float=lambda text: int(float(text)))
    assert jcs_text(value) == (
        '{"":"empty","1":{"\\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{"E":"no","e":"yes"}],"A":{},"a":{}}'
    )


# --- our own cases -------------------------------------------------------------------------


def test_chinese_text_stays_utf8() -> None:
    record = {"data": {"content": "社区养老服务·陪伴", "name": "王小英"}, "type": "ServiceRecorded"}
    out = canonical_json(record)
    assert out == '{"data":{"content":"社区养老服务·陪伴","name":"王小英"},"type":"ServiceRecorded"}'.encode()
    assert b"\\u" not in out


def test_control_characters_and_the_rest_of_the_escapes() -> None:
    every_control = "".join(chr(c) for c in range(0x20))
    assert jcs_text(every_control) == (
        '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f'
        '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c'
        '\\u001d\\u001e\\u001f"'
    )
    # Not escaped: DEL, '/', '<', '>', '&', U+2028/U+2029, non-characters, astral characters.
    literal = "\x7f/<>&'\u2028\u2029\ufffe\U0001f600"
    assert jcs_text(literal) == f'"{literal}"'
    assert jcs_text('a"b\\c') == '"a\\"b\\\\c"'


def test_scalars_and_nesting() -> None:
    assert jcs_text(None) == "null"
    assert jcs_text(True) == "true"
    assert jcs_text(False) == "false"
    assert jcs_text(0) == "0"
    assert jcs_text(-42) == "-42"
    assert jcs_text(MAX_SAFE_INTEGER) == "9007199254740991"
    assert jcs_text(-MAX_SAFE_INTEGER) == "-9007199254740991"
    assert jcs_text([]) == "[]"
    assert jcs_text({}) == "{}"
    assert jcs_text((1, "a", None)) == '[1,"a",null]'
    assert jcs_text({"b": [1, {"z": True, "a": False}], "a": {"y": None, "x": []}}) == (
        '{"a":{"x":[],"y":null},"b":[1,{"a":false,"z":true}]}'
    )
    assert jcs_text({"a": True, "b": 1}) == '{"a":true,"b":1}'  # bool is not written as 1


def test_an_int_enum_is_written_as_its_number() -> None:
    class Level(enum.IntEnum):
        THREE = 3

    assert jcs_text({"level": Level.THREE}) == '{"level":3}'


@pytest.mark.parametrize("value", [1.0, 0.5, float("nan"), {"a": [2.5]}, Decimal("1"), b"bytes", {1, 2}, object()])
def test_floats_and_other_types_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(TypeError):
        canonical_json({1: "one"})


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**30, [2**63]])
def test_unsafe_integers_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", {"\ud83d": 1}, ["ok", "\ude00"]])
def test_lone_surrogates_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


# --- properties ----------------------------------------------------------------------------

text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(text, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_round_trips_through_a_json_parser(value: object) -> None:
    out = canonical_json(value)
    assert json.loads(out) == value
    # No insignificant whitespace: re-serialising compactly by hand gives the same bytes.
    assert out == canonical_json(json.loads(out))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(text, json_values, max_size=8), st.randoms(use_true_random=False))
def test_stable_under_key_reordering(value: dict, random) -> None:
    keys = list(value)
    random.shuffle(keys)
    assert canonical_json({key: value[key] for key in keys}) == canonical_json(value)


@settings(max_examples=200, deadline=None)
@given(st.lists(text, min_size=1, max_size=10, unique=True))
def test_keys_are_in_utf16_code_unit_order(keys: list[str]) -> None:
    def code_units(key: str) -> list[int]:
        encoded = key.encode("utf-16-be")
        return [int.from_bytes(encoded[i : i + 2], "big") for i in range(0, len(encoded), 2)]

    ordered = list(json.loads(canonical_json({key: 0 for key in keys})))
    assert [code_units(key) for key in ordered] == sorted(code_units(key) for key in keys)
