"""Read-model tables declared as data: each read model declares its own (`tables.py` in its
folder); the stores render them in their SQL dialect, suffixed by a generation
(`rm<generation>_<name>`), so that a rebuild fills new tables while the old ones keep serving.

Column kinds: "text" and "int" (64-bit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import Any


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: tables are singletons
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    measures: tuple[str, ...] = ()  # additive columns: Changes.add() sums into them
    signed: tuple[str, ...] = ()  # additive columns whose stored value may be negative

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    # A batch turns thousands of rows (dicts) into tuples: by `itemgetter`, in C.
    @cached_property
    def values_of(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        """A row's values, in the order of the columns."""
        return _tuple_getter(self.column_names)

    @cached_property
    def key_of(self) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
        """A row's key."""
        return _tuple_getter(self.key)

    def kind(self, column: str) -> str:
        return dict(self.columns)[column]


def _tuple_getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:  # itemgetter of one name gives the value, not a tuple
        (name,) = names
        return lambda row: (row[name],)
    return itemgetter(*names)


def columns(*spec: str) -> tuple[tuple[str, str], ...]:
    """Columns written "name:kind", e.g. columns("volunteer_id:text", "earned:int")."""
    out = []
    for item in spec:
        name, kind = item.split(":")
        if kind not in ("text", "int"):
            raise ValueError(f"column {name}: kind {kind!r} is neither text nor int")
        out.append((name, kind))
    return tuple(out)


def physical(generation: int, table: Table | str) -> str:
    """The name a table of a generation has in the database."""
    name = table.name if isinstance(table, Table) else table
    return f"rm{generation}_{name}"


def generation_prefix(generation: int) -> str:
    """What the name of every table of a generation starts with (its staging tables too)."""
    return f"rm{generation}_"
