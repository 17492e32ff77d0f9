"""Builders that keep the tests short: commands, actors, and two "worlds" to post them in.

`World` holds aggregates in a dict and posts with `ledger.posting.Posting`, exactly as the
application does but with no store: each command runs on copies of the aggregates it loads,
and the copies replace the originals only if the command succeeds (a refused command leaves
the world as it was, like a unit of work the application throws away).

`AppWorld` offers the same verbs on a real `HourLedger`.
"""

from __future__ import annotations

import copy
import itertools
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from ledger.actors import SYSTEM, Actor, Role
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
from ledger.config import LedgerSettings
from ledger.exchange_point import ExchangePoint
from ledger.organization import Organization
from ledger.pool import POOL_ID, CommunityPool
from ledger.posting import Posting
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.unit_of_work import UnitOfWork
from ledger.volunteer import Volunteer

UTC = timezone.utc
CST = timezone(timedelta(hours=8))  # China Standard Time, as clients send it
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
DAY_ONE = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)  # well before NOW
XUYI = "320830"  # a county of Huai'an (3208), Jiangsu (32)
JINHU = "320831"
CHANGZHOU = "3204"

_days = itertools.count()


def _id(thing: Aggregate | UUID) -> UUID:
    return thing if isinstance(thing, UUID) else thing.id


def fresh_day() -> datetime:
    """A day of service no other builder call has used: records built on it never overlap."""
    return DAY_ONE - timedelta(days=next(_days) + 1)


# Commands -----------------------------------------------------------------------------


def service(
    volunteer: Aggregate | UUID,
    organization: Aggregate | UUID,
    minutes: int | None = 60,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    id: UUID | None = None,
    category: str = "elder care",
) -> RecordService:
    start = start or fresh_day()
    end = end or start + timedelta(minutes=minutes or 0)
    return RecordService(
        id=id or uuid4(),
        volunteer_id=_id(volunteer),
        organization_id=_id(organization),
        category=category,
        started_at=start,
        ended_at=end,
    )


def deposit(
    volunteer: Aggregate | UUID,
    organization: Aggregate | UUID,
    minutes: int,
    *,
    served_at: datetime = DAY_ONE,
    id: UUID | None = None,
) -> DepositTimebank:
    return DepositTimebank(
        id=id or uuid4(),
        volunteer_id=_id(volunteer),
        organization_id=_id(organization),
        minutes=minutes,
        served_at=served_at,
    )


def withdrawal(volunteer: Aggregate | UUID, minutes: int, *, id: UUID | None = None) -> WithdrawTimebank:
    return WithdrawTimebank(id=id or uuid4(), volunteer_id=_id(volunteer), minutes=minutes)


def transfer(
    source: Aggregate | UUID, target: Aggregate | UUID, minutes: int, *, id: UUID | None = None
) -> TransferTimebank:
    return TransferTimebank(
        id=id or uuid4(),
        from_volunteer_id=_id(source),
        to_volunteer_id=_id(target),
        minutes=minutes,
        relation="daughter",
    )


def donation(volunteer: Aggregate | UUID, minutes: int, *, id: UUID | None = None) -> DonateTimebank:
    return DonateTimebank(id=id or uuid4(), volunteer_id=_id(volunteer), minutes=minutes)


def grant(volunteer: Aggregate | UUID, minutes: int, *, id: UUID | None = None) -> GrantTimebank:
    return GrantTimebank(
        id=id or uuid4(), volunteer_id=_id(volunteer), minutes=minutes, reason="lives alone, needs care"
    )


def redemption(
    point: Aggregate | UUID, volunteer: Aggregate | UUID, *lines: tuple[str, int], id: UUID | None = None
) -> Redeem:
    return Redeem(
        id=id or uuid4(),
        exchange_point_id=_id(point),
        volunteer_id=_id(volunteer),
        items=tuple(RedemptionLine(sku=sku, quantity=quantity) for sku, quantity in lines),
    )


def reversal(original: Aggregate | UUID, *, id: UUID | None = None, reason: str = "posted by mistake") -> Reverse:
    return Reverse(id=id or uuid4(), reverses=_id(original), reason=reason)


# Actors -------------------------------------------------------------------------------


def operator(region_prefix: str | None = None) -> Actor:
    return Actor(key_id=uuid4(), name="civil affairs bureau", role=Role.OPERATOR, region_prefix=region_prefix)


def auditor() -> Actor:
    return Actor(key_id=uuid4(), name="provincial auditor", role=Role.AUDITOR)


def exchange_point_key(point: Aggregate | UUID) -> Actor:
    return Actor(key_id=uuid4(), name="counter", role=Role.EXCHANGE_POINT, exchange_point_id=_id(point))


def legs_sum(transaction: Transaction) -> int:
    return sum(entry["minutes"] for entry in transaction.legs)


def legs_by_account(transaction: Transaction) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in transaction.legs:
        totals[entry["account"]] = totals.get(entry["account"], 0) + entry["minutes"]
    return totals


# A world without a store --------------------------------------------------------------


class World:
    """Aggregates in a dict, posted to with `Posting` at a fixed `now`."""

    def __init__(self, settings: LedgerSettings | None = None, now: datetime = NOW) -> None:
        self.settings = settings or LedgerSettings()
        self.now = now
        self.aggregates: dict[UUID, Aggregate] = {}

    def keep(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            aggregate.collect_events()  # "saved"
            self.aggregates[aggregate.id] = aggregate

    def post(self, command: Command, actor: Actor = SYSTEM) -> Transaction:
        return self.post_again(command, actor)[0]

    def post_again(self, command: Command, actor: Actor = SYSTEM) -> tuple[Transaction, bool]:
        """The transaction and whether it was created, as `Posting.post` answers."""
        uow = UnitOfWork(lambda id: copy.deepcopy(self.aggregates.get(id)))
        transaction, created = Posting(uow, actor, self.settings, self.now).post(command)
        self.keep(*uow.changed())
        return transaction, created

    def state(self) -> dict[UUID, tuple[int, dict[str, Any]]]:
        """Every aggregate's version and attributes: compared to prove a refusal changed nothing."""
        return {id: (a.version, copy.deepcopy(a.__dict__)) for id, a in self.aggregates.items()}

    # Things

    def organization(self, region_code: str = XUYI) -> Organization:
        organization = Organization(id=uuid4(), name="Xuyi volunteers", region_code=region_code, posted_by={})
        self.keep(organization)
        return organization

    def volunteer(
        self,
        organization: Organization | None = None,
        *,
        region_code: str = XUYI,
        earned_minutes: int = 0,
        timebank_minutes: int | None = None,
    ) -> Volunteer:
        """A volunteer who has earned `earned_minutes` of service; with a time-bank account
        holding `timebank_minutes` if that is not None."""
        organization = organization or self.organization(region_code)
        volunteer = Volunteer(
            id=uuid4(),
            name="Wang Fang",
            region_code=region_code,
            organization_id=organization.id,
            birth_year=1958,
            id_number_hash=None,
            posted_by={},
        )
        self.keep(volunteer)
        self.earn(volunteer, organization, earned_minutes)
        if timebank_minutes is not None:
            self.keep(TimebankAccount(id=TimebankAccount.id_for(volunteer.id), volunteer_id=volunteer.id, posted_by={}))
            if timebank_minutes:
                self.post(deposit(volunteer, organization, timebank_minutes))
        return self.get(Volunteer, volunteer.id)

    def earn(self, volunteer: Volunteer | UUID, organization: Organization | UUID, minutes: int) -> None:
        """Service records of at most a day each, on days of their own."""
        while minutes > 0:
            part = min(minutes, 1440)
            self.post(service(volunteer, organization, part))
            minutes -= part

    def point(self, region_code: str = XUYI, **items: dict[str, Any]) -> ExchangePoint:
        """An exchange point; each keyword is a sku with {"price_minutes", "stock", "min_star"?}."""
        point = ExchangePoint(id=uuid4(), name="Jinhu civic centre", region_code=region_code, posted_by={})
        for sku, item in items.items():
            point.put_item(sku, sku.replace("_", " "), item["price_minutes"], item["stock"], item.get("min_star", 0), {})
        self.keep(point)
        return point

    # Reading

    def get(self, cls: type[Any], id: UUID) -> Any:
        aggregate = self.aggregates[id]
        assert isinstance(aggregate, cls)
        return aggregate

    def volunteer_now(self, volunteer: Volunteer | UUID) -> Volunteer:
        return self.get(Volunteer, _id(volunteer))

    def timebank(self, volunteer: Volunteer | UUID) -> int:
        return self.get(TimebankAccount, TimebankAccount.id_for(_id(volunteer))).balance_minutes

    def stock(self, point: ExchangePoint | UUID, sku: str) -> int:
        return self.get(ExchangePoint, _id(point)).items[sku]["stock"]

    def pool(self) -> int:
        pool = self.aggregates.get(POOL_ID)
        return pool.balance_minutes if isinstance(pool, CommunityPool) else 0

    def transaction(self, id: UUID) -> Transaction:
        return self.get(Transaction, id)


# The same verbs on a real application -------------------------------------------------


class AppWorld:
    """Registers things and posts commands through an `HourLedger` (as the system actor)."""

    def __init__(self, app: HourLedger, actor: Actor = SYSTEM) -> None:
        self.app = app
        self.actor = actor

    def post(self, command: Command) -> Posted:
        return self.app.post(self.actor, command)

    def organization(self, region_code: str = XUYI) -> Organization:
        return self.app.register_organization(self.actor, "Xuyi volunteers", region_code).aggregate

    def volunteer(
        self,
        organization: Organization | None = None,
        *,
        region_code: str = XUYI,
        earned_minutes: int = 0,
        timebank_minutes: int | None = None,
    ) -> Volunteer:
        organization = organization or self.organization(region_code)
        volunteer = self.app.register_volunteer(
            self.actor, "Wang Fang", region_code, organization_id=organization.id
        ).aggregate
        minutes = earned_minutes
        while minutes > 0:
            part = min(minutes, 1440)
            self.post(service(volunteer, organization, part))
            minutes -= part
        if timebank_minutes is not None:
            self.app.open_timebank(self.actor, volunteer.id)
            if timebank_minutes:
                self.post(deposit(volunteer, organization, timebank_minutes))
        return self.app.get_volunteer(volunteer.id)

    def point(self, region_code: str = XUYI, **items: dict[str, Any]) -> ExchangePoint:
        point = self.app.register_exchange_point(self.actor, "Jinhu civic centre", region_code).aggregate
        for sku, item in items.items():
            self.app.put_item(
                self.actor, point.id, sku, sku.replace("_", " "),
                item["price_minutes"], item["stock"], item.get("min_star", 0),
            )
        return self.app.get_exchange_point(point.id)

    def timebank(self, volunteer: Volunteer | UUID) -> int:
        account = self.app.find_timebank(_id(volunteer))
        assert account is not None
        return account.balance_minutes

    def stock(self, point: ExchangePoint | UUID, sku: str) -> int:
        return self.app.get_exchange_point(_id(point)).items[sku]["stock"]


def item(price_minutes: int, stock: int, min_star: int = 0) -> dict[str, Any]:
    return {"price_minutes": price_minutes, "stock": stock, "min_star": min_star}
