"""The one interface between the read models and a database: `ReadModelStore` (generations,
tracking, batch writes, reads) and `Reader` (questions asked in one snapshot).

The read models compute `Changes` from events and ask their questions through a `Reader` in
SQL both databases speak; the stores (`sql.py` with its dialects `postgres.py` and
`sqlite.py`) hold the SQL of generations, tracking and writes. A batch of changes is written
in one database transaction together with the projection's tracking record (compare-and-set on
the previous position), which is what makes processing exactly-once.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from eventsourcing.persistence import Notification

from ledger.errors import UnavailableError
from projections.engine.changes import Changes
from projections.engine.tables import Table

# One projection's part of a commit: its name, the position its batch starts after, its changes.
Batch = tuple[str, int, Changes]

if TYPE_CHECKING:
    from projections.engine.bulk import BulkPlan

T = TypeVar("T")


class PositionConflict(Exception):
    """Another process recorded this projection's position first: its batch stands, ours not."""


class GenerationChanged(Exception):
    """The generation being read or written is no longer in the state the caller expected: a
    rebuild switched generations, or dropped this one (its tables may be gone). Ask again."""


@dataclass(frozen=True)
class Glance:
    """A row (None: no such row) and, as of the same snapshot, the log's head and the lowest
    position of the projections asked about: the row reflects every event up to `position`."""

    generation: int
    head: int
    position: int
    row: dict[str, Any] | None


class Reader(ABC):
    """Questions asked inside one consistent read of one generation. Statements are written in
    the SQL both databases speak, with `?` placeholders, naming tables by `table()`."""

    generation: int

    @abstractmethod
    def table(self, table: Table) -> str:
        """The table's name in this generation, as statements must write it."""

    @abstractmethod
    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows a statement answers."""

    @abstractmethod
    def rows_in(self, table: Table, columns: Sequence[str], values: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """The rows whose `columns` equal one of `values` (thousands at once, if need be)."""

    def row(self, table: Table, key: tuple[Any, ...]) -> dict[str, Any] | None:
        cols = table.column_names
        where = " AND ".join(f"{c} = ?" for c in table.key)
        found = self.rows(f"SELECT {', '.join(cols)} FROM {self.table(table)} WHERE {where}", key)
        return dict(zip(cols, found[0], strict=True)) if found else None

    def dump(self, table: Table) -> list[tuple[Any, ...]]:
        """Every row, in key order (tests compare generations with it)."""
        cols = table.column_names
        return self.rows(f"SELECT {', '.join(cols)} FROM {self.table(table)} ORDER BY {', '.join(table.key)}")


class ReadModelStore(ABC):
    """Generations, tracking, batch writes and reads of the read models' `tables` in one
    database. Errors of the database itself are of the types in `database_errors`."""

    kind: str
    tables: tuple[Table, ...]
    database_errors: tuple[type[BaseException], ...]

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
    def drop_generation(self, generation: int, names: Sequence[str]) -> None:
        """Drops every table of the generation (whatever its name: tables of an older layout
        and a bulk load's staging tables too) and its tracking records."""

    def bulk_load(
        self, generation: int, names: Sequence[str], plans: Sequence[BulkPlan],
        progress: Callable[[int, int], None] | None = None, stage: Callable[[str], None] | None = None,
        work_mem: str = "1GB",
    ) -> int | None:
        """Fills a new 'building' generation from the events in bulk (each read model's
        `plans`), up to some position it records for every projection and answers; None where
        the store has no bulk path (the projections then process every event themselves)."""
        return None

    @abstractmethod
    def analyze(self, generation: int) -> None:
        """Refreshes the database's statistics of a generation's tables (after a rebuild)."""

    @abstractmethod
    def positions(self, generation: int, names: Sequence[str]) -> dict[str, int]: ...

    @abstractmethod
    def commit(
        self, generation: int, state: str, batches: Sequence[Batch], new: int, transaction: Any = None
    ) -> None:
        """Writes each projection's batch (its name, the position it started from, its
        changes) and moves each position from where it was to `new`, all atomically (in one
        transaction of its own, or in `transaction`). Raises PositionConflict or
        GenerationChanged (and writes nothing) otherwise."""

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
        """A consistent read of a generation (the current one by default). Raises
        GenerationChanged when the generation stopped being current under the read."""

    @abstractmethod
    def glance(self, table: Table, key: tuple[Any, ...], names: Sequence[str]) -> Glance:
        """One row of the current generation by its key, read in one snapshot with the head
        of the log and the position of the projections `names`. Raises GenerationChanged when
        the generation moved: ask again."""

    def moved(self, generation: int) -> bool:
        """Whether a generation has stopped being current (a rebuild switched, or dropped it).
        False when that cannot be told (the database does not answer)."""
        try:
            return self.generation_state(generation) != "current"
        except self.database_errors:
            return False

    def guarded(self, call: Callable[[], T]) -> T:
        """`call()`, with the database's own errors answered as UnavailableError (a 503)."""
        try:
            return call()
        except self.database_errors as error:
            raise UnavailableError("read_models_failed", error=type(error).__name__) from error

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
