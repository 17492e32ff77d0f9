"""The audit tree's tables, in the ledger's own database (the events' SQLite file or
PostgreSQL schema), and every SQL statement the audit runs (both dialects here, nowhere else).

- `audit_leaves`: leaf index (0, 1, 2, … without gaps), the event's position, its leaf hash.
- `audit_nodes`: every complete subtree of 2**level leaves (level ≥ 1), so that a proof is a
  handful of primary-key look-ups whatever the size of the tree.
- `audit_checkpoints`: every signed checkpoint note, by tree size.

A batch of leaves and their nodes is one transaction whose primary keys decide a race
between two followers (the loser's insert fails and it reloads): the tree is written exactly
once, and its position in the log is its last leaf's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.persistence import reading

Leaf = tuple[int, int, bytes]  # leaf index, position, leaf hash
EventRow = tuple[int, str, int, str, bytes]  # position, originator id, version, topic, stored state
Node = tuple[int, int, bytes]  # level, index at that level, hash


class TreeMovedError(Exception):
    """Another follower appended to the tree first: reload and go on from its size."""


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    signed_at: str
    note: str


class AuditStore:
    """The SQL of the audit, one subclass per dialect."""

    mark = "?"

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.datastore = recorder.datastore

    # Names and statements ------------------------------------------------------------------

    def table(self, name: str) -> str:
        return name

    def _create_statements(self) -> list[str]:
        blob, big = self.blob, self.big
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table('audit_leaves')} (leaf_index {big} PRIMARY KEY, "
            f"position {big} NOT NULL UNIQUE, leaf_hash {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.table('audit_nodes')} (level INTEGER NOT NULL, "
            f"node_index {big} NOT NULL, hash {blob} NOT NULL, PRIMARY KEY (level, node_index))",
            f"CREATE TABLE IF NOT EXISTS {self.table('audit_checkpoints')} (tree_size {big} PRIMARY KEY, "
            f"root_hash {blob} NOT NULL, signed_at TEXT NOT NULL, note TEXT NOT NULL)",
        ]

    blob = "BLOB"
    big = "INTEGER"

    def setup(self) -> None:
        with self.datastore.transaction(commit=True) as cur:
            for statement in self._create_statements():
                cur.execute(statement)

    def _q(self, text: str) -> str:
        """A statement with `{leaves}`, `{nodes}`, `{checkpoints}` and `?` marks in this dialect."""
        text = text.format(
            leaves=self.table("audit_leaves"), nodes=self.table("audit_nodes"), checkpoints=self.table("audit_checkpoints")
        )
        return text if self.mark == "?" else text.replace("?", self.mark)

    def _rows(self, text: str, params: Sequence[Any] = ()) -> list[Any]:
        with reading(self.datastore) as cur:
            cur.execute(self._q(text), list(params))
            return [tuple(row) if not isinstance(row, dict) else tuple(row.values()) for row in cur.fetchall()]

    # The tree ----------------------------------------------------------------------------

    def size_and_position(self) -> tuple[int, int]:
        """The tree's size and the position of its last leaf (0 for an empty tree)."""
        rows = self._rows("SELECT leaf_index, position FROM {leaves} ORDER BY leaf_index DESC LIMIT 1")
        return (int(rows[0][0]) + 1, int(rows[0][1])) if rows else (0, 0)

    def append(self, leaves: Sequence[Leaf], nodes: Sequence[Node]) -> None:
        """Writes a batch of leaves and the complete subtrees they close, in one transaction."""
        if not leaves:
            return
        try:
            self._insert(leaves, nodes)
        except Exception as error:
            if self._is_conflict(error):
                raise TreeMovedError(str(error)) from None
            raise

    def _insert(self, leaves: Sequence[Leaf], nodes: Sequence[Node]) -> None:
        with self.datastore.transaction(commit=True) as cur:
            cur.executemany(self._q("INSERT INTO {leaves} (leaf_index, position, leaf_hash) VALUES (?, ?, ?)"), list(leaves))
            if nodes:
                cur.executemany(self._q("INSERT INTO {nodes} (level, node_index, hash) VALUES (?, ?, ?)"), list(nodes))

    def _is_conflict(self, error: Exception) -> bool:
        return "UNIQUE" in str(error).upper() or "DUPLICATE" in str(error).upper()

    def complete_hashes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes of complete subtrees (level 0: leaves), in two statements."""
        found: dict[tuple[int, int], bytes] = {}
        leaves = sorted({index for level, index in keys if level == 0})
        nodes = sorted({(level, index) for level, index in keys if level > 0})
        for start in range(0, len(leaves), 500):
            chunk = leaves[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for index, digest in self._rows(f"SELECT leaf_index, leaf_hash FROM {{leaves}} WHERE leaf_index IN ({marks})", chunk):
                found[(0, int(index))] = bytes(digest)
        for start in range(0, len(nodes), 250):
            chunk = nodes[start : start + 250]
            where = " OR ".join("(level = ? AND node_index = ?)" for _ in chunk)
            params = [value for key in chunk for value in key]
            for level, index, digest in self._rows(f"SELECT level, node_index, hash FROM {{nodes}} WHERE {where}", params):
                found[(int(level), int(index))] = bytes(digest)
        return found

    def leaf_at(self, position: int) -> tuple[int, bytes] | None:
        rows = self._rows("SELECT leaf_index, leaf_hash FROM {leaves} WHERE position = ?", [position])
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def leaf_by_index(self, leaf_index: int) -> tuple[int, bytes] | None:
        """(position, leaf hash) of a leaf."""
        rows = self._rows("SELECT position, leaf_hash FROM {leaves} WHERE leaf_index = ?", [leaf_index])
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def leaves(self, after: int, limit: int) -> list[Leaf]:
        """Leaves with an index above `after`, in order."""
        rows = self._rows(
            "SELECT leaf_index, position, leaf_hash FROM {leaves} WHERE leaf_index > ? ORDER BY leaf_index LIMIT ?",
            [after, limit],
        )
        return [(int(i), int(p), bytes(h)) for i, p, h in rows]

    def iter_leaves(self, batch: int = 20_000) -> Iterator[Leaf]:
        after = -1
        while True:
            page = self.leaves(after, batch)
            yield from page
            if len(page) < batch:
                return
            after = page[-1][0]

    def nodes_count(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM {nodes}")[0][0])

    # The events ---------------------------------------------------------------------------

    def events_table(self) -> str:
        return self.recorder.events_table_name

    position_column = "rowid"

    def events(self, after: int, stop: int, limit: int) -> list[EventRow]:
        """Stored event rows with a position above `after` and up to `stop`, in log order:
        the bytes the audit hashes, read as they are stored (no decoding by the library)."""
        rows = self._event_rows(
            f"SELECT {self.position_column}, originator_id, originator_version, topic, state FROM {self.events_table()} "
            f"WHERE {self.position_column} > ? AND {self.position_column} <= ? ORDER BY {self.position_column} LIMIT ?",
            [after, stop, limit],
        )
        return [(int(p), self._originator(o), int(v), t, bytes(s)) for p, o, v, t, s in rows]

    def _event_rows(self, statement: str, params: list[Any]) -> list[Any]:
        return self._rows(statement, params)

    def _originator(self, stored: Any) -> str:
        return str(UUID(hex=stored)) if isinstance(stored, str) else str(stored)

    # Checkpoints -------------------------------------------------------------------------

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> bool:
        """Stores a signed checkpoint; False if one of that size was stored already."""
        try:
            with self.datastore.transaction(commit=True) as cur:
                cur.execute(
                    self._q("INSERT INTO {checkpoints} (tree_size, root_hash, signed_at, note) VALUES (?, ?, ?, ?)"),
                    [checkpoint.tree_size, checkpoint.root_hash, checkpoint.signed_at, checkpoint.note],
                )
            return True
        except Exception as error:
            if self._is_conflict(error):
                return False
            raise

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        rows = self._rows("SELECT tree_size, root_hash, signed_at, note FROM {checkpoints} ORDER BY tree_size DESC LIMIT 1")
        return _checkpoint(rows[0]) if rows else None

    def checkpoints(self, after: int, limit: int) -> list[StoredCheckpoint]:
        """Checkpoints of a tree size above `after`, oldest (smallest) first."""
        rows = self._rows(
            "SELECT tree_size, root_hash, signed_at, note FROM {checkpoints} WHERE tree_size > ? ORDER BY tree_size LIMIT ?",
            [after, limit],
        )
        return [_checkpoint(row) for row in rows]


def _checkpoint(row: Sequence[Any]) -> StoredCheckpoint:
    return StoredCheckpoint(int(row[0]), bytes(row[1]), str(row[2]), str(row[3]))


class SQLiteAuditStore(AuditStore):
    pass


class PostgresAuditStore(AuditStore):
    mark = "%s"
    blob = "BYTEA"
    big = "BIGINT"
    position_column = "notification_id"

    def events_table(self) -> str:
        return self.table(self.recorder.events_table_name)

    def _event_rows(self, statement: str, params: list[Any]) -> list[Any]:
        # Tuples in binary: the stored bytes as they are, no hex text to parse (twice as fast).
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor(row_factory=tuple_row, binary=True) as cur:
                cur.execute(self._q(statement), params)
                return cur.fetchall()

    def table(self, name: str) -> str:
        return f'"{self.datastore.schema}"."{name}"' if self.datastore.schema else name

    def setup(self) -> None:
        # Two processes starting at once on a new schema must not both create the tables.
        with self.datastore.transaction(commit=True) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"hour-ledger-audit:{self.datastore.schema}"])
            for statement in self._create_statements():
                cur.execute(statement)

    def _insert(self, leaves: Sequence[Leaf], nodes: Sequence[Node]) -> None:
        # COPY in binary: no text escaping of the hashes, one stream per table. The primary
        # keys still refuse a batch another follower wrote first (the transaction fails).
        with self.datastore.transaction(commit=True) as cur:
            with cur.copy(self._q("COPY {leaves} (leaf_index, position, leaf_hash) FROM STDIN (FORMAT BINARY)")) as copy:
                copy.set_types(["int8", "int8", "bytea"])
                for leaf in leaves:
                    copy.write_row(leaf)
            if nodes:
                with cur.copy(self._q("COPY {nodes} (level, node_index, hash) FROM STDIN (FORMAT BINARY)")) as copy:
                    copy.set_types(["int4", "int8", "bytea"])
                    for node in nodes:
                        copy.write_row(node)

    def complete_hashes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found: dict[tuple[int, int], bytes] = {}
        leaves = sorted({index for level, index in keys if level == 0})
        nodes = sorted({(level, index) for level, index in keys if level > 0})
        rows = self._rows(
            "SELECT 0, leaf_index, leaf_hash FROM {leaves} WHERE leaf_index = ANY(?::bigint[]) "
            "UNION ALL SELECT n.level, n.node_index, n.hash FROM {nodes} n "
            "JOIN unnest(?::int[], ?::bigint[]) AS k(level, node_index) USING (level, node_index)",
            [leaves, [k[0] for k in nodes], [k[1] for k in nodes]],
        )
        for level, index, digest in rows:
            found[(int(level), int(index))] = bytes(digest)
        return found


def audit_store_of(recorder: Any) -> AuditStore:
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresAuditStore(recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteAuditStore(recorder)
    raise TypeError(f"the audit needs a PostgreSQL or SQLite store, not {type(recorder).__name__}")
