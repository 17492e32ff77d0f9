"""A volunteer's unreversed service periods, and the overlap rule that reads them.

The periods grow with every service record, and a volunteer is copied out of the aggregate
cache for every command. So the collection is immutable: a copy of the volunteer shares it
instead of copying years of history, and a change makes a new list (a copy of pointers, about
10 µs for 3,000 periods) instead of changing one that a cached volunteer still holds. The
periods are kept sorted by start, and since they never overlap, by end too: the overlap rule
bisects instead of looking at every period.

It is a `list` of `(start, end, transaction id)` tuples, [start, end) in epoch microseconds,
so that a snapshot stores it as plain JSON; a snapshot read back gives plain lists (or the
dict of earlier versions: transaction id → [start, end]), which `ServicePeriods.of` turns
into this class again.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any

Period = tuple[int, int, str]  # start, end, transaction id


class ServicePeriods(list[Period]):
    """Immutable by convention: `with_period` and `without` answer new collections."""

    @classmethod
    def of(cls, stored: Any) -> ServicePeriods:
        """The periods from what a snapshot or an older version held."""
        if isinstance(stored, ServicePeriods):
            return stored
        if isinstance(stored, dict):
            return cls(sorted((start, end, tid) for tid, (start, end) in stored.items()))
        return cls(sorted((start, end, tid) for start, end, tid in stored))

    def __deepcopy__(self, memo: dict[int, Any]) -> ServicePeriods:
        return self  # nothing in it is ever changed in place

    def __copy__(self) -> ServicePeriods:
        return self

    def overlapping(self, start: int, end: int) -> Period | None:
        """A period that meets [start, end), if any: only the neighbours of `start` can."""
        i = bisect_left(self, (start,))
        for candidate in self[max(0, i - 1) : i + 1]:
            if candidate[0] < end and start < candidate[1]:
                return candidate
        return None

    def with_period(self, transaction_id: str, start: int, end: int) -> ServicePeriods:
        grown = ServicePeriods()
        grown += self  # list's own copy: ServicePeriods(self) would iterate item by item
        insort(grown, (start, end, transaction_id))
        return grown

    def without(self, transaction_id: str) -> ServicePeriods:
        return ServicePeriods(p for p in self if p[2] != transaction_id)

    def transaction_ids(self) -> set[str]:
        return {p[2] for p in self}
