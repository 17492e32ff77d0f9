"""The one small interface between the read-model logic and a database.

The projections (`balances.py`, `stats.py`) compute `Changes` from events and ask questions
through a `Reader`; the persistence modules (`sql_store.py` with its dialects
`postgres_store.py` and `sqlite_store.py`) hold every line of SQL. A batch of changes is
written in one database transaction together with the projection's tracking record
(compare-and-set on the previous position), which is what makes processing exactly-once.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Notification

from projections.schema import Table


class PositionConflict(Exception):
    """Another process recorded this projection's position first: its batch stands, ours not."""


class GenerationChanged(Exception):
    """The generation being written is no longer in the state the writer expected
    (a rebuild switched generations, or dropped this one)."""


def key_of(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in table.key)


class Changes:
    """What one batch does to a projection's tables: rows replaced, rows deleted, and sums
    added into additive rows (rows whose figures all come to zero are deleted)."""

    def __init__(self) -> None:
        self.puts: dict[Table, dict[tuple[Any, ...], dict[str, Any]]] = defaultdict(dict)
        self.deletes: dict[Table, set[tuple[Any, ...]]] = defaultdict(set)
        self.adds: dict[Table, dict[tuple[Any, ...], list[int]]] = defaultdict(dict)

    def put(self, table: Table, row: dict[str, Any]) -> None:
        key = key_of(table, row)
        self.puts[table][key] = row
        self.deletes[table].discard(key)

    def delete(self, table: Table, key: tuple[Any, ...]) -> None:
        self.puts[table].pop(key, None)
        self.deletes[table].add(key)

    def add(self, table: Table, key: tuple[Any, ...], **deltas: int) -> None:
        sums = self.adds[table].get(key)
        if sums is None:
            sums = self.adds[table][key] = [0] * len(table.measures)
        for name, value in deltas.items():
            sums[table.measures.index(name)] += value

    def add_vector(self, table: Table, key: tuple[Any, ...], vector: Sequence[int]) -> None:
        sums = self.adds[table].get(key)
        if sums is None:
            self.adds[table][key] = list(vector)
        else:
            for i, value in enumerate(vector):
                sums[i] += value

    def size(self) -> int:
        return (
            sum(len(v) for v in self.puts.values())
            + sum(len(v) for v in self.deletes.values())
            + sum(len(v) for v in self.adds.values())
        )


@dataclass(frozen=True)
class Spot:
    """Which rows of a region-keyed table answer for a region: the rollup rows of one code
    (`lvl`, `anc`), or the exact rows of every code under a prefix (levels lvl_lo..lvl_hi)."""

    lvl_lo: int
    lvl_hi: int
    anc: str
    prefix: bool  # False: anc = value; True: anc starts with value


@dataclass(frozen=True)
class Grouping:
    """How rows are grouped: not at all, by `anc`, by its first n characters, by `grp`, by month."""

    kind: str  # "none" | "anc" | "substr" | "grp" | "month"
    length: int = 0


@dataclass(frozen=True)
class Glance:
    """A row (None: no such row) and, as of the same snapshot, the log's head and the lowest
    position of the projections asked about: the row reflects every event up to `position`."""

    generation: int
    head: int
    position: int
    row: dict[str, Any] | None


class Reader(ABC):
    """Questions the read models ask, inside one consistent read of the current generation."""

    generation: int

    @abstractmethod
    def row(self, table: Table, key: tuple[Any, ...]) -> dict[str, Any] | None: ...

    @abstractmethod
    def entry_at_or_before(self, volunteer_id: str, book: str, us: int, strict: bool = False) -> dict[str, Any] | None:
        """The latest statement entry recorded at or before (strict: before) a moment."""

    @abstractmethod
    def entries(
        self, volunteer_id: str, book: str, after_seq: int, from_us: int, to_us: int, limit: int
    ) -> list[dict[str, Any]]: ...

    @abstractmethod
    def day_sums(
        self, spot: Spot, grp: str, grp_prefix: bool, first_day: int, last_day: int, grouping: Grouping
    ) -> dict[Any, dict[str, int]]:
        """Per group: period measures summed over [first_day, last_day], cumulative measures
        summed over every day up to last_day (for month grouping: per month, both)."""

    @abstractmethod
    def distinct_counts(
        self, measure: str, spot: Spot, first_day: int, last_day: int, grouping: Grouping
    ) -> dict[Any, int]:
        """Distinct subjects with an occurrence in [first_day, last_day], from the rolled-up
        counts (st_count) of the whole-ledger scope."""

    @abstractmethod
    def pair_counts(
        self, measure: str, scope: str, scope_prefix: bool, region: str | None,
        first_day: int, last_day: int, grouping: Grouping,
    ) -> dict[Any, int]:
        """The same, counted from the pairs themselves (st_pair) of a scope or scopes, within
        a region prefix; groupings: none, "scope", "substr" (of the region), "month"."""

    @abstractmethod
    def day_span(self, spot: Spot) -> tuple[int, int] | None: ...

    @abstractmethod
    def names(self, table: Table, keys: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    @abstractmethod
    def dump(self, table: Table) -> list[tuple[Any, ...]]:
        """Every row, in key order (tests compare generations with it)."""


class ReadModelStore(ABC):
    """Generations, tracking, batch writes and reads of the read models in one database."""

    kind: str

    @abstractmethod
    def setup(self, names: Sequence[str]) -> int:
        """Creates what is missing; answers the current generation (creating the first)."""

    @abstractmethod
    def generations(self) -> list[tuple[int, str]]: ...

    @abstractmethod
    def generation_state(self, generation: int) -> str | None: ...

    @abstractmethod
    def begin_generation(self, names: Sequence[str]) -> int:
        """New empty tables in state 'building' (stale 'building' generations are dropped)."""

    @abstractmethod
    def switch_generation(
        self, generation: int, names: Sequence[str], final: Callable[[Any], None] | None = None
    ) -> int | None:
        """Makes a built generation current, answering the generation it replaced (to drop;
        0 if none). In one transaction that first stops the current generation from moving:
        `final(transaction)` brings the new one up to the head, using that transaction for
        its reads and writes; the switch then needs it at least as far as the current one."""

    @abstractmethod
    def drop_generation(self, generation: int, names: Sequence[str]) -> None: ...

    def bulk_load(
        self, generation: int, names: Sequence[str], thresholds: Sequence[int],
        progress: Callable[[int, int], None] | None = None, stage: Callable[[str], None] | None = None,
        work_mem: str = "1GB",
    ) -> int | None:
        """Fills a new 'building' generation from the events in bulk, up to some position it
        records for every projection and answers; None where the store has no bulk path (the
        projections then process every event themselves)."""
        return None

    @abstractmethod
    def analyze(self, generation: int) -> None:
        """Refreshes the database's statistics of a generation's tables (after a rebuild)."""

    @abstractmethod
    def positions(self, generation: int, names: Sequence[str]) -> dict[str, int]: ...

    @abstractmethod
    def commit(
        self, generation: int, state: str, name: str, expected: int, new: int, changes: Changes,
        transaction: Any = None,
    ) -> None:
        """Writes a batch and moves the position from `expected` to `new`, atomically (in its
        own transaction, or in `transaction`). Raises PositionConflict or GenerationChanged
        (and writes nothing) otherwise."""

    @abstractmethod
    def fetch(
        self, generation: int, table: Table, columns: Sequence[str], values: Sequence[tuple[Any, ...]],
        transaction: Any = None, nearest: bool = False,
    ) -> list[dict[str, Any]]:
        """Rows whose `columns` equal one of `values` (a key, a key prefix, or an index).

        With `nearest`, `columns` are the table's key, and for each value: the row with that
        key, and the rows just before and just after it in key order among the rows that
        share all but its last column, its run (what can change when a key is inserted into
        or removed from a sorted run, found without reading the whole run). Each row once, at
        most three rows of its run per value: a dialect may answer the second row after a
        value that has no row of its own (PostgreSQL does)."""

    @abstractmethod
    def read_log(
        self, transaction: Any, after: int, stop: int, topics: Sequence[str], limit: int
    ) -> list[Notification]:
        """The application's notifications after `after` up to `stop`, read in `transaction`
        (a generation switch must not ask the pool for another connection: SQLite's pool has
        one writer, and a writer waiting for it holds up readers too)."""

    @abstractmethod
    def log_head(self, transaction: Any) -> int: ...

    @abstractmethod
    def reading(self, generation: int | None = None) -> AbstractContextManager[Reader]:
        """A consistent read of a generation (the current one by default)."""

    @abstractmethod
    def glance(self, table: Table, key: tuple[Any, ...], names: Sequence[str]) -> Glance:
        """One row of the current generation by its key, read in one snapshot with the head
        of the log and the position of the projections `names`. Raises GenerationChanged (or
        the database's "no such table") when the generation moved: ask again."""

    def close(self) -> None:  # noqa: B027 - optional
        pass

    # Waking ------------------------------------------------------------------------------

    supports_notifications: bool = False
    # A rebuild's batches: bigger ones merge more rollup rows in memory before writing, but
    # on SQLite every write holds the one database lock the ledger's writers need too.
    rebuild_batch_size: int = 2000

    def listen(self, wake: threading.Event, stopping: threading.Event) -> None:
        """Blocks until `stopping` is set, setting `wake` whenever events are recorded by any
        process (PostgreSQL: LISTEN). Stores without notifications (SQLite) are polled."""
        raise NotImplementedError
