"""API keys: who may act, as what, where. Issuing and revoking are events, so auditors see who
could act when. Only a hash of the secret is stored; the secret names its key's id, so
authenticating is one aggregate read and a constant-time comparison."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.actors import Actor, Role
from ledger.vocabulary import PostedBy

SECRET_PREFIX = "hl_"
REGISTRY_ID = uuid5(NAMESPACE_URL, "hour-ledger:api-key-registry")


def new_secret(key_id: UUID) -> str:
    return f"{SECRET_PREFIX}{key_id.hex}_{secrets.token_urlsafe(32)}"


def key_id_of(secret: str) -> UUID | None:
    """The key id a secret names, or None when it is not shaped like one of ours."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    head, _, rest = secret[len(SECRET_PREFIX):].partition("_")
    if not rest:
        return None
    try:
        return UUID(hex=head)
    except ValueError:
        return None


def hash_secret(secret: str) -> str:
    # The secret carries 256 random bits, so a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(Aggregate):
    @event("Issued")
    def __init__(
        self,
        id: UUID,
        role: str,
        name: str,
        region_prefix: str | None,
        exchange_point_id: UUID | None,
        secret_hash: str,
        posted_by: PostedBy,
    ) -> None:
        self.role = role
        self.name = name
        self.region_prefix = region_prefix
        self.exchange_point_id = exchange_point_id
        self.secret_hash = secret_hash
        self.revoked = False

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))

    @event("Revoked")
    def revoke(self, posted_by: PostedBy) -> None:
        self.revoked = True

    @property
    def created_at(self) -> datetime:
        return self.created_on

    @property
    def revoked_at(self) -> datetime | None:
        # A key is revoked once and nothing happens to it afterwards: its revocation is its
        # last event, whose time is the aggregate's `modified_on`.
        return self.modified_on if self.revoked else None

    def actor(self) -> Actor:
        return Actor(
            key_id=self.id,
            name=self.name,
            role=Role(self.role),
            region_prefix=self.region_prefix,
            exchange_point_id=self.exchange_point_id,
        )


class ApiKeyRegistry(Aggregate):
    """Every key ever issued, so that a service can tell it has none yet and create the first
    admin key exactly once, even when several processes start together."""

    @event("Started")
    def __init__(self, id: UUID) -> None:
        self.key_ids: list[UUID] = []

    @event("KeyAdded")
    def add(self, key_id: UUID) -> None:
        self.key_ids.append(key_id)
