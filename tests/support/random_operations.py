"""Random sequences of operations for the property tests (hypothesis): service records,
deposits, withdrawals, transfers, donations, grants, redemptions, reversals of earlier
transactions and retries of earlier ids, often with amounts too large or not positive; and
`Run`, which plays one on a store of its own through `HourLedger`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

from hypothesis import strategies as st

from ledger.actors import SYSTEM
from ledger.application import HourLedger, Posted
from ledger.commands import Command
from ledger.config import LedgerSettings
from ledger.errors import LedgerError, UnavailableError, ValidationError
from ledger.transaction import Transaction
from tests.support.builders import deposit, donation, grant, item, redemption, reversal, service, transfer, withdrawal

UTC = timezone.utc
SERVICE_FROM = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)  # after every service time drawn below
CAP = 2_000
RULES = LedgerSettings(timebank_cap_minutes=CAP, star_thresholds_minutes=(120, 240, 480, 720, 960))
STOCK = {"tea": item(20, 8), "ticket": item(50, 4, min_star=1)}
VOLUNTEERS = 3  # the last one never opens a time-bank account

# Operations ---------------------------------------------------------------------------

volunteer_index = st.sampled_from(range(VOLUNTEERS))
minutes = st.integers(0, 9).flatmap(
    lambda k: st.integers(1, 400)  # mostly sensible
    if k < 7
    else st.integers(CAP - 100, CAP + 100)  # around the cap
    if k < 9
    else st.sampled_from([0, -30, 10**6 + 1])  # never valid
)
operations = st.one_of(
    st.tuples(st.just("service"), volunteer_index, st.integers(0, 4 * 1440), st.integers(0, 1500)),
    st.tuples(st.just("deposit"), volunteer_index, minutes),
    st.tuples(st.just("withdraw"), volunteer_index, minutes),
    st.tuples(st.just("transfer"), volunteer_index, volunteer_index, minutes),
    st.tuples(st.just("donate"), volunteer_index, minutes),
    st.tuples(st.just("grant"), volunteer_index, minutes),
    st.tuples(
        st.just("redeem"),
        volunteer_index,
        st.lists(st.tuples(st.sampled_from(["tea", "tea", "ticket", "kite"]), st.integers(1, 3)), min_size=1, max_size=2),
    ),
    # mostly something posted (perhaps itself a reversal), at times anything attempted
    st.tuples(st.just("reverse"), st.sampled_from([True, True, True, False]), st.integers(0, 1000)),
    st.tuples(st.just("retry"), st.integers(0, 1000)),
)
sequences = st.lists(operations, min_size=10, max_size=50)


class Run:
    """One sequence of operations against one fresh store."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.app = HourLedger(env=env, settings=RULES, clock=lambda: NOW)
        app = self.app
        self.organization = app.register_organization(SYSTEM, "Xuyi volunteers", "320830").aggregate
        self.volunteers = [
            app.register_volunteer(SYSTEM, f"volunteer {i}", "320830", organization_id=self.organization.id).aggregate
            for i in range(VOLUNTEERS)
        ]
        for volunteer in self.volunteers[:-1]:
            app.open_timebank(SYSTEM, volunteer.id)
        self.point = app.register_exchange_point(SYSTEM, "Xuyi civic centre", "320830").aggregate
        for sku, it in STOCK.items():
            app.put_item(SYSTEM, self.point.id, sku, sku, it["price_minutes"], it["stock"], it["min_star"])
        self.commands: list[Command] = []  # everything attempted that was well-formed
        self.posted: dict[UUID, Transaction] = {}
        # Something to spend from the start: an early day of service each, and time-bank hours.
        early = SERVICE_FROM - timedelta(days=1)
        for volunteer in self.volunteers:
            self.keep(app.post(SYSTEM, service(volunteer, self.organization, 100, start=early)))
        for volunteer in self.volunteers[:-1]:
            self.keep(app.post(SYSTEM, deposit(volunteer, self.organization, 600, served_at=early)))

    def keep(self, posted: Posted) -> None:
        self.posted[posted.transaction.id] = posted.transaction

    def close(self) -> None:
        self.app.close()

    def command_for(self, op: tuple[Any, ...]) -> Command:
        kind, *args = op
        v = self.volunteers
        org = self.organization
        if kind == "service":
            index, offset, length = args
            start = SERVICE_FROM + timedelta(minutes=offset)
            return service(v[index], org, start=start, end=start + timedelta(minutes=length))
        if kind == "deposit":
            return deposit(v[args[0]], org, args[1], served_at=SERVICE_FROM)
        if kind == "withdraw":
            return withdrawal(v[args[0]], args[1])
        if kind == "transfer":
            return transfer(v[args[0]], v[args[1]], args[2])
        if kind == "donate":
            return donation(v[args[0]], args[1])
        if kind == "grant":
            return grant(v[args[0]], args[1])
        if kind == "redeem":
            return redemption(self.point, v[args[0]], *args[1])
        if kind == "reverse":
            posted_only, index = args
            targets = list(self.posted) if posted_only else [c.id for c in self.commands] or [uuid4()]
            return reversal(targets[index % len(targets)])
        if kind == "retry":
            if not self.commands:
                return reversal(uuid4())
            return self.commands[args[0] % len(self.commands)]
        raise AssertionError(kind)

    def apply(self, op: tuple[Any, ...]) -> Posted | LedgerError:
        """Posts the operation's command; answers what the ledger answered."""
        try:
            command = self.command_for(op)
        except ValidationError as refused:
            return refused  # refused before it reached the ledger
        head = self.app.head_position()
        try:
            outcome = self.app.post(SYSTEM, command)
        except UnavailableError:
            raise
        except LedgerError as refused:
            assert self.app.head_position() == head, f"a refused {op[0]} recorded something"
            assert command.id not in self.posted, "a retry with the same content was refused"
            outcome = refused
        else:
            if command.id in self.posted:
                assert outcome.created is False and outcome.transaction.id == command.id
                assert self.app.head_position() == head, "a retry recorded something"
            else:
                assert outcome.created is True
                assert outcome.position is not None and outcome.position > head
                self.posted[command.id] = outcome.transaction
        if op[0] != "retry":
            self.commands.append(command)
        return outcome
