"""What the read models' follower costs the writers in its process (issue 11, item 5), on
PostgreSQL: 8 threads post service records for HOUR_LEDGER_BENCH_FOLLOW_SECONDS (10 s) while a
9th posts and at once reads its balance with min_position (read-your-writes, SPEC §3): as fast
as they can, then paced at PACED postings/s in all (a steady stream that leaves the follower
idle between commits). Three runs of each, each on a fresh database: no follower (the raw
baseline of the writes), a follower woken by every commit (coalescing 0, as before issue 11),
and one reading in slices (HOUR_LEDGER_FOLLOWER_COALESCE_SECONDS, 200 ms). Reported: the
process's CPU per posting, postings/s, the follower's catch-ups, and the read-after-write
latency p50/p99."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from benchmarks.common import console, percentile, report, scratch_database
from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.commands import RecordService
from ledger.config import LedgerSettings
from ledger.persistence import persistence_env
from projections import ReadModels

SECONDS = float(os.environ.get("HOUR_LEDGER_BENCH_FOLLOW_SECONDS", "10"))
WRITERS = 8
PACED = float(os.environ.get("HOUR_LEDGER_BENCH_FOLLOW_RATE", "40"))  # postings/s of the writers
BASE = datetime(2000, 1, 1, tzinfo=timezone.utc)


class Stream:
    """Postings of one thread: service records of its own volunteers, two hours apart."""

    def __init__(self, ledger: HourLedger, organization: uuid.UUID, volunteers: int) -> None:
        self.ledger = ledger
        self.organization = organization
        self.volunteers = [
            ledger.register_volunteer(SYSTEM, "王芳", "320830", organization).aggregate.id for _ in range(volunteers)
        ]
        self.count = 0

    def post(self) -> tuple[uuid.UUID, int]:
        volunteer = self.volunteers[self.count % len(self.volunteers)]
        started = BASE + timedelta(hours=2 * (self.count // len(self.volunteers)))
        command = RecordService(
            id=uuid.uuid4(), volunteer_id=volunteer, organization_id=self.organization, category="elder_care",
            started_at=started, ended_at=started + timedelta(minutes=60),
        )
        self.count += 1
        posted = self.ledger.post(SYSTEM, command)
        return volunteer, posted.position or 0


def measure(coalesce: float | None, rate: float | None) -> dict[str, float]:
    """One run; `coalesce` None: no follower at all; `rate` None: as fast as they can."""
    with scratch_database("hour_ledger_bench_follower") as url:
        settings = LedgerSettings(database_url=url, follower_coalesce_seconds=coalesce or 0.0)
        ledger = HourLedger(env=persistence_env(url), settings=settings)
        organization = ledger.register_organization(SYSTEM, "bench", "3208").aggregate.id
        writers = [Stream(ledger, organization, 8) for _ in range(WRITERS)]
        reader = Stream(ledger, organization, 1)
        catch_ups = [0]

        def counted(name: str, generation: int, position: int, events: int) -> None:
            if name == "balances" and events:
                catch_ups[0] += 1

        models = ReadModels(ledger, on_batch=counted)
        follower_cpu = [0.0]
        follower_wall = [0.0]
        catch_up = models.follower.catch_up

        calls = [0]

        def timed_catch_up() -> int:
            calls[0] += 1
            # The follower thread's own CPU: apart from the writers' (and the machine's) noise.
            started, wall_started = time.thread_time(), time.perf_counter()
            try:
                return catch_up()
            finally:
                follower_cpu[0] += time.thread_time() - started
                follower_wall[0] += time.perf_counter() - wall_started

        models.follower.catch_up = timed_catch_up  # type: ignore[method-assign]
        if coalesce is not None:
            models.start()
            assert models.wait_for(ledger.head_position(), timeout=30)
        stopping = threading.Event()
        latencies: list[float] = []

        def write(stream: Stream) -> None:
            pause = WRITERS / rate if rate else 0.0
            while not stopping.is_set():
                stream.post()
                if pause:
                    stopping.wait(pause)

        def read_own_writes() -> None:
            while not stopping.is_set():
                volunteer, position = reader.post()
                started = time.perf_counter()
                models.balance(volunteer, min_position=position, wait=10)
                latencies.append(time.perf_counter() - started)
                if rate:
                    stopping.wait(0.1)

        threads = [threading.Thread(target=write, args=(s,)) for s in writers]
        threads.append(threading.Thread(target=read_own_writes))
        cpu, wall, before, follower_before = time.process_time(), time.perf_counter(), catch_ups[0], follower_cpu[0]
        wall_before, calls_before = follower_wall[0], calls[0]
        for thread in threads:
            thread.start()
        stopping.wait(SECONDS)
        stopping.set()
        for thread in threads:
            thread.join()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        postings = sum(s.count for s in writers) + reader.count
        models.stop()
        ledger.close()
        return {
            "cpu_per_posting_ms": cpu / postings * 1000,
            "follower_cpu_per_posting_ms": (follower_cpu[0] - follower_before) / postings * 1000,
            "catch_up_ms": (follower_wall[0] - wall_before) / max(1, calls[0] - calls_before) * 1000,
            "postings_per_second": postings / wall,
            "catch_ups": catch_ups[0] - before,
            "postings": postings,
            "read_p50_ms": percentile(latencies, 50) * 1000,
            "read_p99_ms": percentile(latencies, 99) * 1000,
        }


def run() -> None:
    for rate in (None, PACED):
        none, every, sliced = (measure(c, rate) for c in (None, 0.0, LedgerSettings().follower_coalesce_seconds))
        pace = "as fast as they can" if rate is None else f"paced at {rate:g} postings/s"
        console.print(
            f"{WRITERS} writing threads ({pace}) + 1 reading its own writes, {SECONDS:g} s each run; "
            f"no follower: {none['cpu_per_posting_ms']:.2f} ms CPU per posting, {none['postings_per_second']:.0f} postings/s, "
            f"read p50/p99 {none['read_p50_ms']:.1f}/{none['read_p99_ms']:.1f} ms (the reader catches up itself)"
        )
        report(
            f"The read models' follower in the writing process, writers {pace} "
            f"(Hour Ledger: slices of {LedgerSettings().follower_coalesce_seconds * 1000:.0f} ms; baseline: woken by every commit)",
            [
                ("process CPU per posting, ms", f"{sliced['cpu_per_posting_ms']:.2f}", f"{every['cpu_per_posting_ms']:.2f}"),
                ("  of it the follower thread's, ms", f"{sliced['follower_cpu_per_posting_ms']:.3f}",
                 f"{every['follower_cpu_per_posting_ms']:.3f}"),
                ("postings/s", f"{sliced['postings_per_second']:.0f}", f"{every['postings_per_second']:.0f}"),
                ("a catch-up's wall time, mean ms", f"{sliced['catch_up_ms']:.1f}", f"{every['catch_up_ms']:.1f}"),
                ("follower catch-ups (postings)", f"{sliced['catch_ups']:.0f} ({sliced['postings']:.0f})",
                 f"{every['catch_ups']:.0f} ({every['postings']:.0f})"),
                ("balance read after own posting, p50 ms", f"{sliced['read_p50_ms']:.1f}", f"{every['read_p50_ms']:.1f}"),
                ("balance read after own posting, p99 ms", f"{sliced['read_p99_ms']:.1f}", f"{every['read_p99_ms']:.1f}"),
            ],
        )
