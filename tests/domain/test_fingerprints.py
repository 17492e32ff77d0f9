"""A command's fingerprint is stored with its transaction and compared with every retry of its
id: it must never change from one version of the service to the next, or a retry of a
transaction stored before an upgrade would be refused as a conflicting reuse of its id.
The values below were computed by the code as it stood before its canonical form was made faster."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.commands import RecordService, Redeem, RedemptionLine

BEIJING = timezone(timedelta(hours=8))


def test_a_service_record_s_fingerprint_is_the_one_stored_by_earlier_versions():
    record = RecordService(
        id=UUID(int=1), volunteer_id=UUID(int=2), organization_id=UUID(int=3), category="敬老助残",
        started_at=datetime(2026, 3, 5, 9, 0, tzinfo=BEIJING), ended_at=datetime(2026, 3, 5, 11, 30, tzinfo=BEIJING),
        activity="陪伴",
    )
    assert record.fingerprint() == "3683ec3792be6664720c379c06a6596c57f593728012f76a9caee7ce5c9fba7a"
    assert list(record.content().items()) == [
        ("type", "service_record"), ("volunteer_id", str(UUID(int=2))), ("organization_id", str(UUID(int=3))),
        ("category", "敬老助残"), ("started_at", "2026-03-05T01:00:00+00:00"), ("ended_at", "2026-03-05T03:30:00+00:00"),
        ("activity", "陪伴"),
    ]


def test_a_redemption_s_fingerprint_is_the_one_stored_by_earlier_versions():
    redemption = Redeem(
        id=UUID(int=4), exchange_point_id=UUID(int=5), volunteer_id=UUID(int=2),
        items=(RedemptionLine("rice", 2), RedemptionLine("oil", 1)),
    )
    assert redemption.fingerprint() == "6bc25280a87b8f0956ff3f80fe17b7363c20592b3c322b7034d4b025cb10694d"
    assert redemption.content()["items"] == [{"sku": "rice", "quantity": 2}, {"sku": "oil", "quantity": 1}]


@settings(max_examples=200, deadline=None)
@given(category=st.text(min_size=1, max_size=40).filter(str.strip), activity=st.one_of(st.none(), st.text(max_size=40)))
def test_a_fingerprint_is_the_hash_of_the_content_as_json_dumps_writes_it(category: str, activity: str | None):
    record = RecordService(
        id=UUID(int=1), volunteer_id=UUID(int=2), organization_id=UUID(int=3), category=category,
        started_at=datetime(2026, 3, 5, 9, 0, tzinfo=BEIJING), ended_at=datetime(2026, 3, 5, 11, 30, tzinfo=BEIJING),
        activity=activity,
    )
    text = json.dumps(record.content(), sort_keys=True, ensure_ascii=False)
    assert record.fingerprint() == hashlib.sha256(text.encode()).hexdigest()
