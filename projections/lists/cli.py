"""`hour-ledger lists status|rebuild` (mounted by the main CLI): how far the lists have read the
log, and rewriting them from event 0. The store comes from HOUR_LEDGER_DATABASE_URL.

Exit status: 0 done, 2 could not run (a bad setting, an unreachable store)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ledger.application import open_ledger
from ledger.config import ConfigurationError, LedgerSettings
from ledger.errors import UnavailableError
from ledger.persistence import DatabaseUrlError, StoreUnreachableError
from projections.lists.lists import Lists

app = typer.Typer(help="Lists and search (SPEC §7): status, rebuild.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def fail(problem: object) -> NoReturn:
    err.print(f"hour-ledger lists: {problem}", highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(2)


@contextmanager
def opened() -> Iterator[Lists]:
    """The lists of the settings' store; any failure to open or to reach it is exit 2."""
    try:
        ledger = open_ledger(LedgerSettings.from_env())
    except (ConfigurationError, DatabaseUrlError, StoreUnreachableError) as error:
        fail(error)
    try:
        yield Lists(ledger)
    except UnavailableError as error:
        fail(error.detail)
    finally:
        ledger.close()


@app.command()
def status() -> None:
    """The lists' position in the log, the head of the log, the lag, and how many rows."""
    with opened() as lists:
        found = lists.status()
    table = Table(title="Hour Ledger lists", title_justify="left", show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    lag = found["lag"]
    table.add_row("position", f"{found['position']:,}")
    table.add_row("head of the log", f"{found['head_position']:,}")
    table.add_row("lag", f"[{'green' if lag == 0 else 'yellow'}]{lag:,}[/]")
    for name, label in (("volunteers", "volunteers"), ("organizations", "organisations"), ("points", "exchange points"),
                        ("keys", "API keys"), ("transactions", "transactions")):
        table.add_row(label, f"{found[name]:,}")
    out.print(table)


@app.command()
def rebuild() -> None:
    """Drops every row of the lists and writes them again from the first event. PostgreSQL:
    in one transaction, readers see the old rows until it commits; SQLite: page by page,
    lists answer 503 until they have caught up again."""
    with opened() as lists:
        columns = (
            TextColumn("[bold]rebuilding the lists"), BarColumn(), MofNCompleteColumn(), TextColumn("events"),
            TimeElapsedColumn(), TimeRemainingColumn(),
        )
        with Progress(*columns, console=out) as bar:
            task = bar.add_task("lists", total=max(1, lists.ledger.head_position()))
            position = lists.rebuild(lambda done, head: bar.update(task, completed=done, total=max(1, head)))
        found = lists.status()
    out.print(
        f"rebuilt to position {position:,}: {found['volunteers']:,} volunteers, {found['organizations']:,} organisations, "
        f"{found['points']:,} exchange points, {found['keys']:,} API keys, {found['transactions']:,} transactions",
        highlight=False,
    )
