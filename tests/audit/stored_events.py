"""Direct SQL on a ledger's stored events and audit tables, as whoever administers the
database could run it: the tampering that `verify` must catch."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.application import HourLedger
from ledger.persistence import is_postgres


class StoredEvents:
    def __init__(self, ledger: HourLedger) -> None:
        self.recorder = ledger.recorder
        self.postgres = is_postgres(self.recorder)
        name = self.recorder.events_table_name
        if self.postgres:
            schema = self.recorder.datastore.schema
            self.table = f'"{schema}"."{name}"'
            self.audit = lambda t: f'"{schema}"."{t}"'
            self.id = "notification_id"
        else:
            self.table = name
            self.audit = lambda t: t
            self.id = "rowid"

    def sql(self, statement: str, params: list[Any] = ()) -> list[Any]:  # type: ignore[assignment]
        if self.postgres:
            statement = statement.replace("?", "%s")
        with self.recorder.datastore.transaction(commit=True) as cur:
            cur.execute(statement, list(params))
            try:
                return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in cur.fetchall()]
            except Exception:  # noqa: BLE001 - a statement without rows
                return []

    def positions(self) -> list[int]:
        return [int(r[0]) for r in self.sql(f"SELECT {self.id} FROM {self.table} ORDER BY {self.id}")]

    def row(self, position: int) -> tuple[Any, int, str, bytes]:
        found = self.sql(
            f"SELECT originator_id, originator_version, topic, state FROM {self.table} WHERE {self.id} = ?", [position]
        )
        originator_id, version, topic, state = found[0]
        return UUID(str(originator_id)), int(version), str(topic), bytes(state)

    def set_state(self, position: int, state: bytes) -> None:
        self.sql(f"UPDATE {self.table} SET state = ? WHERE {self.id} = ?", [state, position])

    def delete(self, position: int) -> None:
        self.sql(f"DELETE FROM {self.table} WHERE {self.id} = ?", [position])

    def insert(self, position: int | None, originator_id: UUID, version: int, topic: str, state: bytes) -> int:
        """Inserts a row at `position` (None: the next free one); answers its position."""
        stored_id = originator_id if self.postgres else originator_id.hex
        if position is None:
            position = self.positions()[-1] + 1
            if self.postgres:  # from the table's own sequence, as the ledger's inserts take theirs
                found = self.sql(
                    f"INSERT INTO {self.table} (originator_id, originator_version, topic, state) "
                    f"VALUES (?, ?, ?, ?) RETURNING {self.id}",
                    [stored_id, version, topic, state],
                )
                return int(found[0][0])
        self.sql(
            f"INSERT INTO {self.table} ({self.id}, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
            [position, stored_id, version, topic, state],
        )
        return position

    def rewrite_tree(self, leaves: list[bytes], nodes: list[tuple[int, int, bytes]]) -> None:
        """Replaces every stored leaf hash and subtree hash (positions unchanged)."""
        for index, digest in enumerate(leaves):
            self.sql(f"UPDATE {self.audit('audit_leaves')} SET leaf_hash = ? WHERE leaf_index = ?", [digest, index])
        self.sql(f"DELETE FROM {self.audit('audit_nodes')}")
        for level, index, digest in nodes:
            self.sql(f"INSERT INTO {self.audit('audit_nodes')} (level, node_index, hash) VALUES (?, ?, ?)", [level, index, digest])

    def forget_checkpoints(self) -> None:
        self.sql(f"DELETE FROM {self.audit('audit_checkpoints')}")


def registrations(events: StoredEvents) -> list[int]:
    """The positions of the volunteers' registrations in the log."""
    return [p for p in events.positions() if events.row(p)[2].endswith("Volunteer.Registered")]
