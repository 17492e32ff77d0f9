"""Balances and statements: each volunteer's two books, now and as of any moment.

- `tables.py`: its tables (bal_volunteer, bal_entry, bal_txn);
- `projection.py`: its rule, following the log (`BalancesProjection`);
- `queries.py`: its answers (`BalanceQueries`: balance, statement, the replayed cross-check);
- `bulk.py`: its rule in set-based SQL for PostgreSQL's bulk rebuild (`BalancesBulk`).
"""
