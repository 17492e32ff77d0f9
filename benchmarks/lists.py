"""Lists and search (SPEC §7) on PostgreSQL at HOUR_LEDGER_BENCH_LISTS_SIZES volunteers
(default: HOUR_LEDGER_BENCH_SIZES, else 100,000), through the HTTP API of a real server:

- building the lists from the log (`Lists.catch_up`), events/s, beside reading the same events
  with plain psycopg and decoding their JSON;
- a name search (a common given name of two characters, a surname of one, a full name) and a
  page of 50 volunteers (anywhere in the list, and inside a county), p50/p99, beside
  `GET /healthz` on the same server in the same run;
- a page of a volunteer's transactions and the counter's look-up by pickup code, p50/p99.

The volunteers are registered directly as aggregates, a thousand per save (the events are
those `register_volunteer` records), so that 100,000 take seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg

from benchmarks.common import console, percentile, report, scratch_database, served, timed
from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.commands import Redeem, RedemptionLine, RecordService
from ledger.persistence import persistence_env
from ledger.volunteer import Volunteer
from projections.lists import Lists
from projections.lists.lists import encode_cursor

SIZES = [
    int(s)
    for s in (os.environ.get("HOUR_LEDGER_BENCH_LISTS_SIZES") or os.environ.get("HOUR_LEDGER_BENCH_SIZES") or "100000").split(",")
]
REQUESTS = int(os.environ.get("HOUR_LEDGER_BENCH_REQUESTS", "500"))
TRANSACTIONS = int(os.environ.get("HOUR_LEDGER_BENCH_LISTS_TRANSACTIONS", "10000"))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
COMMON_GIVEN = ["秀英", "桂英", "秀兰", "玉兰", "建华", "建国", "志强", "秀珍", "桂兰", "淑珍", "伟", "芳", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平", "刚", "红"]
GIVEN = "小晓文华建国明亮志强伟芳敏静丽磊军洋勇艳杰娟涛超霞平刚红梅兰英秀玉珍凤云莲玲萍燕飞鹏宇浩然子涵欣怡梓轩佳琪俊杰雨欣思远海波春生德福"
COUNTIES = ["320803", "320804", "320812", "320813", "320826", "320830", "320831", "320402", "320404", "320411", "320412", "320413"]


def name_of(rng: random.Random) -> str:
    given = rng.choice(COMMON_GIVEN) if rng.random() < 0.5 else "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    return rng.choice(SURNAMES) + given


def load(url: str, volunteers: int) -> tuple[list[uuid.UUID], uuid.UUID, int]:
    """Organisations, `volunteers` volunteers, an exchange point and TRANSACTIONS service records
    and redemptions; answers the volunteers' ids, the point's id and the log's head."""
    env = {**persistence_env(url), "AGGREGATE_CACHE_MAXSIZE": "200000", "AGGREGATE_CACHE_FASTFORWARD": "n"}
    ledger = HourLedger(env=env)
    rng = random.Random(12)
    try:
        orgs = [ledger.register_organization(SYSTEM, f"志愿服务队{n}", county).aggregate.id for n, county in enumerate(COUNTIES)]
        point = ledger.register_exchange_point(SYSTEM, "盱眙县新时代文明实践站兑换点", "320830").aggregate.id
        ledger.put_item(SYSTEM, point, "umbrella", "雨伞", 10, 1_000_000)
        ids: list[uuid.UUID] = []
        with timed() as t:
            for start in range(0, volunteers, 1000):
                batch = []
                for n in range(start, min(volunteers, start + 1000)):
                    county = rng.randrange(len(COUNTIES))
                    batch.append(Volunteer(
                        id=uuid.uuid4(), name=name_of(rng), region_code=COUNTIES[county], organization_id=orgs[county],
                        birth_year=rng.randint(1940, 2005), id_number_hash=None, posted_by=SYSTEM.posted_by,
                    ))
                ledger.save(*batch)
                ids.extend(v.id for v in batch)
        console.print(f"registered {volunteers:,} volunteers in {t.seconds:.1f} s")
        base = datetime(2001, 1, 1, tzinfo=timezone.utc)
        regulars = ids[:200]
        # Three quarters service records of 200 regulars, then a quarter redemptions by them.
        commands: list[RecordService | Redeem] = []
        for n in range(TRANSACTIONS * 3 // 4):
            started = base + timedelta(hours=2 * (n // len(regulars)))
            commands.append(RecordService(id=uuid.uuid4(), volunteer_id=regulars[n % len(regulars)], organization_id=orgs[0],
                                          category="elder_care", started_at=started, ended_at=started + timedelta(minutes=60)))
        for n in range(TRANSACTIONS - len(commands)):
            commands.append(Redeem(id=uuid.uuid4(), exchange_point_id=point, volunteer_id=regulars[n % len(regulars)],
                                   items=(RedemptionLine("umbrella", 1),)))
        with timed() as t:
            for start in range(0, len(commands), 250):
                results = ledger.post_batch(SYSTEM, commands[start : start + 250], atomic=True)
                refused = [r for r in results if not hasattr(r, "transaction")]
                assert not refused, refused[:1]
        console.print(f"posted {len(commands):,} transactions in {t.seconds:.1f} s")
        return ids, point, ledger.head_position()
    finally:
        ledger.close()


def build(url: str) -> tuple[float, float]:
    """Events/s building the lists from an empty start, and reading the same events raw."""
    ledger = HourLedger(env=persistence_env(url))
    try:
        lists = Lists(ledger)
        head = ledger.head_position()
        with timed() as t:
            lists.catch_up()
    finally:
        ledger.close()
    count = 0
    with psycopg.connect(url) as conn, timed() as raw:
        with conn.cursor(name="raw") as cur:
            cur.itersize = 5000
            cur.execute("SELECT state FROM hourledger_events ORDER BY notification_id")
            for (state,) in cur:
                json.loads(state)
                count += 1
    return head / t.seconds, count / raw.seconds


def settle(client: object, head: int) -> None:
    """Waits until the server's other followers (balances and statistics, the audit tree) have
    read the whole log: measured while they catch up, reads would share the CPU with them."""
    deadline = time.monotonic() + 900
    while client.get("/v1/stats/summary", params={"min_position": head}).status_code != 200:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the read models did not catch up"
    assert client.get("/v1/audit/checkpoint").status_code == 200  # type: ignore[attr-defined]  # the tree, caught up


def latencies(client: object, requests: dict[str, object]) -> dict[str, tuple[float, float]]:
    """p50 and p99 (ms) of each kind of request, REQUESTS of each, one at a time, the kinds taken
    in turn: whatever else the machine does meanwhile falls on all of them alike (the baseline
    included)."""
    times: dict[str, list[float]] = {name: [] for name in requests}
    for _ in range(REQUESTS):
        for name, make in requests.items():
            started = time.perf_counter()
            response = make()  # type: ignore[operator]
            times[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    return {name: (percentile(found, 50), percentile(found, 99)) for name, found in times.items()}


def run() -> None:
    for size in SIZES:
        with scratch_database(f"hour_ledger_bench_lists_{size}") as url:
            ids, point, head = load(url, size)
            built, raw = build(url)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM (ANALYZE)")  # what autovacuum would do in the first minutes, done first
            rng = random.Random(7)
            with served(url) as client:
                settle(client, head)
                assert client.get("/v1/volunteers", params={"limit": 1}).status_code == 200
                names = [item["name"] for item in client.get("/v1/volunteers", params={"limit": 500}).json()["items"]]
                redemptions = client.get(f"/v1/exchange-points/{point}/redemptions", params={"limit": 500}).json()["items"]
                codes = [r["pickup_code"] for r in redemptions]
                positions = [int(v) for v in range(1, head)]
                for _ in range(200):  # every connection of the pool warmed
                    client.get("/v1/volunteers", params={"q": rng.choice(COMMON_GIVEN)})
                figures = latencies(client, {
                    "search: a common given name (秀英)": lambda: client.get("/v1/volunteers", params={"q": rng.choice(COMMON_GIVEN[:10])}),
                    "search: a surname (王)": lambda: client.get("/v1/volunteers", params={"q": rng.choice(SURNAMES[:20])}),
                    "search: a full name": lambda: client.get("/v1/volunteers", params={"q": rng.choice(names)}),
                    "a page of 50 volunteers": lambda: client.get("/v1/volunteers", params={
                        "limit": 50, "cursor": encode_cursor("volunteer", rng.choice(positions))}),
                    "a page of 50 volunteers of a county": lambda: client.get("/v1/volunteers", params={
                        "limit": 50, "region": rng.choice(COUNTIES)}),
                    "a page of 50 of a volunteer's transactions": lambda: client.get("/v1/transactions", params={
                        "limit": 50, "volunteer_id": str(rng.choice(ids[:200]))}),
                    "the counter: a redemption by pickup code": lambda: client.get(
                        f"/v1/exchange-points/{point}/redemptions", params={"pickup_code": rng.choice(codes)}),
                    "GET /healthz": lambda: client.get("/healthz"),
                })
            health = figures.pop("GET /healthz")
            baseline = f"{health[0]:.1f} / {health[1]:.1f} ms (GET /healthz)"
            report(
                f"Lists and search on PostgreSQL: {size:,} volunteers, {head:,} events",
                [
                    ("building the lists from the log: events/s", f"{built:,.0f}", f"{raw:,.0f} (psycopg read + JSON decode)"),
                    *[(f"{name}: p50 / p99", f"{p50:.1f} / {p99:.1f} ms", baseline) for name, (p50, p99) in figures.items()],
                ],
            )
