"""The balances' tables. Times are integer microseconds since the epoch (`*_us`), ids
canonical UUID strings, minutes signed integers."""

from __future__ import annotations

from projections.engine.tables import Table, columns

# One row per volunteer: a balance now is one primary-key read.
BAL_VOLUNTEER = Table(
    "bal_volunteer",
    columns(
        "volunteer_id:text", "registered_us:int", "earned:int", "redeemed:int",
        "timebank_opened_us:int", "timebank_balance:int", "service_seq:int", "timebank_seq:int",
    ),
    key=("volunteer_id",),
)

# One row per leg on a volunteer's book, numbered per book (`seq`): the statement, and the
# balance as of any moment (the last entry at or before it; the service book's entries carry
# running earned and redeemed minutes).
BAL_ENTRY = Table(
    "bal_entry",
    columns(
        "volunteer_id:text", "book:text", "seq:int", "transaction_id:text", "type:text",
        "minutes:int", "balance_after:int", "earned_after:int", "redeemed_after:int", "recorded_us:int",
    ),
    key=("volunteer_id", "book", "seq"),
    indexes=(("volunteer_id", "book", "recorded_us"),),
)

# The type of every transaction that moved a service book: a reversal's own legs do not say
# whether they take back earned or redeemed minutes.
BAL_TXN = Table("bal_txn", columns("transaction_id:text", "type:text"), key=("transaction_id",))

TABLES = (BAL_VOLUNTEER, BAL_ENTRY, BAL_TXN)
