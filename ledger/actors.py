"""Who acts on the ledger: an API key's identity, role and scope, and what each role may do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from uuid import UUID

from ledger.errors import ForbiddenError
from ledger.messages import Thing
from ledger.vocabulary import PostedBy


class Role(str, Enum):
    ADMIN = "admin"
    OPERATOR = "operator"
    EXCHANGE_POINT = "exchange_point"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Actor:
    """The key behind a command. Every recorded event names it (``posted_by``)."""

    key_id: UUID | None
    name: str
    role: Role
    region_prefix: str | None = None
    exchange_point_id: UUID | None = None

    @property
    def posted_by(self) -> PostedBy:
        return {"key_id": str(self.key_id) if self.key_id else None, "name": self.name}

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise ForbiddenError("role_may_not", role=self.role.value, allowed=[r.value for r in roles])

    def require_region(self, region_code: str, what: Thing) -> None:
        if self.region_prefix and not region_code.startswith(self.region_prefix):
            if what.kind == "region":  # the region itself was asked for: say so once
                raise ForbiddenError("region_outside_scope", region=region_code, scope=self.region_prefix)
            raise ForbiddenError("outside_scope", what=what, region=region_code, scope=self.region_prefix)

    def may_write(self) -> None:
        self.require_role(Role.ADMIN, Role.OPERATOR)


# Used by the command line and by tests: acts with every permission.
SYSTEM = Actor(key_id=None, name="system", role=Role.ADMIN)
