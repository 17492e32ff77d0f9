"""The transaction types of SPEC §3 as commands: what a client asks, checked for shape on creation.

A command's `content()` is its canonical form: the same request sent twice (even with
timestamps in another zone) has the same content, which is how a retried transaction id is
told apart from a conflicting one.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any, ClassVar
from uuid import UUID

from ledger.errors import ValidationError
from ledger.vocabulary import (
    MAX_MINUTES,
    MAX_QUANTITY,
    MAX_REDEMPTION_LINES,
    MAX_SERVICE_MINUTES,
    MAX_SKU,
    MAX_TEXT,
    TransactionType,
)


def _positive_minutes(field: str, minutes: int) -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise ValidationError(field, "minutes_whole")
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValidationError(field, "minutes_range", max=MAX_MINUTES)


def _aware(field: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(field, "timestamp_zone")


def _text(field: str, value: str | None, required: bool = False) -> None:
    if value is None:
        if required:
            raise ValidationError(field, "required")
        return
    if required and not value.strip():
        raise ValidationError(field, "not_empty")
    if len(value) > MAX_TEXT:
        raise ValidationError(field, "too_long", max=MAX_TEXT)


def canonical(value: Any) -> Any:
    """`value` as plain JSON values: times in UTC as ISO text, ids as text, lines as objects."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if kind is UUID:
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {name: canonical(getattr(value, name)) for name in _field_names(type(value))}
    return value


def _field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, in order: asked for every command, worked out once a class."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _fingerprint_text() -> Callable[[dict[str, Any]], str]:
    """json.dumps(content, sort_keys=True, ensure_ascii=False), by json's C encoder made once:
    `JSONEncoder.encode` makes one for each call. No check for cycles: content is a tree."""
    encoder = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
    make = json.encoder.c_make_encoder
    if make is None:  # a Python without json's C accelerator
        return encoder.encode
    chunks = make(
        None, encoder.default, json.encoder.encode_basestring, None, encoder.key_separator, encoder.item_separator,
        True, False, True,
    )
    return lambda content: "".join(chunks(content, 0))


_FINGERPRINT_TEXT = _fingerprint_text()


@dataclass(frozen=True)
class Command:
    type: ClassVar[str]
    id: UUID

    def content(self) -> dict[str, Any]:
        """Everything the client asked but the id, canonicalised (a new dict each call)."""
        return dict(self._canonical()[0])

    def fingerprint(self) -> str:
        return self._canonical()[1]

    def _canonical(self) -> tuple[dict[str, Any], str]:
        # A posting asks for both several times, and a command never changes: worked out once.
        known = self.__dict__.get("_canonical_form")
        if known is None:
            content: dict[str, Any] = {"type": self.type}
            for name in _field_names(type(self)):
                if name != "id":
                    content[name] = canonical(getattr(self, name))
            text = _FINGERPRINT_TEXT(content)
            known = (content, hashlib.sha256(text.encode()).hexdigest())
            object.__setattr__(self, "_canonical_form", known)
        return known


@dataclass(frozen=True)
class RecordService(Command):
    type: ClassVar[str] = TransactionType.SERVICE_RECORD.value
    volunteer_id: UUID
    organization_id: UUID
    category: str
    started_at: datetime
    ended_at: datetime
    activity: str | None = None

    def __post_init__(self) -> None:
        _text("category", self.category, required=True)
        _text("activity", self.activity)
        _aware("started_at", self.started_at)
        _aware("ended_at", self.ended_at)
        if not 1 <= self.minutes <= MAX_SERVICE_MINUTES:
            raise ValidationError("ended_at", "service_length")

    @property
    def minutes(self) -> int:
        return int((self.ended_at - self.started_at).total_seconds() // 60)


@dataclass(frozen=True)
class DepositTimebank(Command):
    type: ClassVar[str] = TransactionType.TIMEBANK_DEPOSIT.value
    volunteer_id: UUID
    organization_id: UUID
    minutes: int
    served_at: datetime
    beneficiary_id: UUID | None = None

    def __post_init__(self) -> None:
        _positive_minutes("minutes", self.minutes)
        _aware("served_at", self.served_at)


@dataclass(frozen=True)
class WithdrawTimebank(Command):
    type: ClassVar[str] = TransactionType.TIMEBANK_WITHDRAWAL.value
    volunteer_id: UUID
    minutes: int
    beneficiary_id: UUID | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        _positive_minutes("minutes", self.minutes)
        _text("note", self.note)


@dataclass(frozen=True)
class TransferTimebank(Command):
    type: ClassVar[str] = TransactionType.TIMEBANK_TRANSFER.value
    from_volunteer_id: UUID
    to_volunteer_id: UUID
    minutes: int
    relation: str | None = None

    def __post_init__(self) -> None:
        _positive_minutes("minutes", self.minutes)
        _text("relation", self.relation)
        if self.from_volunteer_id == self.to_volunteer_id:
            raise ValidationError("to_volunteer_id", "transfer_to_self")


@dataclass(frozen=True)
class DonateTimebank(Command):
    type: ClassVar[str] = TransactionType.TIMEBANK_DONATION.value
    volunteer_id: UUID
    minutes: int

    def __post_init__(self) -> None:
        _positive_minutes("minutes", self.minutes)


@dataclass(frozen=True)
class GrantTimebank(Command):
    type: ClassVar[str] = TransactionType.TIMEBANK_GRANT.value
    volunteer_id: UUID
    minutes: int
    reason: str

    def __post_init__(self) -> None:
        _positive_minutes("minutes", self.minutes)
        _text("reason", self.reason, required=True)


@dataclass(frozen=True)
class RedemptionLine:
    sku: str
    quantity: int

    def __post_init__(self) -> None:
        if not self.sku or len(self.sku) > MAX_SKU:
            raise ValidationError("items.sku", "sku_shape")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or not 1 <= self.quantity <= MAX_QUANTITY:
            raise ValidationError("items.quantity", "whole_range", low=1, high=MAX_QUANTITY)


@dataclass(frozen=True)
class Redeem(Command):
    type: ClassVar[str] = TransactionType.REDEMPTION.value
    exchange_point_id: UUID
    volunteer_id: UUID
    items: tuple[RedemptionLine, ...]

    def __post_init__(self) -> None:
        if not self.items:
            raise ValidationError("items", "items_empty")
        if len(self.items) > MAX_REDEMPTION_LINES:
            raise ValidationError("items", "items_too_many", max=MAX_REDEMPTION_LINES)

    def quantities(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for line in self.items:
            totals[line.sku] = totals.get(line.sku, 0) + line.quantity
        return totals


@dataclass(frozen=True)
class Reverse(Command):
    type: ClassVar[str] = TransactionType.REVERSAL.value
    reverses: UUID
    reason: str

    def __post_init__(self) -> None:
        _text("reason", self.reason, required=True)
        if self.reverses == self.id:
            raise ValidationError("reverses", "reverse_self")


COMMAND_TYPES: dict[str, type[Command]] = {
    cls.type: cls
    for cls in (
        RecordService,
        DepositTimebank,
        WithdrawTimebank,
        TransferTimebank,
        DonateTimebank,
        GrantTimebank,
        Redeem,
        Reverse,
    )
}
