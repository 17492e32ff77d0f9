"""The Hour Ledger application: its methods are the use cases operators, exchange points and
auditors run. Each loads what it needs, applies the domain's rules, and saves every changed
aggregate in one store transaction, retrying a bounded number of times when another writer
got there first (optimistic concurrency on aggregate versions)."""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, LRUCache
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent, Transcoder

from ledger.actors import Actor
from ledger.api_keys import ApiKeys, SharedRevocations
from ledger.certificate import Certificate, certificate_id, new_certificate_code
from ledger.commands import Command
from ledger.config import LedgerSettings
from ledger.encoding import construct_transcoder
from ledger.errors import (
    ForbiddenError,
    LedgerError,
    NotFoundError,
    TimebankAlreadyOpenError,
    TransactionIdConflictError,
    UnauthorizedError,
    UnavailableError,
    ValidationError,
)
from ledger.exchange_point import ExchangePoint
from ledger.group_commit import GroupCommit
from ledger.immutable_state import ImmutableState
from ledger.messages import Thing
from ledger.organization import Organization
from ledger.persistence import check_reachable, event_position, persistence_env, stored_ids
from ledger.pool import POOL_ID, CommunityPool
from ledger.posting import Posting, regions_involved
from ledger.recent_ids import RecentIds
from ledger.service_periods import ServicePeriodsAsText
from ledger.regions import check_region_code
from ledger.store_health import StoreHealth
from ledger.timebank import TimebankAccount
from ledger.transaction import Transaction, service_minutes_of
from ledger.unit_of_work import UnitOfWork
from ledger.vocabulary import EPOCH, MAX_MINUTES, MAX_SKU, MAX_STOCK, STAR_LEVELS, check_name
from ledger.volunteer import Volunteer

T = TypeVar("T")

MAX_ATTEMPTS = 30


class PostedMeanwhile(Exception):
    """A transaction id seen absent was stored by another writer while the use case ran."""


@dataclass(frozen=True)
class Posted:
    """A transaction as the ledger holds it, whether this call created it, and its position."""

    transaction: Transaction
    created: bool
    position: int | None


@dataclass(frozen=True)
class NotApplied:
    """An item of an atomic batch that was valid but not recorded, because another item failed."""

    failed_index: int


@dataclass
class PostingGroup:
    """Postings checked together and not yet settled (`HourLedger.post_group`)."""

    postings: Sequence[tuple[Actor, Command]]
    changed: dict[UUID, Aggregate] = field(default_factory=dict)  # as the group's postings left them
    events: list[Any] = field(default_factory=list)
    stored: list[StoredEvent] = field(default_factory=list)
    checked: list[tuple[int, Transaction, bool]] = field(default_factory=list)  # (index, transaction, created)
    alone: list[int] = field(default_factory=list)  # indices to post alone once the group is settled


@dataclass(frozen=True)
class Registered:
    aggregate: Aggregate
    created: bool
    position: int | None = None


@dataclass(frozen=True)
class Saved:
    """Where one save put things in the global log: each aggregate's first new event."""

    positions: dict[UUID, int]

    def first_of(self, aggregate_id: UUID) -> int | None:
        return self.positions.get(aggregate_id)

    @property
    def last(self) -> int | None:
        return max(self.positions.values(), default=None)


@dataclass(frozen=True)
class Balance:
    earned_minutes: int
    redeemed_minutes: int
    available_minutes: int
    star_level: int
    timebank_open: bool
    timebank_balance_minutes: int


class HourLedger(Application[UUID]):
    """The use cases. Each may raise UnavailableError (the store is down or unreachable, or
    writers contend past the retries: a 503) besides the domain errors its docstring names.
    API keys are `keys` (ledger/api_keys.py); the store's watch is `store_health`."""

    name = "HourLedger"
    snapshotting_intervals = {
        Volunteer: 100,
        TimebankAccount: 100,
        ExchangePoint: 100,
        CommunityPool: 100,
    }
    # eventsourcing's JSON, byte for byte, written and read by orjson (ledger/encoding.py).
    construct_transcoder = construct_transcoder

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        settings: LedgerSettings | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`settings` default to those of `env`, or of the process environment when there is
        no `env`; `env` also carries eventsourcing's own settings (by default, the store that
        `settings.database_url` names)."""
        if settings is None:
            settings = LedgerSettings.from_env(env)
        if env is None or "PERSISTENCE_MODULE" not in env:
            env = {**persistence_env(settings.database_url), **(env or {})}
        # Aggregates stay in memory between commands; each use fast-forwards them from the
        # store (one query for the newer events), so other processes' writes are always seen.
        env = {"AGGREGATE_CACHE_MAXSIZE": "10000", **env}
        super().__init__(env=env)
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._saved_listeners: list[Callable[[int], None]] = []
        self.group_commit = GroupCommit(self.recorder.insert_events)
        self._regions: LRUCache[UUID, str] = LRUCache(maxsize=100_000)
        # The ids of the transactions this process posted lately: a client's retry of one (an
        # exchange point on a flaky network) is known a replay before its group is written.
        self._posted_here = RecentIds(100_000)
        # Every store call goes through `store_health.guard`; a serving process also starts
        # its probe (`store_health.watch()`), and then refuses work at once while it is down.
        self.store_health = StoreHealth(self.env, [self.recorder, getattr(self.snapshots, "recorder", None)])
        revocations = SharedRevocations(settings.key_revocations_file) if settings.key_revocations_file else None
        self.keys = ApiKeys(self._run, self._find, self.get_exchange_point, settings.key_cache_seconds, revocations)

    def register_transcodings(self, transcoder: Transcoder) -> None:
        """eventsourcing's hook: the library's transcodings and the ledger's own."""
        super().register_transcodings(transcoder)
        transcoder.register(ServicePeriodsAsText())

    def close(self) -> None:
        self.store_health.stop()
        super().close()

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Calls `listener(position)` after each save by this process: a follower in the same
        process wakes at once instead of waiting for its next poll."""
        self._saved_listeners.append(listener)

    def wake_on_save(self, wake: threading.Event) -> None:
        """Sets `wake` after each save by this process: the follower waiting on it looks at
        the log at once. Only the event is held, so a follower dropped is not kept alive."""
        self.on_saved(lambda _: wake.set())

    def _notify(self, recordings: list[Any]) -> None:
        # eventsourcing calls this after its own `save` (its documented hook for subclasses),
        # which tests and the lists' benchmark use; the use cases save through `_save`.
        if recordings:
            self._announce(max(r.notification.id for r in recordings))

    def _announce(self, position: int) -> None:
        """Tells the `on_saved` listeners the new head of the log."""
        for listener in self._saved_listeners:
            listener(position)

    # Things ----------------------------------------------------------------------------

    def register_organization(
        self, actor: Actor, name: str, region_code: str, id: UUID | None = None
    ) -> Registered:
        """Registers an organisation; a repeated `id` with the same body answers the existing one.
        Raises ForbiddenError (a key that may not write, or a region outside its scope),
        ValidationError (a bad name or region code) and TransactionIdConflictError (the id is
        another thing's)."""
        _check_newcomer(actor, name, region_code, Thing("the organization"))
        return self._register(actor, Organization, id, {"name": name, "region_code": region_code})

    def register_volunteer(
        self,
        actor: Actor,
        name: str,
        region_code: str,
        organization_id: UUID | None = None,
        birth_year: int | None = None,
        id_number: str | None = None,
        id: UUID | None = None,
    ) -> Registered:
        """Registers a volunteer, as `register_organization` does an organisation. Raises
        ForbiddenError, ValidationError (also a birth year or ID number out of range),
        NotFoundError (no such organisation) and TransactionIdConflictError."""
        _check_newcomer(actor, name, region_code, Thing("the volunteer"))
        if birth_year is not None and not 1900 <= birth_year <= self.clock().year:
            raise ValidationError("birth_year", "between", low=1900, high=self.clock().year)
        if organization_id is not None:
            organization = self._get(Organization, organization_id, "organization")
            actor.require_region(organization.region_code, Thing("organization", organization_id))
        wanted = {
            "name": name,
            "region_code": region_code,
            "organization_id": organization_id,
            "birth_year": birth_year,
            "id_number_hash": self.hash_id_number(id_number) if id_number else None,
        }
        return self._register(actor, Volunteer, id, wanted)

    def hash_id_number(self, id_number: str) -> str:
        """A salted hash: the number itself is never stored (SPEC §1, personal data).
        Raises ValidationError (not 6 to 32 characters)."""
        normalised = id_number.strip().upper()
        if not 6 <= len(normalised) <= 32:
            raise ValidationError("id_number", "length_range", low=6, high=32)
        salt = self.settings.id_number_salt.encode()
        return hmac.new(salt, normalised.encode(), hashlib.sha256).hexdigest()

    def register_exchange_point(
        self, actor: Actor, name: str, region_code: str, id: UUID | None = None
    ) -> Registered:
        """Registers an exchange point, as `register_organization` does an organisation. Raises
        ForbiddenError, ValidationError and TransactionIdConflictError."""
        _check_newcomer(actor, name, region_code, Thing("the exchange point"))
        return self._register(actor, ExchangePoint, id, {"name": name, "region_code": region_code})

    def open_timebank(self, actor: Actor, volunteer_id: UUID) -> Registered:
        """Opens the volunteer's time-bank account. Raises ForbiddenError (a key that may not
        write, or outside its region), NotFoundError (no such volunteer) and
        TimebankAlreadyOpenError (opened before)."""
        actor.may_write()
        volunteer = self._get(Volunteer, volunteer_id, "volunteer")
        actor.require_region(volunteer.region_code, Thing("volunteer", volunteer_id))
        account_id = TimebankAccount.id_for(volunteer_id)
        if self._find(account_id) is not None:
            raise TimebankAlreadyOpenError("timebank_already_open", volunteer=volunteer_id)
        account = TimebankAccount(id=account_id, volunteer_id=volunteer_id, posted_by=actor.posted_by)
        try:
            position = self._save([account]).last
        except IntegrityError:
            raise TimebankAlreadyOpenError("timebank_already_open", volunteer=volunteer_id) from None
        return Registered(account, True, position)

    def put_item(
        self,
        actor: Actor,
        exchange_point_id: UUID,
        sku: str,
        name: str,
        price_minutes: int,
        stock: int,
        min_star: int = 0,
    ) -> ExchangePoint:
        """Puts an item on an exchange point's shelf, or replaces it (same sku). Raises
        ForbiddenError, ValidationError (name, sku, price, stock or star level out of range)
        and NotFoundError (no such exchange point)."""
        actor.may_write()
        check_name(name)
        if not sku or len(sku) > MAX_SKU:
            raise ValidationError("sku", "sku_shape")
        if not 0 <= price_minutes <= MAX_MINUTES:
            raise ValidationError("price_minutes", "between", low=0, high=MAX_MINUTES)
        if not 0 <= stock <= MAX_STOCK:
            raise ValidationError("stock", "between", low=0, high=MAX_STOCK)
        if not 0 <= min_star <= max(STAR_LEVELS):
            raise ValidationError("min_star", "between", low=0, high=max(STAR_LEVELS))

        def put(uow: UnitOfWork) -> ExchangePoint:
            point = uow.get(ExchangePoint, exchange_point_id, "exchange point")
            actor.require_region(point.region_code, Thing("exchange point", exchange_point_id))
            point.put_item(sku, name, price_minutes, stock, min_star, actor.posted_by)
            return point

        return self._run(put)[0]

    # Transactions ----------------------------------------------------------------------

    def post(self, actor: Actor, command: Command) -> Posted:
        """Posts one transaction, or answers the one posted before under its id.

        Raises every error of `Posting.post`: ValidationError, NotFoundError, ForbiddenError,
        TransactionIdConflictError, InsufficientBalanceError, OverlappingServiceError and the
        other rule errors of ledger/errors.py; UnavailableError when the store is down."""

        def post(uow: UnitOfWork) -> tuple[Transaction, bool]:
            absent = self._seed_new_ids(uow, [command.id])
            try:
                return Posting(uow, actor, self.settings, self.clock()).post(command)
            except LedgerError as error:
                if not uow.optimistic:
                    self._retry_if_posted_meanwhile(error, absent)
                raise

        (transaction, created), saved = self._run(post)
        return Posted(transaction, created, saved.first_of(transaction.id) or self.position_of(transaction.id))

    def post_batch(
        self, actor: Actor, commands: Sequence[Command], atomic: bool
    ) -> list[Posted | LedgerError | NotApplied]:
        """One result per command, in order. Atomic: all recorded in one store transaction, or none.

        An item's error is its result (the errors of `post`); not atomic, each item is posted
        on its own. Raises UnavailableError when the store is down."""
        if not atomic:
            results: list[Posted | LedgerError | NotApplied] = []
            for command in commands:
                try:
                    results.append(self.post(actor, command))
                except LedgerError as error:
                    results.append(error)
            return results

        ids = [command.id for command in commands]

        def post_all(uow: UnitOfWork) -> list[tuple[Transaction, bool]] | tuple[int, LedgerError]:
            absent = self._seed_new_ids(uow, ids)
            posting = Posting(uow, actor, self.settings, self.clock())
            done = []
            for index, command in enumerate(commands):
                try:
                    done.append(posting.post(command))
                except LedgerError as error:
                    if uow.optimistic:
                        raise  # `_run` runs it again carefully, which answers the failure
                    self._retry_if_posted_meanwhile(error, absent)
                    return index, error
            return done

        outcome, saved = self._run(post_all, save_if=lambda r: isinstance(r, list))
        if isinstance(outcome, tuple):
            failed_index, error = outcome
            return [error if i == failed_index else NotApplied(failed_index) for i in range(len(commands))]
        # Each item's own position in the log (not the batch's last), as a replay of its id answers.
        return [Posted(t, created, saved.first_of(t.id) or self.position_of(t.id)) for t, created in outcome]

    def post_group(
        self, postings: Sequence[tuple[Actor, Command]], answer: Callable[[dict[int, Posted | Exception]], None]
    ) -> None:
        """Independent postings that arrived together (from different clients), each answered
        as `post` would answer it alone, most of them written in one store transaction.

        `answer` is given results by index as they are known: the group's all at once after its
        one write, then, one at a time, those posted alone. Each posting is checked by the rules
        on its own, against the state the postings before it in the group left (from this
        process's cache, as `post`'s optimistic attempt does), so the group is exactly what
        posting them one after another would record. A posting that attempt cannot settle (a
        rule refused it, it read a cached aggregate it did not change, it failed otherwise, or
        it is a retry of one this process posted lately) is left out of the group and posted
        alone after it, by `post` (which asks the store);
        if writing the group meets a conflict (another process wrote one of its aggregates),
        every posting of it is posted alone so. A result is a `Posted` or the exception `post`
        would have raised. The store being down fails the whole group (nothing was written).

        The three steps are also the posting desk's (api/posting_desk.py), which checks the
        next group while this one is being written."""
        group = self.check_group(postings)
        for index in self.settle_group(group, self.write_group(group), answer):
            actor, command = postings[index]
            try:
                answer({index: self.post(actor, command)})
            except Exception as error:  # noqa: BLE001 - the posting's own answer
                answer({index: error})

    def check_group(self, postings: Sequence[tuple[Actor, Command]], after: PostingGroup | None = None) -> PostingGroup:
        """The postings checked as `post_group` says, nothing written yet. `after`: a group
        checked before this one and not yet settled; this one is checked against the state that
        group leaves, and must be written only once that one was (else checked again)."""
        group = PostingGroup(postings)
        before = {} if after is None else after.changed

        def in_group(aggregate_id: UUID) -> Aggregate | None:
            found = group.changed.get(aggregate_id)
            return None if found is None else deepcopy(found)

        def cached(aggregate_id: UUID) -> Aggregate | None:
            # What the group before leaves is as good as the cache, and no better: read and not
            # changed here, it is not written with this group, and may be out of date by then.
            found = before.get(aggregate_id)
            return self._cached(aggregate_id) if found is None else deepcopy(found)

        for index, (actor, command) in enumerate(postings):
            uow = UnitOfWork(self._find, cached=cached, written_with=in_group)
            # New, as in `post` (the store's primary key decides), unless this process posted
            # it lately: a retry, which taken for new would make the store refuse the group.
            if command.id not in group.changed and not self._seed_new_ids(uow, [command.id]):
                group.alone.append(index)
                continue
            try:
                transaction, created = Posting(uow, actor, self.settings, self.clock()).post(command)
            except Exception:  # noqa: BLE001 - posted alone after the group, which answers it
                group.alone.append(index)
                continue
            if uow.read_unchanged_from_cache():
                group.alone.append(index)
                continue
            for aggregate in uow.changed():
                group.events.extend(aggregate.collect_events())
                group.changed[aggregate.id] = aggregate
            group.checked.append((index, transaction, created))
        group.stored = [self.mapper.to_stored_event(event) for event in group.events]
        return group

    def write_group(self, group: PostingGroup) -> list[int] | None:
        """The positions of the group's events, written in one store transaction; None if the
        store refused them (a conflict: another writer changed one of the group's aggregates).
        Raises UnavailableError when the store is down."""
        if not group.stored:
            return []
        try:
            return self._write(group.stored)
        except IntegrityError:
            return None

    def settle_group(
        self, group: PostingGroup, positions: list[int] | None, answer: Callable[[dict[int, Posted | Exception]], None]
    ) -> list[int]:
        """Answers each posting of a group `write_group` wrote (`positions`); answers the
        indices of those left to post alone, by `post` (all of them if the store refused the
        group: `positions` None)."""
        if positions is None:
            return sorted(group.alone + [index for index, _, _ in group.checked])
        saved = self._saved(list(group.changed.values()), group.events, positions)
        if group.checked:
            answer({
                index: Posted(t, created, saved.first_of(t.id) or self.position_of(t.id))
                for index, t, created in group.checked
            })
        return group.alone

    def _seed_new_ids(self, uow: UnitOfWork, ids: list[UUID]) -> set[UUID]:
        """The transaction ids taken to be new, marked so in the unit of work (sparing a look-up
        each): in an optimistic attempt all of them but those this process posted lately (a
        client's retry, looked up rather than refused), for the store's primary key decides (a
        replay of one posted elsewhere meets a conflict or a rule failure, and the careful
        attempt after it looks the ids up); in a careful attempt, those the store does not hold."""
        if uow.optimistic:
            absent = {id for id in ids if id not in self._posted_here}
        else:
            absent = set(ids) - self._guard(lambda: stored_ids(self.recorder, ids))
        uow.seed_absent(absent)
        return absent

    def _retry_if_posted_meanwhile(self, error: LedgerError, absent: set[UUID]) -> None:
        """A rule failure may be caused by one of these very transactions, committed by a
        racing retry after the ids were looked up (its service record now overlaps, its
        minutes are spent). Then the use case runs again, sees the stored transaction and
        answers it: a replay is never told that it conflicts with itself."""
        if isinstance(error, (ForbiddenError, UnauthorizedError)) or not absent:
            return
        if self._guard(lambda: stored_ids(self.recorder, list(absent))):
            raise PostedMeanwhile

    # Certificates ----------------------------------------------------------------------

    def issue_certificate(
        self, actor: Actor, volunteer_id: UUID, period_from: date | None = None, period_to: date | None = None
    ) -> Registered:
        """Certifies a volunteer's unreversed service whose local day (HOUR_LEDGER_TIMEZONE) of
        starting falls in the period: by default from the first such record to today.

        Raises NotFoundError (no such volunteer), ForbiddenError (not an operator or admin,
        or outside the key's region) and ValidationError (a period that ends before it starts
        or in the future)."""
        actor.may_write()
        volunteer = self.get_volunteer(volunteer_id)
        actor.require_region(volunteer.region_code, Thing("volunteer", volunteer_id))
        zone = self.settings.zone
        today = self.clock().astimezone(zone).date()
        last = period_to or today
        if last > today:
            raise ValidationError("period_to", "not_after_today", today=today)
        if period_from is not None and period_from > last:
            raise ValidationError("period_from", "not_after", other="period_to")
        counted: list[tuple[date, Transaction]] = []
        for started_us, _, transaction_id in volunteer.periods():
            day = (EPOCH + timedelta(microseconds=started_us)).astimezone(zone).date()
            if (period_from is None or day >= period_from) and day <= last:
                counted.append((day, self.get_transaction(UUID(transaction_id))))
        first = period_from or (counted[0][0] if counted else last)
        minutes_by_org: dict[str, int] = {}
        categories: list[str] = []
        for _, record in counted:
            org_id = str(record.content["organization_id"])
            minutes_by_org[org_id] = minutes_by_org.get(org_id, 0) + service_minutes_of(record, volunteer_id)
            if record.content["category"] not in categories:
                categories.append(record.content["category"])
        organizations = [
            {"id": org_id, "name": self.get_organization(UUID(org_id)).name, "service_minutes": minutes}
            for org_id, minutes in minutes_by_org.items()
        ]
        for _ in range(3):
            code = new_certificate_code()
            certificate = Certificate(
                id=certificate_id(code),
                code=code,
                volunteer_id=volunteer_id,
                volunteer_name=volunteer.name,
                region_code=volunteer.region_code,
                period_from=first.isoformat(),
                period_to=last.isoformat(),
                service_minutes=sum(minutes_by_org.values()),
                record_count=len(counted),
                categories=categories,
                organizations=organizations,
                star_level=volunteer.star_level(self.settings.star_thresholds_minutes),
                record_ids=[str(record.id) for _, record in counted],
                posted_by=actor.posted_by,
            )
            try:
                return Registered(certificate, True, self._save([certificate]).last)
            except IntegrityError:
                continue  # 60 random bits met an existing code: draw again
        raise UnavailableError("certificate_code_draw")  # pragma: no cover

    def regions_of_thing(self, aggregate_id: UUID) -> list[str] | None:
        """The regions an aggregate belongs to (a region-scoped reader must cover each of them);
        None for what belongs to no region (API keys, the community pool) or does not exist.
        Raises no domain error."""
        found = self._find(aggregate_id)
        if isinstance(found, (Volunteer, Organization, ExchangePoint, Certificate)):
            return [found.region_code]
        if isinstance(found, TimebankAccount):
            return [self.volunteer_region(found.volunteer_id)]
        if isinstance(found, Transaction):
            return [region for _, region in self.regions_of(found)]
        return None

    def find_certificate(self, code: str) -> Certificate | None:
        """The certificate with this code, or None. Raises no domain error."""
        found = self._find(certificate_id(code))
        return found if isinstance(found, Certificate) else None

    def reversed_records(self, certificate: Certificate) -> list[UUID]:
        """The records a certificate counted that have been reversed since it was issued.
        Raises no domain error (the records a certificate names exist)."""
        return [
            record.id
            for record in (self.get_transaction(UUID(i)) for i in certificate.record_ids)
            if record.reversed_by is not None
        ]

    # Reading ---------------------------------------------------------------------------

    def get_transaction(self, transaction_id: UUID) -> Transaction:
        """Raises NotFoundError (no such transaction)."""
        return self._get(Transaction, transaction_id, "transaction")

    def get_volunteer(self, volunteer_id: UUID) -> Volunteer:
        """Raises NotFoundError (no such volunteer)."""
        return self._get(Volunteer, volunteer_id, "volunteer")

    def get_organization(self, organization_id: UUID) -> Organization:
        """Raises NotFoundError (no such organization)."""
        return self._get(Organization, organization_id, "organization")

    def get_exchange_point(self, exchange_point_id: UUID) -> ExchangePoint:
        """Raises NotFoundError (no such exchange point)."""
        return self._get(ExchangePoint, exchange_point_id, "exchange point")

    def volunteer_region(self, volunteer_id: UUID) -> str:
        """A volunteer's region code. It never changes after registration, so it is
        remembered: permission checks on reads then cost no store round trip. Raises
        NotFoundError (no such volunteer)."""
        try:
            return self._regions.get(volunteer_id)
        except KeyError:
            pass
        first = self._guard(lambda: list(self.events.get(volunteer_id, lte=Volunteer.INITIAL_VERSION)))
        if not first or not isinstance(first[0], Volunteer.Registered):
            raise NotFoundError("thing_not_found", thing=Thing("volunteer", volunteer_id))
        self._regions.put(volunteer_id, first[0].region_code)
        return first[0].region_code

    def find_timebank(self, volunteer_id: UUID) -> TimebankAccount | None:
        """The volunteer's time-bank account, or None when none is open. Raises no domain error."""
        found = self._find(TimebankAccount.id_for(volunteer_id))
        return found if isinstance(found, TimebankAccount) else None

    def pool_balance_minutes(self) -> int:
        """The community pool's balance (0 before anything reached it). Raises no domain error."""
        pool = self._find(POOL_ID)
        return pool.balance_minutes if isinstance(pool, CommunityPool) else 0

    def balance(self, volunteer_id: UUID) -> Balance:
        """What the volunteer has earned, redeemed and holds. Raises NotFoundError (no such volunteer)."""
        volunteer = self.get_volunteer(volunteer_id)
        account = self.find_timebank(volunteer_id)
        return Balance(
            earned_minutes=volunteer.earned_minutes,
            redeemed_minutes=volunteer.redeemed_minutes,
            available_minutes=volunteer.available_minutes,
            star_level=volunteer.star_level(self.settings.star_thresholds_minutes),
            timebank_open=account is not None,
            timebank_balance_minutes=account.balance_minutes if account else 0,
        )

    def volunteer_events(self, volunteer_id: UUID) -> list[Any]:
        """The volunteer's own domain events and those of their time-bank account, in the order
        they were recorded: what an auditor replays. Raises NotFoundError (no such volunteer)."""
        self.get_volunteer(volunteer_id)
        streams = [volunteer_id, TimebankAccount.id_for(volunteer_id)]
        events = self._guard(lambda: [e for stream in streams for e in self.events.get(stream)])
        return sorted(events, key=lambda e: (e.timestamp, e.originator_id == volunteer_id))

    def regions_of(self, transaction: Transaction) -> list[tuple[Thing, str]]:
        """What a transaction touches and where: a region-scoped reader must cover all of it.
        Raises no domain error (what a stored transaction names exists)."""
        uow = UnitOfWork(self._find)
        if transaction.reverses is not None:
            transaction = uow.get(Transaction, transaction.reverses, "transaction")
        return regions_involved(uow, transaction.content)

    def position_of(self, aggregate_id: UUID, version: int = 1) -> int | None:
        """Where an aggregate's event stands in the global log (its creation, by default), or
        None where there is no such event. Raises no domain error."""
        return self._guard(lambda: event_position(self.recorder, aggregate_id, version))

    def head_position(self) -> int:
        """The position of the newest event in the global log (0 when empty). Raises no domain error."""
        return self._guard(lambda: self.recorder.max_notification_id() or 0)

    # Machinery -------------------------------------------------------------------------

    def _find(self, aggregate_id: UUID) -> Aggregate | None:
        def load() -> Aggregate | None:
            try:
                return self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None

        return self._guard(load)

    def _get(self, cls: type[T], aggregate_id: UUID, what: str) -> T:
        return UnitOfWork(self._find).get(cls, aggregate_id, what)  # type: ignore[type-var]

    def _register(self, actor: Actor, cls: type[Aggregate], id: UUID | None, wanted: dict[str, Any]) -> Registered:
        """Creates a thing; a repeated client-chosen id answers the existing thing if it is the same."""
        new_id = id or uuid4()
        for _ in range(2):
            existing = self._find(new_id) if id else None
            if existing is not None:
                if isinstance(existing, cls) and existing.registration() == wanted:  # type: ignore[attr-defined]
                    return Registered(existing, False, self.position_of(existing.id))
                raise TransactionIdConflictError("id_taken", id=new_id)
            aggregate = cls(id=new_id, posted_by=actor.posted_by, **wanted)
            try:
                return Registered(aggregate, True, self._save([aggregate]).last)
            except IntegrityError:
                if id is None:
                    raise
                continue  # another request created it meanwhile: compare with that
        raise UnavailableError("register_refused")  # pragma: no cover

    def _run(
        self, work: Callable[[UnitOfWork], T], save_if: Callable[[T], bool] = lambda _: True
    ) -> tuple[T, Saved]:
        """Runs a use case against fresh aggregates and saves what changed, all or nothing.

        The first attempt is optimistic: it takes aggregates from this process's cache as they
        were last saved or read here, without asking the store for newer events, and assumes
        new ids are new. Whatever that gets wrong cannot be saved: a newer event or a taken id
        makes the save a conflict. So a conflict, a rule's refusal, or a read of an aggregate
        it did not change (which no conflict would catch) sends the use case round again,
        carefully: every aggregate brought up to date from the store, ids looked up. A version
        conflict then means another writer changed one of the aggregates meanwhile: the use
        case runs again on the new state, a bounded number of times.
        """
        for attempt in range(MAX_ATTEMPTS):
            uow = UnitOfWork(self._find, cached=self._cached if attempt == 0 else None)
            try:
                result = work(uow)
            except PostedMeanwhile:
                continue
            except LedgerError:
                if uow.optimistic:
                    continue
                raise
            changed = uow.changed() if save_if(result) else []
            if uow.optimistic and uow.read_unchanged_from_cache():
                continue
            if not changed:
                return result, Saved({})
            try:
                return result, self._save(changed)
            except IntegrityError:
                if attempt > 0:
                    time.sleep(random.uniform(0, 0.002 * attempt))
        raise UnavailableError("contention")

    def _cached(self, aggregate_id: UUID) -> Aggregate | None:
        """A copy of the aggregate as this process last saved or read it; None if not cached."""
        cached = self._in_cache(aggregate_id)
        return None if cached is None else deepcopy(cached)

    def _in_cache(self, aggregate_id: UUID) -> Aggregate | None:
        cache = self.repository.cache
        try:
            return cache.get(aggregate_id) if cache is not None else None
        except KeyError:
            return None

    def _save(self, aggregates: list[Aggregate]) -> Saved:
        """Stores the aggregates' new events in one transaction, shared with the saves of other
        threads of this process that arrive meanwhile (ledger/group_commit.py)."""
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        positions = self._write([self.mapper.to_stored_event(event) for event in events])
        return self._saved(aggregates, events, positions)

    def _write(self, stored: list[StoredEvent]) -> list[int]:
        """The stored events' positions, once committed; IntegrityError on a conflict."""
        return self._guard(lambda: self.group_commit.save(stored), reraise=(IntegrityError,))

    def _saved(self, aggregates: list[Aggregate], events: list[Any], positions: list[int]) -> Saved:
        """After the aggregates' `events` were written at `positions`: remembered, snapshotted
        when due, announced to the followers; where each aggregate's first new event went."""
        first: dict[UUID, int] = {}
        for event, position in zip(events, positions):
            first.setdefault(event.originator_id, position)
        self._remember(aggregates)
        for aggregate in aggregates:
            if isinstance(aggregate, Transaction) and aggregate.version == 1:
                self._posted_here.add(aggregate.id)
        self._snapshot_if_due(aggregates, events)
        if positions:
            self._announce(max(positions))
        return Saved(first)

    def _remember(self, aggregates: list[Aggregate]) -> None:
        """Keeps what this process saved in the cache, so that its next command on the same
        aggregate needs no query. Transactions and certificates are records written once and
        rarely read again: they would only push volunteers out of the cache."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate in aggregates:
            if isinstance(aggregate, (Transaction, Certificate)):
                continue
            cached = self._in_cache(aggregate.id)
            if cached is None or cached.version < aggregate.version:
                # A read's fast-forward changes the cached object in place: the caller keeps
                # its own, unless every value in it is immutable anyway.
                cache.put(aggregate.id, aggregate if isinstance(aggregate, ImmutableState) else deepcopy(aggregate))

    def _snapshot_if_due(self, aggregates: list[Aggregate], events: list[Any]) -> None:
        """A snapshot of each aggregate whose new events passed a multiple of its interval: one
        per save, of the state the save stored (a batch may pass several multiples at once)."""
        if self.snapshots is None:
            return
        new_events = Counter(event.originator_id for event in events)
        due = []
        for aggregate in aggregates:
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval and isinstance(aggregate, Volunteer):
                interval = aggregate.snapshot_interval(interval)
            before = aggregate.version - new_events[aggregate.id]
            if interval and aggregate.version // interval > before // interval:
                snapshot_class = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
                due.append(snapshot_class.take(aggregate))
        if due:  # one write for all of them: a batch of 1,000 postings passes a dozen multiples
            self._guard(lambda: self.snapshots.put(due))  # type: ignore[union-attr]

    def _guard(self, call: Callable[[], T], reraise: tuple[type[Exception], ...] = ()) -> T:
        return self.store_health.guard(call, reraise)


def _check_newcomer(actor: Actor, name: str, region_code: str, what: Thing) -> None:
    """What registering any thing asks: a key that writes, a name, a region in its scope."""
    actor.may_write()
    check_name(name)
    actor.require_region(check_region_code(region_code), what)


def open_ledger(settings: LedgerSettings, **eventsourcing: str) -> HourLedger:
    """The ledger on the settings' store, with eventsourcing's `eventsourcing` options on top.
    Raises DatabaseUrlError or StoreUnreachableError (one line naming the problem) instead of
    failing later on a pool time-out."""
    env = persistence_env(settings.database_url)
    check_reachable(env)
    return HourLedger(env={**env, **eventsourcing}, settings=settings)
