"""An issuing organisation (civilisation office, civil-affairs bureau, volunteer organisation)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.immutable_state import NeverChanges
from ledger.vocabulary import PostedBy


class Organization(NeverChanges, Aggregate):
    @event("Registered")
    def __init__(self, id: UUID, name: str, region_code: str, posted_by: PostedBy) -> None:
        self.name = name
        self.region_code = region_code

    def registration(self) -> dict[str, Any]:
        """What the client chose when registering: compared on a repeated create."""
        return {"name": self.name, "region_code": self.region_code}
