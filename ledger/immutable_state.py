"""Aggregates whose attributes are all immutable values, and so are copied in constant time.

eventsourcing hands out a deep copy of a cached aggregate for every command, so that a command
refused half-way cannot corrupt the cache. For an aggregate holding only immutable values
(numbers, strings, UUIDs, datetimes, `ServicePeriods`) a new object sharing them is as safe,
and does not grow slower as the aggregate's history grows.
"""

from __future__ import annotations

from typing import Any


class ImmutableState:
    """Mix in before `Aggregate`; every attribute must be immutable (or never changed in place)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        copied = object.__new__(type(self))
        state = copied.__dict__
        state.update(self.__dict__)
        state["_pending_events"] = list(state.get("_pending_events", ()))
        memo[id(self)] = copied
        return copied


class NeverChanges(ImmutableState):
    """An aggregate with no event after the one that created it: a copy of it from the cache
    can never be out of date, so a command may read it without asking the store."""
