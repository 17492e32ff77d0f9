"""The canonical record of a stored event: derived from the stored row, its fast encoding
always the RFC 8785 bytes, and any meaningful change of the stored bytes changes the leaf."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.audit.canonical import canonical_json
from projections.audit.record import leaf_hash_of, record_bytes, record_of

STATE = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-01T03:32:18.313223+00:00"},'
    b'"originator_topic":"ledger.volunteer:Volunteer","name":"\xe7\x8e\x8b\xe7\xa7\x80\xe8\x8b\xb1",'
    b'"region_code":"320830","organization_id":{"_type_":"uuid_hex","_data_":"5910e6734f02416aa521547e586b46df"},'
    b'"birth_year":null,"id_number_hash":null,"posted_by":{"key_id":null,"name":"system"}}'
)
ORIGINATOR = UUID("9a010c9a-0d5a-4b70-9be8-c5e217ee5863")


def test_a_record_is_the_stored_row_in_plain_json() -> None:
    record = record_of(2, ORIGINATOR, 1, "ledger.volunteer:Volunteer.Registered", STATE)
    assert record == {
        "position": 2,
        "originator_id": "9a010c9a-0d5a-4b70-9be8-c5e217ee5863",
        "originator_version": 1,
        "type": "Volunteer.Registered",
        "recorded_at": "2026-12-01T03:32:18.313223Z",
        "posted_by": {"key_id": None, "name": "system"},
        "data": {
            "originator_topic": "ledger.volunteer:Volunteer",
            "name": "王秀英",
            "region_code": "320830",
            "organization_id": "5910e673-4f02-416a-a521-547e586b46df",
            "birth_year": None,
            "id_number_hash": None,
        },
    }
    assert record_bytes(record).startswith(b'{"data":{"birth_year":null,')


def test_a_time_in_another_offset_is_written_in_utc() -> None:
    state = STATE.replace(b"2026-12-01T03:32:18.313223+00:00", b"2026-12-01T11:32:18.313223+08:00")
    assert record_of(2, ORIGINATOR, 1, "t:T", state)["recorded_at"] == "2026-12-01T03:32:18.313223Z"


def test_any_meaningful_change_of_the_stored_bytes_changes_the_leaf() -> None:
    original = leaf_hash_of(record_of(2, ORIGINATOR, 1, "ledger.volunteer:Volunteer.Registered", STATE))
    changes = [
        record_of(3, ORIGINATOR, 1, "ledger.volunteer:Volunteer.Registered", STATE),
        record_of(2, ORIGINATOR, 2, "ledger.volunteer:Volunteer.Registered", STATE),
        record_of(2, UUID(int=1), 1, "ledger.volunteer:Volunteer.Registered", STATE),
        record_of(2, ORIGINATOR, 1, "ledger.organization:Organization.Registered", STATE),
        record_of(2, ORIGINATOR, 1, "ledger.volunteer:Volunteer.Registered", STATE.replace(b"320830", b"320831")),
        record_of(2, ORIGINATOR, 1, "ledger.volunteer:Volunteer.Registered", STATE.replace(b"18.313223", b"18.313224")),
    ]
    assert all(leaf_hash_of(change) != original for change in changes)


any_text = st.text(alphabet=st.characters(codec=None))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet=st.characters(codec=None), max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500)
@given(json_values)
def test_the_fast_encoding_is_always_the_rfc_8785_bytes(value: object) -> None:
    record = {"data": value, "position": 1}
    try:
        expected = canonical_json(record)
    except ValueError:  # lone surrogates, unsafe integers: neither encoder may answer
        try:
            record_bytes(record)
        except ValueError:
            return
        raise AssertionError("the fast path accepted what JCS refuses")
    assert record_bytes(record) == expected
