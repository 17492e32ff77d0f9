"""The API keys' use cases: issuing, revoking, and authenticating a bearer secret, with the
short memory of keys this process has authenticated (`cache_seconds`,
HOUR_LEDGER_KEY_CACHE_SECONDS) that spares most requests a round trip to the store.

A key revoked through this process is forgotten at once; so it is by every worker of the same
`serve`, which note revocations in one small file they all map (`SharedRevocations`); another
process (the command line, another server) learns of it within `cache_seconds`.

The service loads and saves through the ledger it belongs to (`HourLedger.keys`): its
`run` is the ledger's all-or-nothing use-case runner, its `find` the ledger's guarded load."""

from __future__ import annotations

import hmac
import mmap
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from ledger.actors import SYSTEM, Actor, Role
from ledger.api_key import REGISTRY_ID, ApiKey, ApiKeyRegistry, hash_secret, key_id_of, new_secret
from ledger.errors import UnauthorizedError, ValidationError
from ledger.regions import check_region_code
from ledger.unit_of_work import UnitOfWork
from ledger.vocabulary import check_name

T = TypeVar("T")


class RunUseCase(Protocol):
    """The ledger's runner: `work` against fresh aggregates, what changed saved in one go."""

    def __call__(self, work: Callable[[UnitOfWork], T]) -> tuple[T, Any]: ...


class Revocations(Protocol):
    """Where processes that share a memory of keys note that a key was revoked."""

    def seen(self) -> int:
        """A value that changes whenever a revocation is noted."""

    def note(self) -> None: ...


class LocalRevocations:
    """This process's revocations alone."""

    def __init__(self) -> None:
        self._count = 0

    def seen(self) -> int:
        return self._count

    def note(self) -> None:
        self._count += 1


class SharedRevocations:
    """The revocations of every process that maps one file (the workers of one `serve`)."""

    SIZE = 8

    def __init__(self, path: str) -> None:
        with open(path, "r+b") as file:
            self._map = mmap.mmap(file.fileno(), self.SIZE)

    @classmethod
    def create(cls, path: str) -> None:
        with open(path, "wb") as file:
            file.write(bytes(cls.SIZE))

    def seen(self) -> int:
        return int.from_bytes(self._map[: self.SIZE], "little")

    def note(self) -> None:
        # A new random value rather than a count: two workers noting at once cannot undo
        # each other's change (each reader only asks whether the value moved).
        self._map[: self.SIZE] = secrets.randbits(64).to_bytes(self.SIZE, "little")


class ApiKeys:
    def __init__(
        self,
        run: RunUseCase,
        find: Callable[[UUID], Aggregate | None],
        check_exchange_point: Callable[[UUID], object],
        cache_seconds: float,
        revocations: Revocations | None = None,
    ) -> None:
        self.run = run
        self.find = find
        self.check_exchange_point = check_exchange_point
        # How long this process trusts a key it has authenticated without asking the store
        # again: a key revoked through it stops working at once, through another within this.
        self.cache_seconds = cache_seconds
        # Key id → (secret hash, actor, revocations seen, when checked): see `remembered_actor`.
        self._remembered: dict[UUID, tuple[str, Actor, int, float]] = {}
        self.revocations = revocations or LocalRevocations()

    def issue(
        self,
        actor: Actor,
        role: Role,
        name: str,
        region_prefix: str | None = None,
        exchange_point_id: UUID | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret: the secret is shown once and only its hash is kept.

        Raises ForbiddenError (not an admin), ValidationError (a bad name or region, a scope
        on a role that takes none, an exchange point missing or misplaced) and NotFoundError
        (no such exchange point)."""
        actor.require_role(Role.ADMIN)
        check_name(name)
        if region_prefix is not None:
            if role not in (Role.OPERATOR, Role.AUDITOR):
                raise ValidationError("region_code", "scope_roles_only")
            check_region_code(region_prefix, "region_code")
        if role is Role.EXCHANGE_POINT:
            if exchange_point_id is None:
                raise ValidationError("exchange_point_id", "point_key_needs_point")
            self.check_exchange_point(exchange_point_id)
        elif exchange_point_id is not None:
            raise ValidationError("exchange_point_id", "point_only_for_point_keys")
        issued = self._issue(actor, role, name, region_prefix, exchange_point_id)
        assert issued is not None  # only a first-key bootstrap can decline
        return issued

    def bootstrap_admin(self) -> str | None:
        """With no keys yet, issues an admin key and answers its secret; else None.

        Several processes starting together create exactly one: the registry's version
        decides which. Raises UnavailableError only (the store down, or too much contention)."""
        issued = self._issue(SYSTEM, Role.ADMIN, "first admin", None, None, only_if_first=True)
        return None if issued is None else issued[1]

    def revoke(self, actor: Actor, key_id: UUID) -> ApiKey:
        """Revokes a key, at once for this process and the other workers of its `serve` (see
        `cache_seconds` for other processes); revoking
        a revoked key changes nothing. Raises ForbiddenError (not an admin) and NotFoundError
        (no such key)."""
        actor.require_role(Role.ADMIN)

        def revoke(uow: UnitOfWork) -> ApiKey:
            key = uow.get(ApiKey, key_id, "api key")
            if not key.revoked:
                key.revoke(actor.posted_by)
            return key

        try:
            return self.run(revoke)[0]
        finally:
            # After the save: an authentication that loaded the key before it saw no revocation,
            # and must not be remembered (it read the revocations before this note).
            self.revocations.note()
            self._remembered.pop(key_id, None)

    def authenticate(self, secret: str) -> Actor:
        """The actor behind a bearer secret. Raises UnauthorizedError for unknown, malformed
        and revoked keys alike."""
        actor = self.remembered_actor(secret)
        if actor is not None:
            return actor
        key_id = key_id_of(secret)
        revocations, checked = self.revocations.seen(), time.monotonic()
        key = self.find(key_id) if key_id else None
        if key_id is None or not isinstance(key, ApiKey) or not key.matches(secret) or key.revoked:
            if key_id is not None:
                self._remembered.pop(key_id, None)
            raise UnauthorizedError("unknown_key")
        actor = key.actor()
        self._remembered[key_id] = (key.secret_hash, actor, revocations, checked)
        return actor

    def forget(self) -> None:
        """Drops every remembered key: the next request with each asks the store."""
        self._remembered.clear()

    def remembered_actor(self, secret: str) -> Actor | None:
        """The actor behind a secret this process authenticated less than `cache_seconds`
        ago, with no revocation through this process (or its `serve`'s workers) since; else None. Asks nothing of the
        store (the HTTP layer calls it on its event loop) and raises nothing."""
        key_id = key_id_of(secret)
        found = self._remembered.get(key_id) if key_id is not None else None
        if found is None:
            return None
        secret_hash, actor, revocations, checked = found
        if revocations != self.revocations.seen() or time.monotonic() - checked >= self.cache_seconds:
            return None
        return actor if hmac.compare_digest(secret_hash, hash_secret(secret)) else None

    def _issue(
        self,
        actor: Actor,
        role: Role,
        name: str,
        region_prefix: str | None,
        exchange_point_id: UUID | None,
        only_if_first: bool = False,
    ) -> tuple[ApiKey, str] | None:
        key_id = uuid4()
        secret = new_secret(key_id)

        def issue(uow: UnitOfWork) -> ApiKey | None:
            registry = uow.find(ApiKeyRegistry, REGISTRY_ID)
            if registry is None:
                registry = ApiKeyRegistry(id=REGISTRY_ID)
                uow.add(registry)
            elif only_if_first and registry.key_ids:
                return None
            key = ApiKey(
                id=key_id,
                role=role.value,
                name=name,
                region_prefix=region_prefix,
                exchange_point_id=exchange_point_id,
                secret_hash=hash_secret(secret),
                posted_by=actor.posted_by,
            )
            registry.add(key_id)
            uow.add(key)
            return key

        key, _ = self.run(issue)
        return None if key is None else (key, secret)
