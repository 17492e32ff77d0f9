"""`hour-ledger projections status|rebuild|follow` (mounted by the main CLI; also runnable on
its own as `python -m projections.cli`). The store comes from HOUR_LEDGER_DATABASE_URL."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

app = typer.Typer(help="Read models built from the event log: status, rebuild, follow.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _read_models(**options: Any) -> Any:
    """The ledger of HOUR_LEDGER_DATABASE_URL and its read models; a bad or unreachable store
    is one line on stderr and exit status 2."""
    from eventsourcing.persistence import PersistenceError

    from ledger.application import HourLedger
    from ledger.config import ConfigurationError
    from ledger.errors import UnavailableError
    from ledger.persistence import DatabaseUrlError
    from projections import ReadModels

    try:
        ledger = HourLedger()
    except (DatabaseUrlError, ConfigurationError) as error:
        err.print(str(error), style="red", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except (PersistenceError, OSError) as error:
        err.print(f"cannot open the store of HOUR_LEDGER_DATABASE_URL: {error}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        return ReadModels(ledger, **options)
    except (UnavailableError, PersistenceError) as error:
        ledger.close()
        err.print(f"cannot open the read models of HOUR_LEDGER_DATABASE_URL: {error}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


@app.command()
def status() -> None:
    """Each read model's position in the log, the head of the log, and the lag."""
    models = _read_models()
    try:
        rows = models.status()
    finally:
        models.ledger.close()
    table = Table(title="Hour Ledger read models")
    for column in ("projection", "generation", "state", "position", "head", "lag"):
        table.add_column(column, justify="left" if column in ("projection", "state") else "right")
    for row in rows:
        lag = row["lag"]
        table.add_row(
            row["name"], str(row["generation"]), row["state"], f"{row['position']:,}",
            f"{row['head_position']:,}", f"[{'green' if lag == 0 else 'yellow'}]{lag:,}[/]",
        )
    console.print(table)


class EventsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "– events/s", style="cyan")


@app.command()
def rebuild(
    batch_size: int = typer.Option(0, min=0, help="Notifications per database transaction (0: 5,000 on PostgreSQL, 2,000 on SQLite)."),
    bulk: bool = typer.Option(True, help="On PostgreSQL, load the log with set-based SQL first (--no-bulk: the projections process every event)."),
) -> None:
    """Rebuilds every read model from the first event into new tables while the current ones
    keep serving, then switches to them and drops the old ones."""
    models = _read_models()
    try:
        with Progress(
            TextColumn("[bold]{task.description}[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            EventsPerSecond(),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("rebuilding", total=max(1, models.ledger.head_position()))

            def advance(position: int, head: int) -> None:
                progress.update(task, completed=position, total=max(head, 1))

            def stage(text: str) -> None:
                progress.update(task, description=text)

            position = models.rebuild(advance, batch_size=batch_size or None, stage=stage, bulk=bulk)
        console.print(f"rebuilt to position {position:,}")
    finally:
        models.ledger.close()


@app.command()
def follow(
    batch_size: int = typer.Option(2000, min=1, help="Notifications per database transaction."),
    poll: float = typer.Option(0.0, min=0.0, help="Seconds between polls (0: 0.25 s on SQLite, 2 s on PostgreSQL, which also LISTENs)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print the position after every batch."),
) -> None:
    """Follows the log in the foreground until Ctrl-C or SIGTERM (a batch in progress is
    finished or rolled back; the next start resumes from the recorded position)."""

    def batch(name: str, generation: int, position: int, events: int) -> None:
        if verbose:
            print(f"{name}@{generation} position {position} events {events}", flush=True)

    models = _read_models(batch_size=batch_size, poll_interval=poll or None, on_batch=batch)
    stopping = threading.Event()
    handler = stop_on_signal(models.stop, stopping)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    print(f"following from position {models.position()}", flush=True)
    try:
        models.follow(stopping)
        print(f"stopped at position {models.position()}", flush=True)
    finally:
        models.ledger.close()


def stop_on_signal(stop: Callable[[], None], stopping: threading.Event) -> Callable[[int, FrameType | None], None]:
    """A SIGTERM / SIGINT handler that has `stop` called in a thread of its own (a second
    Ctrl-C, once `stopping` is set, quits at once).

    Not in the handler itself: it runs in the main thread between two of the follower's steps,
    perhaps inside one of the threading.Events that stopping sets (the follower clears and waits
    on them a few times a second), and an Event's lock is not reentrant. A follower once hung on
    SIGTERM so. The thread waits for the lock until the main thread lets go of it."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        threading.Thread(target=stop, name="stop-following", daemon=True).start()

    return handler


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":
    sys.exit(app())
