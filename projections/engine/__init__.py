"""The engine every read model runs on: it follows the ledger's log, keeps generations of
tables, writes batches exactly once, and answers reads in snapshots. It knows tables, events
and SQL, not balances or statistics; each read model (`projections/<read model>/`) brings its
rule, tables, queries and bulk SQL and uses the engine through these modules:

- `tables.py`: `Table`, `columns`, `physical` — declaring a read model's tables;
- `changes.py`: `Changes` — what a batch does to them;
- `runner.py`: `Projection` (what a read model's rule provides), `Fetch`, `Runner`;
- `store.py`: `ReadModelStore`, `Reader` (questions in one snapshot: `table`, `rows`,
  `rows_in`, `row`), `Glance`, `GenerationChanged`, `PositionConflict`;
- `sql.py`, `postgres.py`, `sqlite.py`: the stores' SQL, in both dialects; `stores.py` picks one;
- `follower.py`: `Follower` — following the log, `wait_for`, positions, status;
- `reads.py`: `Reads` — snapshot reads, asked again across a generation switch;
- `rebuild.py`: `rebuild` — a new generation, filled, switched in;
- `bulk.py`: `BulkLoad`, `BulkPlan`, `Phase` — the PostgreSQL bulk load a rebuild starts with,
  and SQL for eventsourcing's stored events (`stored_uuid`, `microseconds`, `day_at_offset`).
"""
