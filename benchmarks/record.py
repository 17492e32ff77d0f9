"""docs/benchmarks.md: the last recorded run of each benchmark, one section each, written by
`python -m benchmarks --record`. Recording one benchmark replaces its section and keeps the
others', so that every figure there says when, where and against what it was measured."""

from __future__ import annotations

import os
import platform
import re
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import psycopg

from benchmarks.common import SERVER

RECORD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = """# Benchmark figures

Written by `python -m benchmarks --record` (`make bench`): do not edit by hand. Each section is
the last recorded run of one benchmark (`python -m benchmarks NAME --record` records one):
when, on what machine, against which store. Each figure stands beside a raw baseline measured
in the same run; what each benchmark does is in its module, `benchmarks/NAME.py`.
"""
SECTION = re.compile(r"^## (\S+)$", re.MULTILINE)
Table = tuple[str, list[tuple[str, ...]]]


def write(name: str, tables: list[Table], order: list[str]) -> None:
    """Replaces `name`'s section of the record with `tables`, sections kept in `order`."""
    sections = read_sections()
    sections[name] = render(name, tables)
    ordered = [n for n in order if n in sections] + sorted(set(sections) - set(order))
    RECORD.write_text(HEADER + "".join("\n" + sections[n] for n in ordered), encoding="utf-8")


def read_sections() -> dict[str, str]:
    text = RECORD.read_text(encoding="utf-8") if RECORD.exists() else ""
    found = list(SECTION.finditer(text))
    return {
        match.group(1): text[match.start(): found[i + 1].start() if i + 1 < len(found) else len(text)].rstrip() + "\n"
        for i, match in enumerate(found)
    }


def render(name: str, tables: list[Table]) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## {name}", "", f"Recorded {when}; {machine()}; {store()}; eventsourcing {version('eventsourcing')}."]
    for title, rows in tables:
        targets = bool(rows) and len(rows[0]) == 4  # (measure, ours, target, baseline)
        header = ["measure", "Hour Ledger", *(["target"] if targets else []), "raw baseline, same run"]
        lines += ["", f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join([row[0].strip(), *row[1:]]) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text() if cpuinfo.exists() else "", re.MULTILINE)
    return f"{os.cpu_count()} cores ({models[0] if models else platform.machine()})"


def store() -> str:
    with psycopg.connect(f"{SERVER}/postgres") as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0].split()[0] if row else '?'}"
