"""What one batch does to a read model's tables, computed in memory and written at once:
rows replaced, rows deleted, and sums added into additive rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from projections.engine.tables import Table


def key_of(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in table.key)


class Changes:
    """Rows replaced (`put`), rows deleted (`delete`), and sums added into additive rows
    (`add`, `add_vector`; rows whose figures all come to zero are deleted when written)."""

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
        """Adds one value per measure, in the table's order of measures."""
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
