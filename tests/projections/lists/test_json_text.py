"""The lists store documents as the text `json.dumps` wrote before orjson wrote it: rows written
by either version read back alike, and the text stays what tools reading the table saw."""

from __future__ import annotations

import json
from datetime import timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.vocabulary import Book
from projections.lists.store import json_text

leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.text(), st.uuids(),
    st.datetimes(timezones=st.just(timezone.utc)), st.sampled_from(list(Book)),
)
values = st.recursive(
    leaves, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_a_document_is_written_as_json_dumps_wrote_it(value: object) -> None:
    assert json_text(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
