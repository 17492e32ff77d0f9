"""`hour-ledger`: the service, API keys, the demo data set, and (mounted) the projection commands."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from typing import Annotated, Any, NoReturn, Optional
from uuid import UUID

import typer
from rich.console import Console

from api.server import tune_garbage_collection
from ledger.actors import SYSTEM, Role
from ledger.api_keys import SharedRevocations
from projections.audit.cli import app as audit_app
from projections.audit.notes import NoteError, SigningKey
from projections.cli import app as projections_app
from projections.lists.cli import app as lists_app
from ledger.application import HourLedger
from ledger.application import open_ledger as open_store
from ledger.config import ConfigurationError, LedgerSettings
from ledger.errors import LedgerError
from ledger.persistence import DatabaseUrlError, StoreUnreachableError, displayable_url

app = typer.Typer(help="Hour Ledger: volunteer service hours and time banks.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="api-keys")
app.add_typer(projections_app, name="projections")
app.add_typer(audit_app, name="audit")
app.add_typer(lists_app, name="lists")

err = Console(stderr=True)


def fail(problem: object) -> NoReturn:
    """One line naming the problem on stderr, and exit code 2 ("could not run")."""
    err.print(f"[red]hour-ledger:[/red] {problem}", highlight=False, soft_wrap=True, markup=True)
    raise typer.Exit(2)


def load_settings() -> LedgerSettings:
    """The process's settings, read once; a bad one is one line and exit code 2."""
    try:
        return LedgerSettings.from_env()
    except ConfigurationError as error:
        fail(error)


def open_ledger(settings: LedgerSettings | None = None, **eventsourcing: str) -> HourLedger:
    """The ledger on the settings' store (with eventsourcing's `eventsourcing` options on
    top), or one clear line and exit code 2."""
    try:
        return open_store(settings or load_settings(), **eventsourcing)
    except (DatabaseUrlError, StoreUnreachableError) as error:
        fail(error)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    projections: Annotated[
        bool, typer.Option("--projections/--no-projections", help="Follow the log for read models in this service.")
    ] = True,
    access_log: Annotated[
        Optional[bool],
        typer.Option(
            "--access-log/--no-access-log",
            help="One JSON line per request on stderr (default: HOUR_LEDGER_ACCESS_LOG, on).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the HTTP API. With no keys yet, creates an admin key and prints it once."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    settings = load_settings()
    if access_log is not None:
        settings = settings.with_(access_log=access_log)
    revocations = None
    if workers > 1:
        # A key revoked through one worker must be refused by the others at once (SPEC): they
        # note revocations in one file they all map, and each drops its memory of keys on news.
        revocations = tempfile.NamedTemporaryFile(prefix="hour-ledger-revocations-", delete=False)
        revocations.close()
        SharedRevocations.create(revocations.name)
        settings = settings.with_(key_revocations_file=revocations.name)
    ledger = open_ledger(settings)
    # The followers (read models, lists, audit tree) in this supervising process, the HTTP
    # workers in processes of their own, one worker too, on either store; a worker never
    # follows: followers in every worker would only contend for the same tracking rows, and a
    # follower in the worker shares its interpreter lock with the requests (docs/decisions.md).
    settings = settings.with_(projections="off")
    secret = ledger.keys.bootstrap_admin()
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    out = Console()
    out.print(f"Hour Ledger on {displayable_url(settings.database_url)}", highlight=False)
    out.print(
        f"  API      {base}/v1\n  docs     {base}/docs\n  health   {base}/healthz (live), {base}/readyz (ready)\n"
        f"  metrics  {base}/metrics",
        highlight=False,
    )
    try:
        # The audit's signing key, made (0600) before any worker could race to make it.
        verifier = SigningKey.load_or_create(settings.signing_key_path, settings.log_origin).verifier_key
    except (NoteError, OSError) as error:
        fail(f"the audit signing key {settings.signing_key_file}: {error}")
    out.print(f"  audit    {base}/v1/audit/checkpoint, verifier key {verifier}", highlight=False, soft_wrap=True)
    if secret:
        out.print("First admin key (shown once; keep it):", highlight=False)
        print(secret, flush=True)
    # uvicorn's workers are new processes that build the app from the environment: these
    # settings are handed to them there, whole. The tables exist now, and workers starting
    # together must not all create them again (eventsourcing's PostgreSQL set-up is not safe
    # to run concurrently).
    os.environ.update({**settings.to_env(), "CREATE_TABLE": "n"})
    followers = start_followers(ledger) if projections else []
    tune_garbage_collection()
    if not projections:
        ledger.close()
    # The service writes its own access log (api/access_log.py): uvicorn's is off.
    config = uvicorn.Config(
        "api.server:app_from_env", factory=True, host=host, port=port, workers=workers, log_level="info",
        access_log=False,
    )
    try:
        if projections:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server = uvicorn.Server(config)
            server.run()
            if not server.started:
                fail(f"could not serve on {host}:{port} (see the error above)")
    except KeyboardInterrupt:
        pass
    finally:
        for follower in followers:
            follower.stop()
        if projections:
            ledger.close()
        if revocations is not None:
            os.unlink(revocations.name)


def start_followers(ledger: HourLedger) -> list[Any]:
    """The read models, the lists and the audit tree, each following the log in a thread of
    this supervising process, at a lower CPU priority than the workers (`follower_nice`).

    On two cores the followers, the workers and PostgreSQL contend: measured with batches of
    1,000, the workers answered 10-20 % more postings a second with the followers at nice 10,
    and the followers finished as soon after (docs/decisions.md)."""
    from projections import ReadModels
    from projections.audit.log import AuditLog
    from projections.lists import Lists

    read_models, lists, audit = ReadModels(ledger), Lists(ledger), AuditLog(ledger)

    def start_all() -> None:
        lower_this_threads_priority(ledger.settings.follower_nice)
        read_models.start()
        lists.start()
        audit.start(sign_every=ledger.settings.checkpoint_seconds)

    # A thread starts with its creator's priority: started from a thread that lowered its own,
    # the followers (and the threads they start) run lower, and nothing else of this process does.
    starter = threading.Thread(target=start_all, name="followers-start")
    starter.start()
    starter.join()
    return [read_models, lists, audit]


def lower_this_threads_priority(increment: int) -> None:
    """Raises this thread's nice value by `increment`. Linux only, where a thread has its own:
    elsewhere it would lower the whole process, the workers it starts included."""
    if increment and sys.platform.startswith("linux"):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment))


@keys_app.command("create")
def create_key(
    role: Annotated[Role, typer.Option(help="admin, operator, exchange_point or auditor.")],
    name: Annotated[str, typer.Option(help="Who holds the key.")],
    region: Annotated[Optional[str], typer.Option(help="Region prefix the key is limited to.")] = None,
    exchange_point: Annotated[Optional[UUID], typer.Option(help="The exchange point an exchange_point key acts for.")] = None,
) -> None:
    """Create an API key; the secret is the last line printed."""
    ledger = open_ledger()
    try:
        key, secret = ledger.keys.issue(SYSTEM, role, name, region_prefix=region, exchange_point_id=exchange_point)
    except LedgerError as error:
        err.print(f"[red]hour-ledger:[/red] {error.detail}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        ledger.close()
    Console().print(f"{key.role} key {key.id} for {key.name}", highlight=False)
    print(secret)


@keys_app.command("list")
def list_keys() -> None:
    """Every API key ever issued, revoked ones included; never a secret."""
    from rich.table import Table

    from projections.lists import Lists

    ledger = open_ledger()
    try:
        lists = Lists(ledger)
        keys, cursor = [], None
        while True:
            page = lists.api_keys(cursor=cursor, limit=500)
            keys.extend(page.rows)
            cursor = page.next_cursor
            if cursor is None:
                break
    except LedgerError as error:
        fail(error.detail)
    finally:
        ledger.close()
    table = Table(title=f"Hour Ledger API keys ({len(keys)})")
    table.add_column("id", no_wrap=True)
    for column in ("role", "name", "region", "exchange point", "created", "revoked"):
        table.add_column(column, overflow="fold")
    for key in keys:
        table.add_row(
            key["id"], key["role"], key["name"], key["region_code"] or "", key["exchange_point_id"] or "",
            _local_time(key["created_us"], ledger), _local_time(key["revoked_us"], ledger) if key["revoked_us"] else "",
            style="dim" if key["revoked_us"] else None,
        )
    Console().print(table)


def _local_time(micros: int, ledger: HourLedger) -> str:
    from datetime import datetime, timedelta, timezone

    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)
    return moment.astimezone(ledger.settings.zone).strftime("%Y-%m-%d %H:%M")


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[UUID, typer.Argument(help="The key's id (hour-ledger api-keys list).")]) -> None:
    """Revoke an API key: refused at once from then on."""
    ledger = open_ledger()
    try:
        key = ledger.keys.revoke(SYSTEM, key_id)
    except LedgerError as error:
        fail(error.detail)
    finally:
        ledger.close()
    assert key.revoked_at is not None
    Console().print(
        f"revoked {key.role} key {key.id} ({key.name}) at {key.revoked_at.astimezone(ledger.settings.zone).isoformat(timespec='seconds')}",
        highlight=False,
    )


@app.command()
def demo(
    scale: Annotated[int, typer.Option(min=1, max=10_000, help="100 volunteers (~7,500 events) per unit.")] = 1,
    seed: Annotated[int, typer.Option(help="Another seed, another data set.")] = 2021,
) -> None:
    """Load a reproducible synthetic Jiangsu data set (Huai'an and Changzhou)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ledger.demo import DemoAlreadyLoadedError, load_demo

    # The loader is the only writer while it runs, so aggregates may stay in memory between batches.
    ledger = open_ledger(None, AGGREGATE_CACHE_MAXSIZE="1000000", AGGREGATE_CACHE_FASTFORWARD="n")
    out = Console()
    columns = (TextColumn("demo"), BarColumn(), MofNCompleteColumn(), TextColumn("transactions"), TimeRemainingColumn())
    try:
        with Progress(*columns) as bar:
            task = bar.add_task("demo", total=None)
            report = load_demo(ledger, scale=scale, seed=seed, progress=lambda done, total: bar.update(task, completed=done, total=total))
    except DemoAlreadyLoadedError:
        out.print(
            f"The demo data set of seed {seed} is already loaded: nothing was written.\n"
            f"To add another, separate data set: hour-ledger demo --seed {seed + 1}",
            highlight=False,
        )
        return
    finally:
        ledger.close()
    out.print(
        f"Loaded {report.organizations} organisations, {report.volunteers} volunteers, "
        f"{report.exchange_points} exchange points, {report.transactions} transactions "
        f"({report.refused} refused by the rules).\nVolunteers to start with:",
        highlight=False,
    )
    for person_id, name, region in report.samples:
        out.print(f"  {person_id}  {name}  ({region})", highlight=False)
    out.print(
        "Look at them through `hour-ledger serve` (/docs, /v1/volunteers?q=王, /v1/volunteers/{id}) with the admin key it printed\n"
        "on its first start, or with a key of your own:\n"
        "  hour-ledger api-keys create --role operator --name 淮安市文明办 --region 3208",
        highlight=False,
        soft_wrap=True,
    )


def main() -> None:
    app(prog_name="hour-ledger")


if __name__ == "__main__":
    sys.exit(main())
