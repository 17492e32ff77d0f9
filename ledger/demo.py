"""A reproducible synthetic Jiangsu data set (Huai'an and Changzhou, as in the bulletin),
loaded through the ledger's own use cases, many transactions to a store transaction.

The same scale and seed give the same organisations, volunteers, items and transactions
(ids included); only recorded times differ between runs."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.actors import SYSTEM
from ledger.application import HourLedger, Posted
from ledger.commands import (
    Command,
    DepositTimebank,
    DonateTimebank,
    GrantTimebank,
    RecordService,
    Redeem,
    RedemptionLine,
    Reverse,
    TransferTimebank,
    WithdrawTimebank,
)

CST = timezone(timedelta(hours=8))
COUNTIES = {
    "320803": "淮安区", "320804": "淮阴区", "320812": "清江浦区", "320813": "洪泽区",
    "320826": "涟水县", "320830": "盱眙县", "320831": "金湖县",
    "320402": "天宁区", "320404": "钟楼区", "320411": "新北区", "320412": "武进区",
    "320413": "金坛区", "320481": "溧阳市",
}
CATEGORIES = ["elder_care", "community_cleanup", "health", "legal_aid", "education", "agriculture", "civilization"]
ITEMS = [("laundry", "洗衣液", 120), ("umbrella", "雨伞", 180), ("tissue", "纸巾", 30), ("rice", "大米", 240), ("raincoat", "雨披", 150)]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
VOLUNTEERS_PER_SCALE = 100
BATCH = 250  # transactions per store transaction


@dataclass
class DemoReport:
    organizations: int = 0
    volunteers: int = 0
    exchange_points: int = 0
    transactions: int = 0
    refused: int = 0
    # A few (id, name, region) to start looking from.
    samples: list[tuple[UUID, str, str]] = field(default_factory=list)


class DemoAlreadyLoadedError(Exception):
    """The data set of this seed is in the store already: loading it again would reset the
    stock its redemptions took (and its accounts exist), so nothing is loaded."""

    def __init__(self, seed: int) -> None:
        super().__init__(f"the demo data set of seed {seed} is already loaded")
        self.seed = seed


def demo_id(seed: int, *parts: object) -> UUID:
    return uuid5(NAMESPACE_URL, f"hour-ledger-demo:{seed}:" + ":".join(map(str, parts)))


def load_demo(
    ledger: HourLedger,
    scale: int = 1,
    seed: int = 2021,
    progress: Callable[[int, int], None] | None = None,
) -> DemoReport:
    """Loads `scale` × 100 volunteers with about a year of history each (~12,000 events per
    scale). A seed whose data set is already in the store raises DemoAlreadyLoadedError before
    anything is written; another seed adds a separate data set beside it."""
    if is_loaded(ledger, seed):
        raise DemoAlreadyLoadedError(seed)
    rng = random.Random(seed)
    report = DemoReport()
    orgs: dict[str, list[UUID]] = {}
    points: dict[str, UUID] = {}
    for county, name in COUNTIES.items():
        for n in range(2):
            org_id = demo_id(seed, "org", county, n)
            ledger.register_organization(SYSTEM, f"{name}志愿服务队{n + 1}", county, id=org_id)
            orgs.setdefault(county, []).append(org_id)
            report.organizations += 1
        point_id = demo_id(seed, "point", county)
        ledger.register_exchange_point(SYSTEM, f"{name}新时代文明实践站兑换点", county, id=point_id)
        for sku, item_name, price in ITEMS:
            ledger.put_item(SYSTEM, point_id, sku, item_name, price, stock=100 * scale, min_star=1 if sku == "rice" else 0)
        points[county] = point_id
        report.exchange_points += 1

    people = []
    for n in range(scale * VOLUNTEERS_PER_SCALE):
        county = rng.choice(list(COUNTIES))
        region = f"{county}{rng.randint(1, 20):03d}{rng.randint(1, 30):03d}"
        person_id = demo_id(seed, "volunteer", n)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        ledger.register_volunteer(
            SYSTEM, name, region, organization_id=rng.choice(orgs[county]),
            birth_year=rng.randint(1950, 2005), id=person_id,
        )
        people.append((person_id, county))
        report.volunteers += 1
        if len(report.samples) < 3:
            report.samples.append((person_id, name, region))

    holders = [person_id for person_id, _ in people if rng.random() < 0.3]
    for person_id in holders:
        ledger.open_timebank(SYSTEM, person_id)
    commands = list(_history(rng, seed, people, set(holders), orgs, points))
    total = len(commands)
    for start in range(0, total, BATCH):
        results = _post(ledger, commands[start : start + BATCH])
        report.transactions += sum(isinstance(r, Posted) for r in results)
        report.refused += sum(not isinstance(r, Posted) for r in results)
        if progress:
            progress(min(start + BATCH, total), total)
    return report


def is_loaded(ledger: HourLedger, seed: int) -> bool:
    """Whether any of this seed's data set was written: its first organisation is the first
    thing a load writes, under an id that only the seed decides."""
    first_county = next(iter(COUNTIES))
    return ledger.position_of(demo_id(seed, "org", first_county, 0)) is not None


def _post(ledger: HourLedger, commands: list[Command]) -> list[object]:
    """Atomically when it can (fast: one store transaction); item by item when an item is refused."""
    results = ledger.post_batch(SYSTEM, commands, atomic=True)
    if all(isinstance(r, Posted) for r in results):
        return results
    return ledger.post_batch(SYSTEM, commands, atomic=False)


def _history(
    rng: random.Random,
    seed: int,
    people: list[tuple[UUID, str]],
    holders: set[UUID],
    orgs: dict[str, list[UUID]],
    points: dict[str, UUID],
) -> Iterator[Command]:
    """About a year of life, in time order per volunteer; every command valid when posted in order."""
    start = datetime(2024, 1, 1, tzinfo=CST)
    n = 0
    for person_id, county in people:
        earned = spent = 0
        org = orgs[county][0]
        records = min(int(rng.lognormvariate(3.2, 0.8)), 250)
        day = 0
        for _ in range(records):
            day += rng.randint(1, 3)
            begins = start + timedelta(days=day, hours=rng.choice([8, 9, 14, 15]), minutes=rng.choice([0, 30]))
            minutes = rng.choice([60, 90, 120, 150, 180, 240])
            n += 1
            yield RecordService(
                id=demo_id(seed, "tx", n), volunteer_id=person_id, organization_id=org,
                category=rng.choice(CATEGORIES), started_at=begins, ended_at=begins + timedelta(minutes=minutes),
                activity=None,
            )
            earned += minutes
        for _ in range(rng.randint(0, 4)):
            sku, _, price = rng.choice(ITEMS[:3] + ITEMS[4:])
            if earned - spent >= price:
                n += 1
                yield Redeem(
                    id=demo_id(seed, "tx", n), exchange_point_id=points[county], volunteer_id=person_id,
                    items=(RedemptionLine(sku, 1),),
                )
                spent += price
        if records and rng.random() < 0.05:
            n += 1
            yield Reverse(id=demo_id(seed, "tx", n), reverses=demo_id(seed, "tx", n - 1), reason="录入错误")
    yield from _timebank_history(rng, seed, people, holders, orgs, start, n)


def _timebank_history(
    rng: random.Random,
    seed: int,
    people: list[tuple[UUID, str]],
    holders: set[UUID],
    orgs: dict[str, list[UUID]],
    start: datetime,
    n: int,
) -> Iterator[Command]:
    balances: dict[UUID, int] = {}
    for person_id, county in people:
        if person_id in holders:
            balances[person_id] = 0
            for _ in range(rng.randint(1, 12)):
                minutes = rng.choice([60, 120, 180])
                n += 1
                yield DepositTimebank(
                    id=demo_id(seed, "tx", n), volunteer_id=person_id, organization_id=orgs[county][1],
                    minutes=minutes, served_at=start + timedelta(days=rng.randint(0, 330), hours=9),
                    beneficiary_id=demo_id(seed, "elder", rng.randint(0, len(people))),
                )
                balances[person_id] += minutes
    accounts = list(balances)
    for person_id in accounts:
        roll = rng.random()
        if roll < 0.2 and balances[person_id] >= 60:
            n += 1
            yield WithdrawTimebank(id=demo_id(seed, "tx", n), volunteer_id=person_id, minutes=60, note="上门助老")
            balances[person_id] -= 60
        elif roll < 0.3 and balances[person_id] >= 60 and len(accounts) > 1:
            other = rng.choice([a for a in accounts if a != person_id])
            n += 1
            yield TransferTimebank(
                id=demo_id(seed, "tx", n), from_volunteer_id=person_id, to_volunteer_id=other, minutes=60, relation="家人"
            )
            balances[person_id] -= 60
            balances[other] += 60
        elif roll < 0.4 and balances[person_id] >= 60:
            n += 1
            yield DonateTimebank(id=demo_id(seed, "tx", n), volunteer_id=person_id, minutes=60)
            balances[person_id] -= 60
            n += 1
            yield GrantTimebank(id=demo_id(seed, "tx", n), volunteer_id=rng.choice(accounts), minutes=60, reason="困难老人")
