"""The balances' part of a bulk rebuild on PostgreSQL (`projections/engine/bulk.py`): the rule
of `projection.py` restated in set-based SQL. Running balances and statement numbers come
from window functions over every leg on a volunteer's book, in log order.

Its constants (transaction types, books, the volunteer-book address pattern) come from
`ledger/vocabulary.py`; `tests/projections/balances` holds its tables equal to a follower's,
and its reading of an address to `vocabulary.volunteer_book`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.vocabulary import BOOK_PART, OWNER_PART, SEPARATOR, VOLUNTEER_BOOK_PATTERN, Book, TransactionType
from ledger.volunteer import Volunteer
from projections.balances.tables import BAL_ENTRY, BAL_TXN, BAL_VOLUNTEER
from projections.engine.bulk import PARSED, TEXT, BulkLoad, Phase, microseconds, sql_text, stored_uuid

SERVICE, TIMEBANK = sql_text(Book.SERVICE), sql_text(Book.TIMEBANK)
REDEMPTION, REVERSAL = sql_text(TransactionType.REDEMPTION), sql_text(TransactionType.REVERSAL)
SERVICE_BOOK_TYPES = ", ".join(sql_text(t) for t in (TransactionType.SERVICE_RECORD, TransactionType.REDEMPTION))


def volunteer_book(account: str) -> tuple[str, str, str]:
    """`vocabulary.volunteer_book` in SQL, of a text expression: the condition that it is a
    volunteer's book, the volunteer's id and the book. (A match with `~` and split_part: as
    fast as the match alone, where regexp_match's captures cost ten times as much.)"""
    separator = sql_text(SEPARATOR)
    return (
        f"{account} ~ {sql_text(VOLUNTEER_BOOK_PATTERN)}",
        f"split_part({account}, {separator}, {OWNER_PART})",
        f"split_part({account}, {separator}, {BOOK_PART})",
    )


class BalancesBulk:
    name = "balances"
    topics: Mapping[str, type] = {
        "transaction_posted": Transaction.Posted,
        "volunteer_registered": Volunteer.Registered,
        "timebank_opened": TimebankAccount.Opened,
    }

    def staging(self) -> Mapping[str, str]:
        return {
            # every leg on a volunteer's book, in log order (pos, ord)
            "rb_bal_leg": (
                f"pos bigint, ord bigint, tid {TEXT}, type {TEXT}, reverses {TEXT}, vid {TEXT}, "
                f"book {TEXT}, minutes bigint, recorded_us bigint"
            ),
            "rb_bal_registered": f"vid {TEXT}, registered_us bigint",
            "rb_bal_opened": f"vid {TEXT}, opened_us bigint",
        }

    def extraction(self, load: BulkLoad) -> Sequence[str]:
        p = PARSED
        is_book, volunteer, book = volunteer_book("leg.value->>'account'")
        return [
            f"""
            INSERT INTO rb_bal_leg
            SELECT {p}.pos, leg.ord, {p}.id, {p}.j->>'type', {p}.j->'content'->>'reverses',
                   {volunteer}, {book}, (leg.value->>'minutes')::bigint, {microseconds(f"{p}.ts")}
            FROM {p} CROSS JOIN LATERAL jsonb_array_elements({p}.j->'legs') WITH ORDINALITY AS leg(value, ord)
            WHERE {p}.topic = %(transaction_posted)s AND {is_book}
            """,
            f"""
            INSERT INTO rb_bal_registered
            SELECT {p}.id, {microseconds(f"{p}.ts")} FROM {p} WHERE {p}.topic = %(volunteer_registered)s
            """,
            f"""
            INSERT INTO rb_bal_opened
            SELECT {stored_uuid(f"{p}.j->'volunteer_id'")}, {microseconds(f"{p}.ts")}
            FROM {p} WHERE {p}.topic = %(timebank_opened)s
            """,
        ]

    def phases(self, load: BulkLoad) -> Sequence[Phase]:
        return [Phase("summing", [lambda cur: self.compute(load, cur)])]

    def compute(self, load: BulkLoad, cur: Any) -> None:
        # The transactions whose reversal takes back redeemed rather than earned minutes are
        # known by their type: service records and redemptions that moved a service book.
        cur.execute(
            "CREATE UNLOGGED TABLE rb_bal_txn AS "
            f"SELECT DISTINCT tid, type FROM rb_bal_leg WHERE book = {SERVICE} AND type IN ({SERVICE_BOOK_TYPES})"
        )
        cur.execute(f"INSERT INTO {load.table(BAL_TXN)} (transaction_id, type) SELECT tid, type FROM rb_bal_txn")
        cur.execute(
            f"""
            CREATE UNLOGGED TABLE rb_bal_entry AS
            SELECT l.*,
                   CASE WHEN l.book = {SERVICE} AND k.kind IS DISTINCT FROM {REDEMPTION} THEN l.minutes ELSE 0 END AS d_earned,
                   CASE WHEN l.book = {SERVICE} AND k.kind = {REDEMPTION} THEN -l.minutes ELSE 0 END AS d_redeemed
            FROM rb_bal_leg AS l
            LEFT JOIN rb_bal_txn AS o ON l.type = {REVERSAL} AND o.tid = l.reverses
            CROSS JOIN LATERAL (SELECT CASE WHEN l.type = {REVERSAL} THEN o.type ELSE l.type END AS kind) AS k
            """
        )
        cur.execute(
            f"""
            INSERT INTO {load.table(BAL_ENTRY)} (volunteer_id, book, seq, transaction_id, type, minutes,
                balance_after, earned_after, redeemed_after, recorded_us)
            SELECT vid, book, row_number() OVER (PARTITION BY vid, book ORDER BY pos, ord), tid, type, minutes,
                   CASE WHEN book = {SERVICE} THEN earned_after - redeemed_after
                        ELSE SUM(minutes) OVER (PARTITION BY vid, book ORDER BY pos, ord) END,
                   earned_after, redeemed_after, recorded_us
            FROM (
                SELECT e.*,
                       SUM(d_earned) OVER w AS earned_after,
                       SUM(d_redeemed) OVER w AS redeemed_after
                FROM rb_bal_entry AS e
                WINDOW w AS (PARTITION BY vid ORDER BY pos, ord)
            ) AS x
            """
        )
        cur.execute(
            f"""
            INSERT INTO {load.table(BAL_VOLUNTEER)} (volunteer_id, registered_us, earned, redeemed,
                timebank_opened_us, timebank_balance, service_seq, timebank_seq)
            SELECT ids.vid, COALESCE(v.registered_us, 0), COALESCE(t.earned, 0), COALESCE(t.redeemed, 0),
                   o.opened_us, COALESCE(t.timebank, 0), COALESCE(t.service_seq, 0), COALESCE(t.timebank_seq, 0)
            FROM (SELECT vid FROM rb_bal_registered UNION SELECT vid FROM rb_bal_opened
                  UNION SELECT vid FROM rb_bal_entry) AS ids
            LEFT JOIN rb_bal_registered AS v ON v.vid = ids.vid
            LEFT JOIN rb_bal_opened AS o ON o.vid = ids.vid
            LEFT JOIN (
                SELECT vid, SUM(d_earned) AS earned, SUM(d_redeemed) AS redeemed,
                       SUM(minutes) FILTER (WHERE book = {TIMEBANK}) AS timebank,
                       COUNT(*) FILTER (WHERE book = {SERVICE}) AS service_seq,
                       COUNT(*) FILTER (WHERE book = {TIMEBANK}) AS timebank_seq
                FROM rb_bal_entry GROUP BY vid
            ) AS t ON t.vid = ids.vid
            """
        )
        for table in (BAL_ENTRY, BAL_TXN, BAL_VOLUNTEER):
            load.create_indexes(table, cur)
