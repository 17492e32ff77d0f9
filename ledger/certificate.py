"""A certificate of volunteer service (志愿服务记录证明): what was certified for whom, issued
once and never changed. Issuing is itself an event of the log, so the audit tree proves it.

What it counts is decided by `certify` from the volunteer's unreversed service records in
the period; the aggregate only keeps the outcome (and the records it counted, so that a
later reversal of one of them can be reported)."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.immutable_state import NeverChanges
from ledger.vocabulary import PostedBy

# Crockford's base 32 (no I, L, O, U): 12 symbols are 60 random bits, and a code typed from
# paper is read leniently (O as 0, I and L as 1, any case).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_certificate_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def read_certificate_code(text: str) -> str | None:
    """The code a person typed, normalised; None if it cannot be one."""
    code = text.strip().replace("-", "").upper().translate(_READ_AS)
    if len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code):
        return code
    return None


def certificate_id(code: str) -> UUID:
    """The aggregate id of a code: a certificate is found by its code in one load."""
    return uuid5(NAMESPACE_URL, f"hour-ledger:certificate:{code}")


class Certificate(NeverChanges, Aggregate):
    @event("Issued")
    def __init__(
        self,
        id: UUID,
        code: str,
        volunteer_id: UUID,
        volunteer_name: str,
        region_code: str,
        period_from: str,
        period_to: str,
        service_minutes: int,
        record_count: int,
        categories: list[str],
        organizations: list[dict[str, Any]],
        star_level: int,
        record_ids: list[str],
        posted_by: PostedBy,
    ) -> None:
        self.code = code
        self.volunteer_id = volunteer_id
        self.volunteer_name = volunteer_name
        self.region_code = region_code
        self.period_from = period_from
        self.period_to = period_to
        self.service_minutes = service_minutes
        self.record_count = record_count
        self.categories = categories
        self.organizations = organizations
        self.star_level = star_level
        self.record_ids = record_ids
        self.posted_by = posted_by


def mask_name(name: str) -> str:
    """王秀英 → 王*英, 王芳 → 王*, Alice Wang → A*g: enough for whoever holds the paper to
    recognise it, not enough to learn a stranger's name from a code."""
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
