"""What one batch does to a read model's tables, computed in memory and written at once:
rows replaced, rows deleted, and sums added into additive rows."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from projections.engine.tables import Table


class Changes:
    """Rows replaced (`put`), rows deleted (`delete`), and sums added into additive rows:
    `adds[table][key]` is one running sum per measure of the table, in the order of
    `table.measures` (read models add into these lists directly: a batch adds millions of
    times). When written, rows whose figures all come to zero are deleted."""

    def __init__(self) -> None:
        self.puts: dict[Table, dict[tuple[Any, ...], dict[str, Any]]] = defaultdict(dict)
        self.deletes: dict[Table, set[tuple[Any, ...]]] = defaultdict(set)
        self.adds: dict[Table, dict[tuple[Any, ...], list[int]]] = defaultdict(dict)

    def put(self, table: Table, row: dict[str, Any]) -> None:
        key = table.key_of(row)
        self.puts[table][key] = row
        self.deletes[table].discard(key)

    def delete(self, table: Table, key: tuple[Any, ...]) -> None:
        self.puts[table].pop(key, None)
        self.deletes[table].add(key)
