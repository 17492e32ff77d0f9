"""`python -m benchmarks [name ...]`: runs the named benchmarks (all by default)."""

from __future__ import annotations

import sys

from benchmarks import audit, encoding, follower, inserts, lists, operations, projections, soak, writes

BENCHMARKS = {
    "writes": writes.run, "projections": projections.run, "audit": audit.run, "operations": operations.run,
    "lists": lists.run, "soak": soak.run, "encoding": encoding.run, "inserts": inserts.run, "follower": follower.run,
}


def main(names: list[str]) -> None:
    for name in names or list(BENCHMARKS):
        BENCHMARKS[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
