"""The shared vocabulary (`ledger/vocabulary.py`): account addresses build and parse back, the
local day is China Standard Time's, and the legs and `posted_by` stored in events keep the
plain JSON shape the audit tree hashes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.actors import SYSTEM, Actor, Role
from ledger.application import HourLedger
from ledger.vocabulary import (
    POOL_ACCOUNT,
    UNAFFILIATED,
    AccountAddress,
    AccountAddressError,
    AccountKind,
    Book,
    TransactionType,
    local_day,
    volunteer_book,
)
from tests.support.builders import service

VOLUNTEER = UUID("6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b")


def test_addresses_are_spelled_as_the_ledger_stores_them() -> None:
    assert str(AccountAddress.volunteer(VOLUNTEER, Book.SERVICE)) == f"volunteer:{VOLUNTEER}:service"
    assert str(AccountAddress.volunteer(VOLUNTEER, Book.TIMEBANK)) == f"volunteer:{VOLUNTEER}:timebank"
    assert str(AccountAddress.organization(VOLUNTEER, Book.SERVICE)) == f"org:{VOLUNTEER}:service"
    assert str(AccountAddress.organization(UNAFFILIATED, Book.TIMEBANK)) == "org:unaffiliated:timebank"
    assert str(AccountAddress.exchange_point(VOLUNTEER)) == f"point:{VOLUNTEER}"
    assert str(AccountAddress.pool()) == POOL_ACCOUNT == "pool"


addresses = st.one_of(
    st.builds(AccountAddress.volunteer, st.uuids(), st.sampled_from(Book)),
    st.builds(AccountAddress.organization, st.one_of(st.uuids(), st.just(UNAFFILIATED)), st.sampled_from(Book)),
    st.builds(AccountAddress.exchange_point, st.uuids()),
    st.just(AccountAddress.pool()),
)


@given(addresses)
def test_every_address_parses_back_to_itself(address: AccountAddress) -> None:
    assert AccountAddress.parse(str(address)) == address
    found = volunteer_book(str(address))
    if address.kind is AccountKind.VOLUNTEER:
        assert found == (address.owner, address.book)
    else:
        assert found is None


@pytest.mark.parametrize(
    "text",
    ["", "pool:x", "point", "point:1:service", "volunteer:1", "volunteer:1:savings", "org:1:service:2", "bank:1:service"],
)
def test_texts_that_name_no_account_are_refused(text: str) -> None:
    with pytest.raises(AccountAddressError):
        AccountAddress.parse(text)
    assert volunteer_book(text) is None


def test_the_local_day_turns_at_midnight_in_china_not_in_utc() -> None:
    midnight_in_china = datetime(2025, 6, 1, 16, 0, tzinfo=timezone.utc)
    assert local_day(midnight_in_china - timedelta(microseconds=1)) == 20250601
    assert local_day(midnight_in_china) == 20250602
    assert local_day(datetime(2025, 6, 2, 0, 0, tzinfo=timezone(timedelta(hours=8)))) == 20250602


def test_transaction_types_are_the_strings_of_the_spec() -> None:
    assert [t.value for t in TransactionType] == [
        "service_record", "timebank_deposit", "timebank_withdrawal", "timebank_transfer",
        "timebank_donation", "timebank_grant", "redemption", "reversal",
    ]


def test_legs_and_posted_by_are_stored_as_plain_json_objects(tmp_path) -> None:
    """Typed in the code, unchanged in the store: events recorded before keep loading, and the
    audit tree's records of them keep their hashes."""
    app = HourLedger(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "l.sqlite3")})
    try:
        clerk = Actor(key_id=uuid4(), name="盱眙兑换点", role=Role.OPERATOR)
        org = app.register_organization(SYSTEM, "盱眙志愿服务队", "320830").aggregate
        person = app.register_volunteer(SYSTEM, "志愿者", "320830", organization_id=org.id).aggregate
        posted = app.post(clerk, service(person, org, 30)).transaction
        (stored,) = app.recorder.select_events(posted.id)
        state = json.loads(stored.state)
        assert state["type"] == "service_record"
        assert state["legs"] == [
            {"account": f"volunteer:{person.id}:service", "minutes": 30},
            {"account": f"org:{org.id}:service", "minutes": -30},
        ]
        assert state["posted_by"] == {"key_id": str(clerk.key_id), "name": "盱眙兑换点"}
    finally:
        app.close()
