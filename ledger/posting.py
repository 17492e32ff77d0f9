"""Posting rules: how each transaction type changes the books, checked against the ledger's rules.

Pure domain logic: it works on aggregates held by a `UnitOfWork` and does no I/O, so it is
tested without a store. A command either changes every aggregate it names and yields one
`Transaction`, or raises a `LedgerError` and the unit of work is thrown away.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.actors import Actor, Role
from ledger.commands import (
    Command,
    DepositTimebank,
    DonateTimebank,
    GrantTimebank,
    RecordService,
    Redeem,
    Reverse,
    TransferTimebank,
    WithdrawTimebank,
)
from ledger.config import LedgerSettings
from ledger.errors import (
    AlreadyReversedError,
    ForbiddenError,
    NotReversibleError,
    TimebankNotOpenError,
    TransactionIdConflictError,
    ValidationError,
)
from ledger.exchange_point import ExchangePoint
from ledger.messages import Thing
from ledger.organization import Organization
from ledger.pool import POOL_ID, CommunityPool
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction
from ledger.unit_of_work import UnitOfWork
from ledger.vocabulary import UNAFFILIATED, AccountAddress, Book, Leg, leg
from ledger.volunteer import Volunteer

PICKUP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a counter

Effect = tuple[list[Leg], dict[str, Any]]


def regions_involved(uow: UnitOfWork, content: dict[str, Any]) -> list[tuple[Thing, str]]:
    """The volunteers, organisation and exchange point a transaction's content names, with
    their regions: a region-scoped key must cover every one of them."""
    regions = []
    for field, cls, what in (
        ("volunteer_id", Volunteer, "volunteer"),
        ("from_volunteer_id", Volunteer, "volunteer"),
        ("to_volunteer_id", Volunteer, "volunteer"),
        ("organization_id", Organization, "organization"),
        ("exchange_point_id", ExchangePoint, "exchange point"),
    ):
        if content.get(field):
            entity = uow.get(cls, UUID(str(content[field])), what, registration_only=True)
            regions.append((Thing(what, entity.id), entity.region_code))
    return regions


class Posting:
    """Applies one command to the aggregates of a unit of work."""

    def __init__(self, uow: UnitOfWork, actor: Actor, settings: LedgerSettings, now: datetime) -> None:
        self.uow = uow
        self.actor = actor
        self.settings = settings
        self.now = now
        self.by = actor.posted_by

    def post(self, command: Command) -> tuple[Transaction, bool]:
        """The transaction and whether it is new (False: the same id was posted before)."""
        self._authorize(command)
        existing = self.uow.find_any(command.id)
        if existing is not None:
            if isinstance(existing, Transaction) and existing.fingerprint == command.fingerprint():
                return existing, False
            raise TransactionIdConflictError("transaction_id_reused", id=command.id)
        legs, details = self._apply(command)
        posted = Transaction.post(
            id=command.id,
            type=command.type,
            content=command.content(),
            fingerprint=command.fingerprint(),
            legs=legs,
            details=details,
            posted_by=self.by,
        )
        self.uow.add(posted)
        return posted, True

    # Authorisation -------------------------------------------------------------------

    def _authorize(self, command: Command) -> None:
        if self.actor.role is Role.EXCHANGE_POINT:
            if isinstance(command, Reverse):
                self._authorize_counter_reversal(command)
            elif not isinstance(command, Redeem):
                raise ForbiddenError("point_key_redemptions_only")
            elif command.exchange_point_id != self.actor.exchange_point_id:
                raise ForbiddenError("point_key_own_point")
        else:
            self.actor.may_write()
        if self.actor.region_prefix:
            for what, region_code in self._regions_involved(command):
                self.actor.require_region(region_code, what)

    def _authorize_counter_reversal(self, command: Reverse) -> None:
        """A clerk may undo a mistake made at the counter a moment ago (SPEC §7): a redemption
        of its own exchange point, within HOUR_LEDGER_COUNTER_REVERSAL_HOURS of its posting.
        Anything older or elsewhere is an operator's correction."""
        original = self.uow.get(Transaction, command.reverses, "transaction")
        if original.type != Redeem.type:
            raise ForbiddenError("counter_reverses_redemptions_only", transaction=original.id, type=original.type)
        if original.content.get("exchange_point_id") != str(self.actor.exchange_point_id):
            raise ForbiddenError(
                "counter_reverses_own_point_only", transaction=original.id, point=original.content.get("exchange_point_id")
            )
        if original.reversed_by == command.id:
            return  # this very reversal, sent again: answered as it was, whenever it comes
        hours = self.settings.counter_reversal_hours
        if self.now - original.posted_at > timedelta(hours=hours):
            raise ForbiddenError("counter_reversal_window", hours=f"{hours:g}", transaction=original.id, posted_at=original.posted_at)

    def _regions_involved(self, command: Command) -> list[tuple[Thing, str]]:
        if isinstance(command, Reverse):
            original = self.uow.get(Transaction, command.reverses, "transaction")
            return regions_involved(self.uow, original.content)
        return regions_involved(self.uow, command.content())

    # Effects ---------------------------------------------------------------------------

    def _apply(self, command: Command) -> Effect:
        return _RULES[type(command)](self, command)

    def _not_in_future(self, field: str, moment: datetime) -> None:
        if moment > self.now:
            raise ValidationError(field, "in_future", moment=moment)

    def _timebank(self, volunteer_id: UUID) -> TimebankAccount:
        self.uow.get(Volunteer, volunteer_id, "volunteer", registration_only=True)
        account = self.uow.find(TimebankAccount, TimebankAccount.id_for(volunteer_id))
        if account is None:
            raise TimebankNotOpenError("timebank_not_open", volunteer=volunteer_id)
        return account

    def _pool(self) -> CommunityPool:
        pool = self.uow.find(CommunityPool, POOL_ID)
        if pool is None:
            pool = CommunityPool(id=POOL_ID)
            self.uow.add(pool)
        return pool

    def _record_service(self, c: RecordService) -> Effect:
        self._not_in_future("ended_at", c.ended_at)
        volunteer = self.uow.get(Volunteer, c.volunteer_id, "volunteer")
        self.uow.get(Organization, c.organization_id, "organization")
        volunteer.record_service(c.id, c.started_at, c.ended_at, c.minutes, self.by)
        return [
            leg(AccountAddress.volunteer(c.volunteer_id, Book.SERVICE), c.minutes),
            leg(AccountAddress.organization(c.organization_id, Book.SERVICE), -c.minutes),
        ], {"minutes": c.minutes}

    def _deposit(self, c: DepositTimebank) -> Effect:
        self._not_in_future("served_at", c.served_at)
        account = self._timebank(c.volunteer_id)
        self.uow.get(Organization, c.organization_id, "organization")
        account.credit(c.id, c.minutes, self.settings.timebank_cap_minutes, c.type, self.by)
        return [
            leg(AccountAddress.volunteer(c.volunteer_id, Book.TIMEBANK), c.minutes),
            leg(AccountAddress.organization(c.organization_id, Book.TIMEBANK), -c.minutes),
        ], {"minutes": c.minutes}

    def _withdraw(self, c: WithdrawTimebank) -> Effect:
        account = self._timebank(c.volunteer_id)
        volunteer = self.uow.get(Volunteer, c.volunteer_id, "volunteer", registration_only=True)
        account.debit(c.id, c.minutes, c.type, self.by)
        # The hours go back to the organisation the volunteer belongs to, which serves them.
        settled_by = volunteer.organization_id or UNAFFILIATED
        return [
            leg(AccountAddress.volunteer(c.volunteer_id, Book.TIMEBANK), -c.minutes),
            leg(AccountAddress.organization(settled_by, Book.TIMEBANK), c.minutes),
        ], {"minutes": c.minutes, "settled_by": str(settled_by)}

    def _transfer(self, c: TransferTimebank) -> Effect:
        source = self._timebank(c.from_volunteer_id)
        target = self._timebank(c.to_volunteer_id)
        source.debit(c.id, c.minutes, c.type, self.by)
        target.credit(c.id, c.minutes, self.settings.timebank_cap_minutes, c.type, self.by)
        return [
            leg(AccountAddress.volunteer(c.from_volunteer_id, Book.TIMEBANK), -c.minutes),
            leg(AccountAddress.volunteer(c.to_volunteer_id, Book.TIMEBANK), c.minutes),
        ], {"minutes": c.minutes}

    def _donate(self, c: DonateTimebank) -> Effect:
        account = self._timebank(c.volunteer_id)
        account.debit(c.id, c.minutes, c.type, self.by)
        self._pool().receive(c.id, c.minutes, self.by)
        return [
            leg(AccountAddress.volunteer(c.volunteer_id, Book.TIMEBANK), -c.minutes),
            leg(AccountAddress.pool(), c.minutes),
        ], {"minutes": c.minutes}

    def _grant(self, c: GrantTimebank) -> Effect:
        account = self._timebank(c.volunteer_id)
        self._pool().give(c.id, c.minutes, self.by)
        account.credit(c.id, c.minutes, self.settings.timebank_cap_minutes, c.type, self.by)
        return [
            leg(AccountAddress.pool(), -c.minutes),
            leg(AccountAddress.volunteer(c.volunteer_id, Book.TIMEBANK), c.minutes),
        ], {"minutes": c.minutes}

    def _redeem(self, c: Redeem) -> Effect:
        volunteer = self.uow.get(Volunteer, c.volunteer_id, "volunteer")
        point = self.uow.get(ExchangePoint, c.exchange_point_id, "exchange point")
        star = volunteer.star_level(self.settings.star_thresholds_minutes)
        lines = point.take_stock(c.id, c.quantities(), star, self.by)
        total = sum(line["price_minutes"] * line["quantity"] for line in lines)
        if total > 0:
            volunteer.redeem(c.id, total, self.by)
        pickup_code = "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(6))
        return [
            leg(AccountAddress.volunteer(c.volunteer_id, Book.SERVICE), -total),
            leg(AccountAddress.exchange_point(c.exchange_point_id), total),
        ], {"minutes": total, "lines": lines, "pickup_code": pickup_code}

    def _reverse(self, c: Reverse) -> Effect:
        original = self.uow.get(Transaction, c.reverses, "transaction")
        if original.type == Reverse.type:
            raise NotReversibleError("reversal_of_reversal", id=original.id)
        if original.reversed_by is not None:
            raise AlreadyReversedError("already_reversed", id=original.id, by=original.reversed_by)
        self._undo(original, c.id)
        original.mark_reversed(c.id, self.by)
        legs: list[Leg] = [{"account": entry["account"], "minutes": -entry["minutes"]} for entry in original.legs]
        return legs, {"minutes": original.details.get("minutes", 0), "reverses": str(original.id)}

    def _undo(self, original: Transaction, reversal_id: UUID) -> None:
        content, minutes = original.content, original.details["minutes"]
        cap = self.settings.timebank_cap_minutes
        entry = Reverse.type
        if original.type == RecordService.type:
            volunteer = self.uow.get(Volunteer, UUID(content["volunteer_id"]), "volunteer")
            volunteer.reverse_service(original.id, reversal_id, minutes, self.by)
        elif original.type == Redeem.type:
            volunteer = self.uow.get(Volunteer, UUID(content["volunteer_id"]), "volunteer")
            point = self.uow.get(ExchangePoint, UUID(content["exchange_point_id"]), "exchange point")
            if minutes > 0:
                volunteer.reverse_redemption(original.id, reversal_id, minutes, self.by)
            point.return_stock(original.id, reversal_id, original.details["lines"], self.by)
        elif original.type == DepositTimebank.type:
            self._timebank(UUID(content["volunteer_id"])).debit(reversal_id, minutes, entry, self.by)
        elif original.type == WithdrawTimebank.type:
            self._timebank(UUID(content["volunteer_id"])).credit(reversal_id, minutes, cap, entry, self.by)
        elif original.type == TransferTimebank.type:
            self._timebank(UUID(content["to_volunteer_id"])).debit(reversal_id, minutes, entry, self.by)
            self._timebank(UUID(content["from_volunteer_id"])).credit(
                reversal_id, minutes, cap, entry, self.by
            )
        elif original.type == DonateTimebank.type:
            self._pool().give(reversal_id, minutes, self.by)
            self._timebank(UUID(content["volunteer_id"])).credit(reversal_id, minutes, cap, entry, self.by)
        elif original.type == GrantTimebank.type:
            self._timebank(UUID(content["volunteer_id"])).debit(reversal_id, minutes, entry, self.by)
            self._pool().receive(reversal_id, minutes, self.by)
        else:  # pragma: no cover - every type is listed above
            raise NotReversibleError("type_not_reversible", type=original.type)


# Each command's rule (a table made once: a posting's hot path).
_RULES: dict[type[Command], Callable[[Posting, Any], Effect]] = {
    RecordService: Posting._record_service,
    DepositTimebank: Posting._deposit,
    WithdrawTimebank: Posting._withdraw,
    TransferTimebank: Posting._transfer,
    DonateTimebank: Posting._donate,
    GrantTimebank: Posting._grant,
    Redeem: Posting._redeem,
    Reverse: Posting._reverse,
}
