"""`python -m benchmarks [--record] [name ...]`: runs the named benchmarks (all by default).
With `--record` (as `make bench` runs them), each one's tables replace its section of
docs/benchmarks.md, with the date, the machine and the store."""

from __future__ import annotations

import sys

from benchmarks import audit, common, encoding, follower, inserts, lists, operations, projections, record, soak, writes

BENCHMARKS = {
    "writes": writes.run, "projections": projections.run, "audit": audit.run, "operations": operations.run,
    "lists": lists.run, "soak": soak.run, "encoding": encoding.run, "inserts": inserts.run, "follower": follower.run,
}


def main(arguments: list[str]) -> None:
    keep = "--record" in arguments
    names = [name for name in arguments if name != "--record"] or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        sys.exit(f"unknown benchmark {unknown[0]!r} (known: {', '.join(BENCHMARKS)})")
    for name in names:
        common.REPORTED.clear()
        BENCHMARKS[name]()
        if keep:
            record.write(name, common.REPORTED, list(BENCHMARKS))


if __name__ == "__main__":
    main(sys.argv[1:])
