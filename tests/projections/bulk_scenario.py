"""What the tests of the bulk rebuild share: a ledger on PostgreSQL that meets every rule of
the read models, and the comparison of a follower's tables with a bulk rebuild's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.commands import DepositTimebank, WithdrawTimebank
from ledger.config import LedgerSettings
from ledger.persistence import persistence_env
from projections import ReadModels
from projections.engine.tables import Table
from tests.support.builders import donation, grant, redemption, reversal, service, transfer

UTC = timezone.utc
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
STARS = LedgerSettings(star_thresholds_minutes=(60, 120, 240, 480, 960))
# 16:00 UTC is midnight in China: the same instant's day differs by zone.
MIDNIGHT_CST = datetime(2025, 6, 1, 16, 0, tzinfo=UTC)


def record_every_rule(app: HourLedger) -> None:
    """Regions at every level, no organisation, day boundaries in China Standard Time,
    back-dated service, a reversal that moves star days, beneficiaries, transfers, donations,
    grants, redemptions and their reversals."""
    county_org = app.register_organization(SYSTEM, "盱眙志愿服务队", "320830").aggregate
    city_org = app.register_organization(SYSTEM, "淮安市志愿者协会", "3208").aggregate
    county_point = app.register_exchange_point(SYSTEM, "盱眙兑换点", "320830").aggregate
    town_point = app.register_exchange_point(SYSTEM, "马坝镇兑换点", "320830101").aggregate
    for point in (county_point, town_point):
        app.put_item(SYSTEM, point.id, "soap", "肥皂", 30, 100)
        app.put_item(SYSTEM, point.id, "rice", "大米", 45, 100)
    # a volunteer at every level of region, one of them of no organisation
    codes = ["32", "3208", "320830", "320830101", "320830101001", "320402001002"]
    people = [
        app.register_volunteer(SYSTEM, f"志愿者{n}", code, organization_id=city_org.id if n % 2 else county_org.id).aggregate
        for n, code in enumerate(codes)
    ]
    loner = app.register_volunteer(SYSTEM, "无组织志愿者", "320830101002").aggregate
    people.append(loner)

    records = []
    for n, person in enumerate(people):
        org = county_org if person is loner else (city_org if n % 2 else county_org)
        for k in range(4):
            start = MIDNIGHT_CST + timedelta(days=k, seconds=-1 if k % 2 else 0)
            category = ("elder_care", "cleanup", "education")[k % 3]
            records.append(app.post(SYSTEM, service(person, org, 40 + 10 * k, start=start, category=category)))
    # back-dated service: lands before days already counted
    early = MIDNIGHT_CST - timedelta(days=30)
    app.post(SYSTEM, service(people[0], county_org, 90, start=early))
    # reversing a record that made a star changes later star days
    app.post(SYSTEM, reversal(records[1].transaction.id))
    app.post(SYSTEM, service(people[0], county_org, 200, start=MIDNIGHT_CST + timedelta(days=9)))

    beneficiary = uuid4()
    for person in (people[0], people[3], loner):
        app.open_timebank(SYSTEM, person.id)
    for person, org in ((people[0], county_org), (people[3], city_org), (loner, county_org)):
        app.post(SYSTEM, DepositTimebank(id=uuid4(), volunteer_id=person.id, organization_id=org.id, minutes=120,
                                         served_at=MIDNIGHT_CST, beneficiary_id=beneficiary))
        app.post(SYSTEM, DepositTimebank(id=uuid4(), volunteer_id=person.id, organization_id=org.id, minutes=30,
                                         served_at=MIDNIGHT_CST + timedelta(days=3)))
    app.post(SYSTEM, WithdrawTimebank(id=uuid4(), volunteer_id=loner.id, minutes=20, beneficiary_id=beneficiary))
    withdrawn = app.post(SYSTEM, WithdrawTimebank(id=uuid4(), volunteer_id=people[3].id, minutes=10,
                                                  beneficiary_id=uuid4(), note="上门助老"))
    app.post(SYSTEM, reversal(withdrawn.transaction.id))
    app.post(SYSTEM, transfer(people[0], people[3], 15))
    app.post(SYSTEM, donation(people[3], 5))
    app.post(SYSTEM, grant(loner, 5))

    bought = app.post(SYSTEM, redemption(town_point, people[4], ("soap", 1), ("rice", 1)))
    app.post(SYSTEM, redemption(county_point, people[1], ("soap", 2)))
    app.post(SYSTEM, reversal(bought.transaction.id))
    app.post(SYSTEM, redemption(town_point, people[4], ("rice", 1)))


def indexes(models: ReadModels) -> list[str]:
    """The definitions of the current generation's indexes, the generation's number left out."""
    (generation,) = [g for g, state in models.store.generations() if state == "current"]
    with models.store.connection() as conn:
        rows = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename LIKE %s",
            (models.store.schema, f"rm{generation}\\_%"),
        ).fetchall()
    return sorted(row["indexdef"].replace(f"rm{generation}_", "rm_") for row in rows)


def followed_and_bulk(app: HourLedger, batch_size: int = 5) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tables a follower builds in small batches, and the tables of a bulk rebuild (which
    also has the same indexes)."""
    models = ReadModels(app, batch_size=batch_size)
    models.catch_up()
    followed, followed_indexes = models.dump(), indexes(models)
    stages: list[str] = []
    assert models.rebuild(stage=stages.append) == app.head_position()
    assert "summing" in stages, "the rebuild did not take the bulk path"
    assert indexes(models) == followed_indexes and len(followed_indexes) >= 13
    return followed, models.dump()


def assert_same_tables(followed: dict[str, Any], rebuilt: dict[str, Any], tables: tuple[Table, ...] | None = None) -> None:
    """The same rows in each table (of `tables`, or all)."""
    names = [t.name for t in tables] if tables is not None else list(followed)
    for name in names:
        only_followed = sorted(set(followed[name]) - set(rebuilt[name]))[:5]
        only_rebuilt = sorted(set(rebuilt[name]) - set(followed[name]))[:5]
        assert followed[name] == rebuilt[name], f"{name}: followed only {only_followed}, rebuilt only {only_rebuilt}"


def assert_rebuilds_give_what_a_follower_gives(url: str, tables: tuple[Table, ...]) -> dict[str, Any]:
    """On a ledger at `url` that meets every rule, a bulk rebuild and a rebuild without the bulk
    path (the projection itself) each give exactly the rows of `tables` that a follower gives
    batch by batch. Answers the follower's tables."""
    app = HourLedger(env=persistence_env(url), settings=STARS, clock=lambda: NOW)
    try:
        record_every_rule(app)
        followed, rebuilt = followed_and_bulk(app)
        assert_same_tables(followed, rebuilt, tables)
        models = ReadModels(app)
        models.rebuild(bulk=False)
        assert_same_tables(followed, models.dump(), tables)
        return followed
    finally:
        app.close()
