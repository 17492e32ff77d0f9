"""`hour-ledger audit key|checkpoint|verify|replay|export|verify-certificate` (SPEC §6).

Exit status: 0 all good, 1 a problem was found, 2 the check could not run (a bad setting, an
unreachable store, a missing or unreadable file)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledger.application import HourLedger, open_ledger
from ledger.config import ConfigurationError, LedgerSettings
from ledger.persistence import DatabaseUrlError, StoreUnreachableError
from projections.audit.log import AuditError, AuditLog
from projections.audit.notes import NoteError, parse_verifier_key
from projections.audit.offline import OfflineReport, verify_certificate, verify_export
from projections.audit.store import StoredCheckpoint

app = typer.Typer(help="The audit: signed checkpoints, verification, replay, export, certificates.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

ALL_GOOD, PROBLEM, COULD_NOT_RUN = 0, 1, 2


def fail(problem: object) -> NoReturn:
    err.print(f"hour-ledger audit: {problem}", highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(COULD_NOT_RUN)


@contextmanager
def opened() -> Iterator[tuple[HourLedger, AuditLog]]:
    """The ledger of the settings' store and its audit log; any failure to open is exit 2."""
    try:
        ledger = open_ledger(LedgerSettings.from_env())
    except (ConfigurationError, DatabaseUrlError, StoreUnreachableError) as error:
        fail(error)
    try:
        yield ledger, AuditLog(ledger)
    except (NoteError, OSError) as error:
        fail(error)
    finally:
        ledger.close()


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {what} {path}: {error}")


def verifier_key_of(text: str) -> str:
    """A verifier key given as itself or as the path of a file holding it."""
    candidate = Path(text)
    value = read_text(candidate, "the key").strip() if "+" not in text and candidate.exists() else text.strip()
    try:
        parse_verifier_key(value)
    except NoteError as error:
        fail(f"not a verifier key: {error}")
    return value


def progress_bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err)


def signed_now(audit: AuditLog) -> StoredCheckpoint:
    """A checkpoint of the tree as it is now; a tree that cannot be signed is exit 1."""
    try:
        return audit.sign_checkpoint()[0]
    except AuditError as error:
        out.print(f"FAILED: {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(PROBLEM) from None


def report_offline(report: OfflineReport, what: str) -> None:
    if report.ok:
        out.print(f"ok: {what} verified ({report.checked:,} checked)", highlight=False)
        raise typer.Exit(ALL_GOOD)
    where = f" at position {report.first_bad_position}" if report.first_bad_position is not None else ""
    out.print(f"FAILED{where}: {report.problem}", highlight=False, soft_wrap=True)
    raise typer.Exit(PROBLEM)


@app.command()
def key() -> None:
    """Print the log's verifier key (C2SP note format)."""
    with opened() as (_, audit):
        print(audit.verifier_key)


@app.command()
def checkpoint() -> None:
    """Sign a checkpoint of the tree as it is now (if it grew) and print it."""
    with opened() as (_, audit):
        sys.stdout.write(signed_now(audit).note)


@app.command()
def verify(
    checkpoint: Annotated[list[Path], typer.Option("--checkpoint", help="A checkpoint note kept outside the system (repeatable).")] = [],  # noqa: B006
    export: Annotated[Optional[Path], typer.Option(help="Verify this export offline, with no database.")] = None,
    key: Annotated[Optional[str], typer.Option(help="The verifier key (or a file holding it).")] = None,
) -> None:
    """Recompute every leaf from the stored events and every checkpoint's root; with
    --export, check an export against a checkpoint and the key, with no database."""
    if export is not None:
        if len(checkpoint) != 1 or key is None:
            fail("--export needs one --checkpoint FILE and --key KEY")
        note = read_text(checkpoint[0], "the checkpoint")
        verifier = verifier_key_of(key)
        try:
            with export.open(encoding="utf-8") as lines:
                report = verify_export(lines, note, verifier)
        except (OSError, UnicodeDecodeError) as error:
            fail(f"cannot read the export {export}: {error}")
        report_offline(report, f"the export {export}")
    kept = [read_text(path, "the checkpoint") for path in checkpoint]
    with opened() as (ledger, audit):
        verifier = verifier_key_of(key) if key else None
        if verifier is None and not audit.settings.signing_key_path.exists():
            fail(f"no signing key at {audit.settings.signing_key_path}: set HOUR_LEDGER_SIGNING_KEY_FILE or give --key")
        with progress_bar() as bar:
            task = bar.add_task("verifying", total=max(1, ledger.head_position()))
            result = audit.verify(kept, verifier, progress=lambda done, total: bar.update(task, completed=done, total=max(total, 1)))
    if result.ok:
        out.print(
            f"ok: {result.checked:,} events verified, tree size {result.tree_size:,}, root {result.root_hash}, "
            f"{result.checkpoints_checked} checkpoints", highlight=False, soft_wrap=True,
        )
        raise typer.Exit(ALL_GOOD)
    out.print(f"FAILED at position {result.first_bad_position}: {result.problem}", highlight=False, soft_wrap=True)
    raise typer.Exit(PROBLEM)


@app.command()
def export(
    after: Annotated[int, typer.Option(min=-1, help="Only leaves after this leaf index.")] = -1,
    output: Annotated[Optional[Path], typer.Option(help="The JSON Lines file (default: standard output); the checkpoint goes to FILE.checkpoint.")] = None,
) -> None:
    """Export the log as JSON Lines, one record per leaf, up to a checkpoint signed now."""
    with opened() as (_, audit):
        signed = signed_now(audit)
        target = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            with progress_bar() as bar:
                task = bar.add_task("exporting", total=max(1, signed.tree_size))
                for entry in audit.iter_entries(after):
                    if entry["leaf_index"] >= signed.tree_size:
                        break
                    target.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
                    if entry["leaf_index"] % 1000 == 0:
                        bar.update(task, completed=entry["leaf_index"] + 1)
                bar.update(task, completed=signed.tree_size)
        finally:
            if output:
                target.close()
        if output:
            Path(f"{output}.checkpoint").write_text(signed.note, encoding="utf-8")
            err.print(f"{signed.tree_size:,} leaves in {output}, the checkpoint in {output}.checkpoint", highlight=False)


@app.command()
def replay(
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="RFC 3339 moment: the books as recorded up to then.")] = None,
) -> None:
    """Recompute every balance, star level, stock and the pool from the events alone; check
    the legs; compare with the read models and list every difference."""
    from projections import ReadModels
    from projections.audit.replay import replay as run_replay

    moment = None
    if as_of is not None:
        try:
            moment = datetime.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of {as_of!r} is not an RFC 3339 moment")
        if moment.tzinfo is None:
            fail(f"--as-of {as_of!r} has no time zone")
    with opened() as (ledger, _):
        models = ReadModels(ledger)
        with progress_bar() as bar:
            task = bar.add_task("replaying", total=max(1, ledger.head_position()))
            report = run_replay(ledger, models, moment, progress=lambda done, total: bar.update(task, completed=done, total=max(total, 1)))
    if report.ok:
        out.print(f"ok: {report.events:,} events replayed, {report.volunteers:,} volunteers, "
                  f"{report.transactions:,} transactions; no difference", highlight=False)
        raise typer.Exit(ALL_GOOD)
    table = Table(title=f"{len(report.differences)} differences")
    for column in ("what", "from the events", "found"):
        table.add_column(column)
    for difference in report.differences:
        table.add_row(difference.what, str(difference.expected), str(difference.found))
    out.print(table)
    raise typer.Exit(PROBLEM)


@app.command("verify-certificate")
def verify_certificate_file(
    file: Annotated[Path, typer.Argument(help="The certificate as issued (JSON).")],
    key: Annotated[str, typer.Option(help="The log's verifier key (or a file holding it).")],
) -> None:
    """Check a certificate file offline: its record, its inclusion proof, the signed checkpoint."""
    text = read_text(file, "the certificate")
    try:
        certificate = json.loads(text)
    except ValueError as error:
        fail(f"{file} is not JSON: {error}")
    report_offline(verify_certificate(certificate, verifier_key_of(key)), f"certificate {certificate.get('code', '?')}")
