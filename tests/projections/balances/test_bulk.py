"""The balances' bulk SQL (`projections/balances/bulk.py`) restates their rule
(`projection.py`): on a ledger that meets every rule, a bulk rebuild gives exactly the rows a
follower gives batch by batch, and PostgreSQL reads account addresses as `ledger.vocabulary`
does."""

from __future__ import annotations


import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.vocabulary import AccountAddress, Book, volunteer_book
from projections.balances import bulk
from projections.balances.tables import TABLES
from tests.projections.bulk_scenario import assert_rebuilds_give_what_a_follower_gives

pytestmark = pytest.mark.postgres


def test_a_bulk_rebuild_gives_the_balances_a_follower_gives(url: str) -> None:
    followed = assert_rebuilds_give_what_a_follower_gives(url, TABLES)
    assert len(followed["bal_entry"]) > 40 and len(followed["bal_txn"]) > 20


accounts = st.one_of(
    st.builds(lambda v, b: str(AccountAddress.volunteer(v, b)), st.uuids(), st.sampled_from(Book)),
    st.builds(lambda o, b: str(AccountAddress.organization(o, b)), st.uuids(), st.sampled_from(Book)),
    st.builds(lambda p: str(AccountAddress.exchange_point(p)), st.uuids()),
    st.just(str(AccountAddress.pool())),
    st.text(alphabet="volunter:sicbkamp0-9\n", max_size=40),
)


@settings(max_examples=200, deadline=None)
@given(account=accounts)
def test_postgres_finds_a_volunteers_book_in_an_address_as_the_vocabulary_does(
    postgres: psycopg.Connection, account: str
) -> None:
    is_book, volunteer, book = bulk.volunteer_book("a.account")
    row = postgres.execute(f"SELECT {is_book}, {volunteer}, {book} FROM (SELECT %s::text AS account) AS a", (account,)).fetchone()
    expected = volunteer_book(account)
    assert (None if not row[0] else (row[1], Book(row[2]))) == expected
