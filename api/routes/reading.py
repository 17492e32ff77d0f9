"""Reading: balances (now and as of any moment), statements, a volunteer's raw events.

Balances and statements come from the read models; `min_position` makes a read wait until
they have caught up with the caller's own last write (SPEC §3, Consistency)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api import views
from api.auth import ActorDep, LedgerDep, ReadModelsDep, require_reader
from api.routes import problems
from api.downloads import DOWNLOADS, FormatQuery, chosen_format, download
from api.problems import request_language
from api.schemas import BalanceOut, DomainEventOut, StatementEntry, StatementOut
from ledger.actors import Role
from ledger.errors import NotFoundError, UnavailableError, ValidationError
from ledger.vocabulary import CHINA_STANDARD_TIME
from ledger.messages import Thing

DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

router = APIRouter(prefix="/v1", tags=["reading"])

STATEMENT_COLUMNS = StatementEntry.model_fields
MAX_PAGE = 1000
MAX_DOWNLOAD = 100_000

MinPosition = Annotated[
    int | None, Query(ge=0, le=2**62, description="Answer only once the read models have read the log up to here")
]
WAIT_SECONDS = 3.0


def caught_up(read_models: Any, ledger: Any, min_position: int | None) -> None:
    """Waits for the read models to reach `min_position` (503 `unavailable` after a short wait).

    Without `min_position`, waits as briefly for the log's head when the request arrived, and
    then answers what the read models hold: a client sees every write that finished before
    its read unless the follower is far behind."""
    if min_position is None:
        read_models.wait_for(ledger.head_position(), WAIT_SECONDS)
        return
    if not read_models.wait_for(min_position, WAIT_SECONDS):
        raise UnavailableError("read_models_behind", position=read_models.position(), wanted=min_position)


def from_read_models(ledger: Any, read_models: Any, volunteer_id: UUID, read: Any) -> Any:
    """A read model's answer for a volunteer the ledger knows; if the follower has not seen the
    registration yet, waits for it to catch up with the log once."""
    answer = read()
    if answer is None:
        ledger.get_volunteer(volunteer_id)  # 404 when the ledger does not know them either
        if not read_models.wait_for(ledger.head_position(), WAIT_SECONDS):
            raise UnavailableError("read_models_catching_up")
        answer = read()
        if answer is None:
            raise NotFoundError("thing_not_found", thing=Thing("volunteer", volunteer_id))
    return answer


@router.get("/volunteers/{volunteer_id}/balance", response_model=BalanceOut, responses=problems(404), operation_id="getBalance")
def get_balance(
    volunteer_id: UUID,
    actor: ActorDep,
    ledger: LedgerDep,
    read_models: ReadModelsDep,
    as_of: Annotated[
        str | None, Query(max_length=40, description="RFC 3339 (or a date: its end, Asia/Shanghai); the balance with every transaction recorded at or before it")
    ] = None,
    min_position: MinPosition = None,
) -> Any:
    """Both books of a volunteer (service hours earned, redeemed and available, star level;
    time-bank balance), now or `as_of` any moment (every transaction recorded at or before it)."""
    # Every role reads balances: only a region-scoped key needs the volunteer's region first.
    # Other keys learn that a volunteer is unknown (404) from the read itself, which falls back
    # on the ledger; with as_of, that 404 comes before as_of's 422, as always.
    if actor.region_prefix or as_of is not None:
        region_code = ledger.volunteer_region(volunteer_id)
        if actor.role is not Role.EXCHANGE_POINT:
            require_reader(actor, region_code, Thing("volunteer", volunteer_id))
    moment_ = moment("as_of", as_of, end_of_day=True)
    # The balance waits for min_position, or the head, itself: in the common case the head,
    # the read models' position and the row come back from one statement (`caught_up_glance`).
    return from_read_models(
        ledger, read_models, volunteer_id,
        lambda: read_models.balance(volunteer_id, moment_, min_position=min_position, wait=WAIT_SECONDS),
    )


@router.get(
    "/volunteers/{volunteer_id}/statement", response_model=StatementOut, responses={**problems(404), **DOWNLOADS},
    operation_id="getStatement",
)
def get_statement(
    request: Request,
    volunteer_id: UUID,
    actor: ActorDep,
    ledger: LedgerDep,
    read_models: ReadModelsDep,
    book: Literal["service", "timebank"] = "service",
    from_: Annotated[str | None, Query(alias="from", max_length=40, description="RFC 3339, or a date (Asia/Shanghai)")] = None,
    to: Annotated[str | None, Query(max_length=40, description="RFC 3339, or a date (Asia/Shanghai), inclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    min_position: MinPosition = None,
    format: FormatQuery = None,
) -> Any:
    """A volunteer's statement of one book, oldest first: each entry's signed minutes and the
    balance after it, with the opening and closing balance of the range; `next_cursor` pages.

    As a download (`?format=csv|xlsx`, or `Accept: text/csv`), one row per entry: every entry
    of the range from `cursor` on (up to 100,000), or one page when `limit` is given. The
    opening balance is the first row's balance less its minutes, the closing the last row's."""
    require_reader(actor, ledger.volunteer_region(volunteer_id), Thing("volunteer", volunteer_id))
    start, end = moment("from", from_, end_of_day=False), moment("to", to, end_of_day=True)
    fmt = chosen_format(request, format)
    caught_up(read_models, ledger, min_position)

    def page(after: str | None, size: int) -> dict[str, Any]:
        return from_read_models(
            ledger, read_models, volunteer_id, lambda: read_models.statement(volunteer_id, book, start, end, after, size)
        )

    if fmt == "json":
        return page(cursor, limit)
    whole = "limit" not in request.query_params
    entries, after = [], cursor
    while True:
        found = page(after, MAX_PAGE if whole else limit)
        entries += found["entries"]
        after = found["next_cursor"]
        if not whole or after is None:
            break
        if len(entries) >= MAX_DOWNLOAD:
            raise ValidationError("to", "download_too_long", max=MAX_DOWNLOAD)
    rows = [{**entry, "recorded_at": datetime.fromisoformat(entry["recorded_at"])} for entry in entries]
    return download(
        rows, list(STATEMENT_COLUMNS), fmt, f"statement-{volunteer_id}-{book}", "statement",
        request_language(request), ledger.settings.zone,
    )


def moment(name: str, text: str | None, end_of_day: bool) -> datetime | None:
    """An RFC 3339 timestamp with a zone, or a date meaning that whole day in Asia/Shanghai."""
    if text is None:
        return None
    try:
        # RFC 3339 and the dates here start YYYY-MM-DD (not an ISO week date or the basic format).
        if not DAY.match(text) or text[10:11] not in ("", "T", "t", " "):
            raise ValueError(text)
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=CHINA_STANDARD_TIME)
            return start + timedelta(days=1, microseconds=-1) if end_of_day else start
        # An unencoded "+" in a query string arrives as a space: read it as the "+" it was.
        parsed = datetime.fromisoformat(text.replace(" ", "+").replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(name, "timestamp_or_date") from None
    if parsed.tzinfo is None:
        raise ValidationError(name, "timestamp_zone")
    try:
        parsed.astimezone(timezone.utc)  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
    except OverflowError:
        raise ValidationError(name, "moment_range") from None
    return parsed


@router.get(
    "/volunteers/{volunteer_id}/events", response_model=list[DomainEventOut], responses=problems(404),
    operation_id="getVolunteerEvents",
)
def get_volunteer_events(volunteer_id: UUID, actor: ActorDep, ledger: LedgerDep, min_position: MinPosition = None) -> Any:
    """The raw domain events of a volunteer (and their time-bank account), in recorded order."""
    require_reader(actor, ledger.volunteer_region(volunteer_id), Thing("volunteer", volunteer_id))
    return [views.domain_event(event) for event in ledger.volunteer_events(volunteer_id)]
