"""Request bodies of SPEC §3 as pydantic models: unknown fields, wrong types and out-of-range
values are refused here with a 422 naming the field, before the ledger sees anything."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic_core import PydanticCustomError

from api.local_time import LocalTime, WithLocalTimes
from ledger.actors import Role
from ledger.commands import COMMAND_TYPES, Command, RedemptionLine
from ledger.vocabulary import (
    MAX_MINUTES,
    MAX_NAME,
    MAX_QUANTITY,
    MAX_REDEMPTION_LINES,
    MAX_SHORT_TEXT,
    MAX_SKU,
    MAX_STOCK,
    MAX_TEXT,
    SKU_PATTERN,
    STAR_LEVELS,
    TransactionType,
)


def _text_only(value: Any) -> Any:
    # pydantic would read a bare number as a Unix time; SPEC wants RFC 3339 with a zone.
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp_text", "must be an RFC 3339 timestamp string with a zone")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_text_only)]
Minutes = Annotated[StrictInt, Field(ge=1, le=MAX_MINUTES)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=MAX_NAME)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT)]
ShortText = Annotated[StrictStr, Field(min_length=1, max_length=MAX_SHORT_TEXT)]
Sku = Annotated[StrictStr, Field(min_length=1, max_length=MAX_SKU, pattern=SKU_PATTERN)]
RegionCode = Annotated[
    StrictStr, Field(pattern=r"^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$", examples=["320830"])
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganizationIn(Body):
    name: Name
    region_code: RegionCode
    id: UUID | None = None


class VolunteerIn(Body):
    name: Name
    region_code: RegionCode
    organization_id: UUID | None = None
    birth_year: Annotated[StrictInt, Field(ge=1900, le=2100)] | None = None
    id_number: Annotated[StrictStr, Field(min_length=6, max_length=32)] | None = None
    id: UUID | None = None


class ExchangePointIn(Body):
    name: Name
    region_code: RegionCode
    id: UUID | None = None


class ItemIn(Body):
    name: Name
    price_minutes: Annotated[StrictInt, Field(ge=0, le=MAX_MINUTES)]
    stock: Annotated[StrictInt, Field(ge=0, le=MAX_STOCK)]
    min_star: Annotated[StrictInt, Field(ge=0, le=max(STAR_LEVELS))] = 0


class ApiKeyIn(Body):
    role: Role
    name: Name
    region_code: RegionCode | None = None
    exchange_point_id: UUID | None = None


class CertificateIn(Body):
    """The period a certificate covers, as local days (by default: from the first record to today)."""

    period_from: date | None = None
    period_to: date | None = None


# Transactions ------------------------------------------------------------------------


class TransactionBody(Body):
    id: UUID

    def command(self) -> Command:
        """The ledger's command for this body (the ledger checks the rules that span fields)."""
        fields = self.model_dump(exclude={"type"})
        if "items" in fields:
            fields["items"] = tuple(RedemptionLine(**line) for line in fields["items"])
        return COMMAND_TYPES[self.type](**fields)  # type: ignore[attr-defined]


class ServiceRecordIn(TransactionBody):
    type: Literal[TransactionType.SERVICE_RECORD]
    volunteer_id: UUID
    organization_id: UUID
    category: ShortText
    started_at: Timestamp
    ended_at: Timestamp
    activity: Text | None = None


class TimebankDepositIn(TransactionBody):
    type: Literal[TransactionType.TIMEBANK_DEPOSIT]
    volunteer_id: UUID
    organization_id: UUID
    minutes: Minutes
    served_at: Timestamp
    beneficiary_id: UUID | None = None


class TimebankWithdrawalIn(TransactionBody):
    type: Literal[TransactionType.TIMEBANK_WITHDRAWAL]
    volunteer_id: UUID
    minutes: Minutes
    beneficiary_id: UUID | None = None
    note: Text | None = None


class TimebankTransferIn(TransactionBody):
    type: Literal[TransactionType.TIMEBANK_TRANSFER]
    from_volunteer_id: UUID
    to_volunteer_id: UUID
    minutes: Minutes
    relation: ShortText | None = None


class TimebankDonationIn(TransactionBody):
    type: Literal[TransactionType.TIMEBANK_DONATION]
    volunteer_id: UUID
    minutes: Minutes


class TimebankGrantIn(TransactionBody):
    type: Literal[TransactionType.TIMEBANK_GRANT]
    volunteer_id: UUID
    minutes: Minutes
    reason: Text


class RedemptionLineIn(Body):
    sku: Sku
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]


class RedemptionIn(TransactionBody):
    type: Literal[TransactionType.REDEMPTION]
    exchange_point_id: UUID
    volunteer_id: UUID
    items: Annotated[list[RedemptionLineIn], Field(min_length=1, max_length=MAX_REDEMPTION_LINES)]


class ReversalIn(TransactionBody):
    type: Literal[TransactionType.REVERSAL]
    reverses: UUID
    reason: Text


TransactionIn = Annotated[
    Union[
        ServiceRecordIn,
        TimebankDepositIn,
        TimebankWithdrawalIn,
        TimebankTransferIn,
        TimebankDonationIn,
        TimebankGrantIn,
        RedemptionIn,
        ReversalIn,
    ],
    Field(discriminator="type"),
]

MAX_BATCH = 1000


class BatchIn(Body):
    # Items are validated one by one, so that one bad item answers its own 422.
    transactions: Annotated[list[Any], Field(min_length=1, max_length=MAX_BATCH)]
    atomic: StrictBool = False


# Responses ---------------------------------------------------------------------------


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None


class Leg(BaseModel):
    account: str
    minutes: int


class PostedBy(BaseModel):
    key_id: UUID | None
    name: str


class TransactionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: UUID
    type: str
    legs: list[Leg]
    minutes: int
    posted_at: LocalTime
    posted_by: PostedBy
    position: int | None
    reversed_by: UUID | None
    pickup_code: str | None = None
    # The client's own times, as they were posted (each type has some of them).
    started_at: LocalTime | None = None
    ended_at: LocalTime | None = None
    served_at: LocalTime | None = None


class BatchItemOut(BaseModel):
    status: int
    transaction: TransactionOut | None = None
    error: Problem | None = None


class BatchOut(BaseModel):
    results: list[BatchItemOut]


class OrganizationOut(BaseModel):
    id: UUID
    name: str
    region_code: str
    registered_at: LocalTime


class ServiceBook(BaseModel):
    earned_minutes: int
    redeemed_minutes: int
    available_minutes: int
    star_level: int


class TimebankBook(BaseModel):
    open: bool
    balance_minutes: int


class BalanceOut(BaseModel):
    service: ServiceBook
    timebank: TimebankBook
    as_of: LocalTime


class VolunteerOut(BaseModel):
    id: UUID
    name: str
    region_code: str
    organization_id: UUID | None
    birth_year: int | None
    has_id_number: bool
    registered_at: LocalTime
    star_level: int
    service: ServiceBook
    timebank: TimebankBook


class TimebankOut(BaseModel):
    volunteer_id: UUID
    open: bool
    balance_minutes: int
    opened_at: LocalTime
    position: int | None


class ItemOut(BaseModel):
    sku: str
    name: str
    price_minutes: int
    stock: int
    min_star: int


class ExchangePointOut(BaseModel):
    id: UUID
    name: str
    region_code: str
    registered_at: LocalTime
    items: list[ItemOut]


class ApiKeyOut(BaseModel):
    id: UUID
    role: Role
    name: str
    region_code: str | None
    exchange_point_id: UUID | None
    revoked: bool
    created_at: LocalTime
    revoked_at: LocalTime | None
    secret: str | None = None


class ApiKeyListed(BaseModel):
    """A key in the admin's list: never its secret."""

    id: UUID
    role: Role
    name: str
    region_code: str | None
    exchange_point_id: UUID | None
    revoked: bool
    created_at: LocalTime
    revoked_at: LocalTime | None


# Lists (SPEC §7): a page of items and the cursor of the next page (null on the last).


class VolunteerPage(BaseModel):
    items: list[VolunteerOut]
    next_cursor: str | None


class OrganizationPage(BaseModel):
    items: list[OrganizationOut]
    next_cursor: str | None


class ExchangePointPage(BaseModel):
    items: list[ExchangePointOut]
    next_cursor: str | None


class ApiKeyPage(BaseModel):
    items: list[ApiKeyListed]
    next_cursor: str | None


class TransactionPage(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None


class StatementEntry(BaseModel):
    transaction_id: UUID
    type: str
    minutes: int
    balance_after_minutes: int
    recorded_at: LocalTime


class StatementOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    opening_minutes: int
    entries: list[StatementEntry]
    closing_minutes: int
    next_cursor: str | None


class Figures(BaseModel):
    model_config = ConfigDict(extra="allow")
    volunteers: int
    active_volunteers: int
    service_records: int
    service_minutes: int
    redemptions: int
    redeemed_minutes: int
    timebank_accounts: int
    timebank_deposited_minutes: int
    timebank_withdrawn_minutes: int
    beneficiaries: int
    stars: dict[str, int]


class SummaryOut(Figures):
    pass


class Group(Figures):
    key: str
    name: str


class BreakdownOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    by: str
    groups: list[Group]


class DomainEventOut(BaseModel):
    originator_id: UUID
    originator_version: int
    type: str
    recorded_at: LocalTime
    posted_by: PostedBy | None
    data: WithLocalTimes


class Health(BaseModel):
    status: str


class CheckpointOut(BaseModel):
    tree_size: int
    root_hash: str
    signed_at: LocalTime
    note: str


class CheckpointsOut(BaseModel):
    checkpoints: list[CheckpointOut]
    next: int | None


class InclusionProofOut(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    hashes: list[str]


class ConsistencyProofOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: int = Field(alias="from")
    to: int
    hashes: list[str]


class AuditLogOut(BaseModel):
    # The canonical records exactly as hashed (`recorded_at` in UTC): not converted to local time.
    events: list[dict[str, Any]]
    next: int | None


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    tree_size: int
    root_hash: str
    first_bad_position: int | None
    problem: str | None
