"""Write throughput (issue #11), in one run beside raw PostgreSQL on the same machine:

- the raw baseline: single-row INSERTs into an events-shaped table from 8 connections
  (transactions/s; `pgbench` when installed, else psycopg threads), the same under the table
  lock eventsourcing's recorder takes, and 1,000 rows per transaction (rows/s);
- single postings (service records, each client its own volunteers, none overlapping)
  through `hour-ledger serve --workers 1` and `--workers 2` from 8 keep-alive clients:
  postings/s, p50 / p99, the server's CPU per posting and the load generator's own CPU (and
  the same without the projection followers in the server, `--no-projections`); three runs
  against each server, the median shown with all three (a shared machine varies by a fifth
  from one run to the next), and so for batches;
- atomic batches of 1,000 through the same servers: postings/s, and the same counting the
  time the followers (read models, lists, audit tree) took to read them after the last
  answer; every run starts with the followers caught up;
- in process: postings/s for a volunteer with 3,000 service records and for a new one;
- SQLite, the embedded default: single postings from 8 clients through `hour-ledger serve`;
- the interpreter's own speed before and after the runs (a fixed piece of plain Python), for
  a shared machine's Python swings apart from its PostgreSQL.

Each figure is printed beside issue #11's target. HOUR_LEDGER_BENCH_WRITES (default 6000):
the postings of each run of single postings; the whole benchmark takes a few minutes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from glob import glob
from pathlib import Path

import httpx
import orjson
import psycopg

from benchmarks.common import console, percentile, report, scratch_database, served_process
from benchmarks.load import Load, generate, request
from ledger.actors import SYSTEM, Role
from ledger.application import HourLedger
from ledger.commands import RecordService
from ledger.persistence import persistence_env

POSTINGS = int(os.environ.get("HOUR_LEDGER_BENCH_WRITES", "6000"))
CLIENTS = 8
VOLUNTEERS_PER_CLIENT = 64
BATCH = 1000
BATCHES = 2 * CLIENTS
HISTORY = 3000  # the service records of the volunteer with a history
TIMED = 300  # postings timed for each of the two volunteers
RAW_SECONDS = 4
RUNS = 3  # runs of single postings (and of batches) against each server; the median is reported
STATE = "\\x" + "78" * 400  # a bytea literal about the size of a stored ServiceRecorded event
RAW_TABLE = (
    "CREATE TABLE raw_events (originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text NOT NULL, "
    "state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version)); "
    "CREATE UNIQUE INDEX raw_events_notification_id ON raw_events (notification_id)"
)
RAW_COLUMNS = "raw_events (originator_id, originator_version, topic, state)"
RAW_SCRIPTS = {
    "single": f"INSERT INTO {RAW_COLUMNS} VALUES (gen_random_uuid(), 1, 'ServiceRecorded', '{STATE}'::bytea);\n",
    "locked": (
        f"BEGIN;\nLOCK TABLE raw_events IN EXCLUSIVE MODE;\n"
        f"INSERT INTO {RAW_COLUMNS} VALUES (gen_random_uuid(), 1, 'ServiceRecorded', '{STATE}'::bytea);\nCOMMIT;\n"
    ),
    "batch": (
        f"INSERT INTO {RAW_COLUMNS} SELECT gen_random_uuid(), 1, 'ServiceRecorded', '{STATE}'::bytea "
        f"FROM generate_series(1, {BATCH});\n"
    ),
}

GOAL_SINGLE = "≥1,500 goal, ≥1,000 min"
GOAL_P99 = "p99 ≤30 ms"
GOAL_BATCH = "≥20,000 goal, ≥8,000 min"
GOAL_SQLITE = "≥500"
GOAL_HISTORY = "within 15 %"


# The raw baseline ---------------------------------------------------------------------


def pgbench() -> str | None:
    """pgbench's path, where Debian's client packages put it when it is not on PATH."""
    return shutil.which("pgbench") or next(iter(sorted(glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)), None)


def raw_transactions(url: str, script: str) -> float:
    """Transactions/s of `script` (a RAW_SCRIPTS entry) from CLIENTS connections for RAW_SECONDS."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_events")
        conn.execute(RAW_TABLE)
    program = pgbench()
    try:
        if program is None:
            return raw_transactions_in_threads(url, script)
        with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
            file.write(RAW_SCRIPTS[script])
            file.flush()
            out = subprocess.run(
                [program, "-n", "-c", str(CLIENTS), "-j", "2", "-T", str(RAW_SECONDS), "-f", file.name, url],
                check=True, capture_output=True, text=True,
            ).stdout
        found = re.search(r"tps = ([0-9.]+)", out)
        assert found, out
        return float(found.group(1))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE raw_events")


def raw_transactions_in_threads(url: str, script: str) -> float:
    """As pgbench would, from psycopg threads (when pgbench is not installed)."""
    statements = [s for s in RAW_SCRIPTS[script].split(";\n") if s.strip() and s.strip() not in ("BEGIN", "COMMIT")]
    counts = [0] * CLIENTS
    stop = time.monotonic() + RAW_SECONDS

    def client(index: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while time.monotonic() < stop:
                with conn.transaction():
                    for statement in statements:
                        conn.execute(statement)
                counts[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / RAW_SECONDS


def interpreter_loops() -> float:
    """Loops/s of a fixed piece of plain Python (no Hour Ledger code): ids as text, times as
    text, a dict built and written as JSON, the kind of work a posting is made of. PostgreSQL's
    baseline says how fast the machine's store is; this says how fast its interpreter is, which
    swings on a shared machine independently of the store."""
    loops, moment, rates = 20_000, datetime(2026, 12, 1, tzinfo=timezone.utc), []
    for _ in range(5):  # the median of five: it swings by a third from one tenth of a second to the next
        started = time.perf_counter()
        for i in range(loops):
            document = {"id": str(uuid.UUID(int=i)), "at": (moment + timedelta(seconds=i)).isoformat(), "minutes": i % 1440}
            orjson.dumps(sorted(document.items()))
        rates.append(loops / (time.perf_counter() - started))
    return sorted(rates)[len(rates) // 2]


# The world the postings need ----------------------------------------------------------


@dataclass
class World:
    organization: uuid.UUID
    volunteers: list[list[uuid.UUID]]  # each client's own
    secret: str  # an admin key's

    @classmethod
    def registered(cls, ledger: HourLedger) -> World:
        org = ledger.register_organization(SYSTEM, "bench", "3208").aggregate.id
        volunteers = [
            [ledger.register_volunteer(SYSTEM, f"v{c}.{i}", "320830", org).aggregate.id for i in range(VOLUNTEERS_PER_CLIENT)]
            for c in range(CLIENTS)
        ]
        _, secret = ledger.keys.issue(SYSTEM, Role.ADMIN, "bench")
        return cls(org, volunteers, secret)

    def records(self, client: int, count: int, era: int) -> Iterator[dict[str, str]]:
        """`count` service records of the client's volunteers as JSON-ready bodies, an hour
        each, two hours apart; each era of postings starts a year after the one before."""
        base = datetime(2000, 1, 1, tzinfo=timezone.utc) + timedelta(days=365 * era)
        people = self.volunteers[client]
        for i in range(count):
            started = base + timedelta(hours=2 * (i // len(people)))
            yield {
                "id": str(uuid.uuid4()), "type": "service_record", "volunteer_id": str(people[i % len(people)]),
                "organization_id": str(self.organization), "category": "elder_care",
                "started_at": started.isoformat(), "ended_at": (started + timedelta(hours=1)).isoformat(),
            }


def cpu_seconds(pid: int) -> float:
    """The CPU a process and its descendants (uvicorn's workers) have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        used[child] = (int(fields[11]) + int(fields[12])) / tick
    tree, total = {pid}, 0.0
    for child in sorted(parents):  # children have higher ids than parents, save on wrap-around
        if parents[child] in tree:
            tree.add(child)
    for member in tree:
        total += used.get(member, 0.0)
    return total


@dataclass
class Run:
    postings: int
    load: Load
    server_cpu: float
    caught_up_seconds: float = 0.0  # after the last answer, until the followers had read it all

    @property
    def rate(self) -> float:
        return self.postings / self.load.seconds

    @property
    def sustained(self) -> float:
        """Postings/s counting the time the followers took to read them after the last answer."""
        return self.postings / (self.load.seconds + self.caught_up_seconds)

    def shown_latency(self) -> str:
        found = [s * 1000 for s in self.load.latencies]
        return f"{percentile(found, 50):.1f} / {percentile(found, 99):.1f} ms"

    def shown_cpu(self) -> str:
        return (
            f"{self.server_cpu / self.postings * 1000:.2f} ms server CPU/posting; "
            f"generator {self.load.cpu_seconds / self.load.seconds:.2f} cores"
        )


def posted(port: int, pid: int, connections: list[list[bytes]], postings: int) -> Run:
    """Runs the requests; every one must have been answered 201 (or 200 for a batch)."""
    before = cpu_seconds(pid)
    load = generate(port, connections)
    run = Run(postings, load, cpu_seconds(pid) - before)
    wrong = [s for s in load.statuses if s not in (200, 201)]
    assert not wrong, f"{len(wrong)} requests answered {sorted(set(wrong))}"
    sent = sum(len(requests) for requests in connections)
    assert len(load.statuses) == sent, f"{sent - len(load.statuses)} of {sent} requests were not answered"
    return run


def single_postings(world: World, port: int, pid: int, secret: str, era: int) -> Run:
    per_client = POSTINGS // CLIENTS
    connections = [
        [request("/v1/transactions", orjson.dumps(body), secret) for body in world.records(c, per_client, era)]
        for c in range(CLIENTS)
    ]
    return posted(port, pid, connections, per_client * CLIENTS)


def batch_postings(world: World, port: int, pid: int, secret: str, era: int) -> Run:
    per_client = BATCHES // CLIENTS
    connections = []
    for c in range(CLIENTS):
        records = list(world.records(c, per_client * BATCH, era))
        connections.append([
            request("/v1/transactions/batch", orjson.dumps({"atomic": True, "transactions": records[i : i + BATCH]}), secret)
            for i in range(0, len(records), BATCH)
        ])
    return posted(port, pid, connections, BATCHES * BATCH)


@dataclass
class Runs:
    """The runs of single postings (or of batches) against one server."""

    runs: list[Run]

    @property
    def median(self) -> Run:
        return sorted(self.runs, key=lambda run: run.rate)[len(self.runs) // 2]

    def shown_rates(self) -> str:
        return median_and_runs([run.rate for run in self.runs])

    def shown_sustained(self) -> str:
        return (
            f"{median_and_runs([run.sustained for run in self.runs])}; "
            f"caught up {' / '.join(f'{run.caught_up_seconds:.1f}' for run in self.runs)} s after the last answer"
        )


def median_and_runs(rates: list[float]) -> str:
    """The median rate, then every run's in the order they ran."""
    return f"{sorted(rates)[len(rates) // 2]:,.0f} (runs: {' / '.join(f'{rate:,.0f}' for rate in rates)})"


def caught_up(http: httpx.Client, timeout: float = 300.0) -> float:
    """Seconds until the server's read models, lists and audit tree have read the whole log
    (its `/readyz` measurements), so that each run starts with no backlog of the one before."""
    started = time.monotonic()
    while True:
        answer = http.get("/readyz").json()
        checks = answer.get("checks", answer)
        if all((checks.get(name) or {}).get("lag") == 0 for name in ("read_models", "lists", "audit_tree")):
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"the followers did not catch up: {checks}"
        time.sleep(0.05)


def through_http(
    url: str, world: World, workers: int, era: int, batches: bool = True, options: tuple[str, ...] = ()
) -> tuple[Runs, Runs | None]:
    """Single postings, then (with `batches`) atomic batches, RUNS runs of each, through one
    `hour-ledger serve`."""
    secret = world.secret
    with served_process(url, "--workers", str(workers), *options, secret=secret) as (http, pid):
        port = int(str(http.base_url).rstrip("/").rpartition(":")[2])
        deadline = time.monotonic() + 120
        while http.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        eras = iter(range((2 * RUNS + 1) * era, (2 * RUNS + 1) * (era + 1)))
        for body in world.records(0, 16, next(eras)):  # the first requests meet cold caches
            assert http.post("/v1/transactions", json=body).status_code == 201
        follows = "--no-projections" not in options
        singles, batched = [], []
        for _ in range(RUNS):
            singles.append(single_postings(world, port, pid, secret, next(eras)))
            singles[-1].caught_up_seconds = caught_up(http) if follows else 0.0
        for _ in range(RUNS if batches else 0):
            batched.append(batch_postings(world, port, pid, secret, next(eras)))
            batched[-1].caught_up_seconds = caught_up(http) if follows else 0.0
    return Runs(singles), Runs(batched) if batches else None


# A volunteer with a history -----------------------------------------------------------


def with_history(ledger: HourLedger, organization: uuid.UUID) -> tuple[float, float]:
    """Postings/s, in process and one at a time, for a volunteer with HISTORY service records
    and for a new volunteer, the two taking turns."""
    veteran = ledger.register_volunteer(SYSTEM, "veteran", "320830", organization).aggregate.id
    newcomer = ledger.register_volunteer(SYSTEM, "newcomer", "320830", organization).aggregate.id
    past = records_of(veteran, organization, HISTORY, datetime(1950, 1, 1, tzinfo=timezone.utc))
    for start in range(0, HISTORY, BATCH):
        ledger.post_batch(SYSTEM, past[start : start + BATCH], atomic=True)
    later = datetime(1980, 1, 1, tzinfo=timezone.utc)
    turns = zip(records_of(veteran, organization, TIMED, later), records_of(newcomer, organization, TIMED, later))
    spent = {veteran: 0.0, newcomer: 0.0}
    for pair in turns:
        for command in pair:
            started = time.perf_counter()
            ledger.post(SYSTEM, command)
            spent[command.volunteer_id] += time.perf_counter() - started
    return TIMED / spent[veteran], TIMED / spent[newcomer]


def records_of(volunteer: uuid.UUID, organization: uuid.UUID, count: int, base: datetime) -> list[RecordService]:
    return [
        RecordService(
            id=uuid.uuid4(), volunteer_id=volunteer, organization_id=organization, category="elder_care",
            started_at=base + timedelta(hours=2 * i), ended_at=base + timedelta(hours=2 * i, minutes=60),
        )
        for i in range(count)
    ]


# The run ------------------------------------------------------------------------------


def on_sqlite() -> Runs:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.sqlite3"
        ledger = HourLedger(env=persistence_env(url))
        world = World.registered(ledger)
        ledger.close()
        single, _ = through_http(url, world, workers=1, era=0, batches=False)
    return single


def run() -> None:
    with scratch_database("hour_ledger_bench_writes") as url:
        raw = {script: raw_transactions(url, script) for script in RAW_SCRIPTS}
        interpreter_before = interpreter_loops()
        # Each server its own new volunteers, so that no run pays for the histories an earlier
        # one left (what a history costs is measured on its own, in `with_history`).
        ledger = HourLedger(env=persistence_env(url))
        try:
            one_worker = through_http(url, World.registered(ledger), workers=1, era=0)
            two_workers = through_http(url, World.registered(ledger), workers=2, era=1)
            # What the followers in the server cost each posting: the same without them.
            alone, _ = through_http(
                url, World.registered(ledger), workers=1, era=2, batches=False, options=("--no-projections",)
            )
            veteran, newcomer = with_history(ledger, World.registered(ledger).organization)
        finally:
            ledger.close()
    sqlite = on_sqlite()
    interpreter_after = interpreter_loops()

    raw_single = f"{raw['single']:,.0f} single-row INSERT txn/s, {CLIENTS} connections"
    rows: list[tuple[str, str, str, str]] = []
    for workers, (singles, batches) in ((1, one_worker), (2, two_workers)):
        assert batches is not None
        single, batch = singles.median, batches.median
        rows += [
            (f"single postings, {CLIENTS} clients, --workers {workers}: postings/s", singles.shown_rates(), GOAL_SINGLE, raw_single),
            ("  p50 / p99", single.shown_latency(), GOAL_P99, ""),
            ("  CPU", single.shown_cpu(), "", ""),
            (f"atomic batches of {BATCH:,}, --workers {workers}: postings/s", batches.shown_rates(), GOAL_BATCH,
             f"{raw['batch'] * BATCH:,.0f} rows/s, {BATCH:,} rows per txn"),
            ("  p50 / p99 per batch", batch.shown_latency(), "", ""),
            ("  with the followers' reading after the last answer", batches.shown_sustained(), "", ""),
        ]
    rows += [
        ("single postings, --workers 1 --no-projections: postings/s", alone.shown_rates(), "", ""),
        ("  p50 / p99", alone.median.shown_latency(), "", ""),
        ("  CPU", alone.median.shown_cpu(), "", ""),
        (f"in process, a volunteer with {HISTORY:,} records: postings/s", f"{veteran:,.0f}", "", ""),
        ("in process, a new volunteer: postings/s", f"{newcomer:,.0f}", "", ""),
        ("  the veteran against the newcomer", f"{veteran / newcomer:.0%}", GOAL_HISTORY, ""),
        (f"SQLite, single postings, {CLIENTS} clients: postings/s", sqlite.shown_rates(), GOAL_SQLITE, ""),
        ("  p50 / p99", sqlite.median.shown_latency(), "", ""),
        ("  CPU", sqlite.median.shown_cpu(), "", ""),
        ("raw: the same INSERTs under eventsourcing's table lock", "", "", f"{raw['locked']:,.0f} txn/s"),
        ("raw: the interpreter, a fixed piece of plain Python", "", "",
         f"{interpreter_before:,.0f} loops/s before the runs, {interpreter_after:,.0f} after"),
    ]
    report(f"Writes on PostgreSQL ({POSTINGS:,} single postings a run, {BATCHES * BATCH:,} in batches a run)", rows)
    console.print("writes benchmark done")
