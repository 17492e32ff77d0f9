"""Statistics for civilisation offices: totals by region (rolled up by code prefix), and
breakdowns by region level, organisation, category, exchange point or month."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from api.auth import ActorDep, LedgerDep, ReadModelsDep, require_reader
from api.downloads import DOWNLOADS, FormatQuery, chosen_format, download
from api.problems import request_language
from api.routes import problems
from api.routes.reading import MinPosition, caught_up
from api.schemas import BreakdownOut, Figures, RegionCode, SummaryOut
from ledger.messages import Thing

router = APIRouter(prefix="/v1/stats", tags=["statistics"])


def _iso_date(value: Any) -> Any:
    # pydantic would read "0.0" or "1700000000" as a Unix time; a date here is YYYY-MM-DD.
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise PydanticCustomError("date_text", "a date is YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
# The columns of a downloaded summary (and of each group of a breakdown, after key and name).
FIGURES = [name for name in Figures.model_fields if name != "stars"] + [f"stars.{level}" for level in range(1, 6)]
Day = Annotated[IsoDate | None, Query(description="A date, inclusive (Asia/Shanghai)")]


def scoped_region(actor: Any, region: str | None) -> str | None:
    """A region-scoped key reads its own region when it names none, and nothing outside it."""
    require_reader(actor)
    if actor.region_prefix:
        if region is None:
            return actor.region_prefix
        if not region.startswith(actor.region_prefix):
            actor.require_region(region, Thing("region", region))
    return region


@router.get("/summary", response_model=SummaryOut, responses={**problems(), **DOWNLOADS}, operation_id="getStatsSummary")
def summary(
    request: Request,
    actor: ActorDep,
    ledger: LedgerDep,
    read_models: ReadModelsDep,
    region: Annotated[RegionCode | None, Query()] = None,
    from_: Annotated[IsoDate | None, Query(alias="from")] = None,
    to: Day = None,
    min_position: MinPosition = None,
    format: FormatQuery = None,
) -> Any:
    """The figures of a region (rolled up by code prefix; the whole ledger without one) for a
    period of days (`from`, `to` inclusive): volunteers, service, redemptions, time bank, stars.
    `?format=csv|xlsx` (or `Accept: text/csv`) downloads them as one row."""
    region = scoped_region(actor, region)
    fmt = chosen_format(request, format)
    caught_up(read_models, ledger, min_position)
    figures = read_models.summary(region, from_, to)
    if fmt == "json":
        return figures
    name = "-".join(["summary", region or "all", *(str(day) for day in (from_, to) if day)])
    return download([figures], FIGURES, fmt, name, "summary", request_language(request), ledger.settings.zone)


@router.get("/breakdown", response_model=BreakdownOut, responses={**problems(), **DOWNLOADS}, operation_id="getStatsBreakdown")
def breakdown(
    request: Request,
    actor: ActorDep,
    ledger: LedgerDep,
    read_models: ReadModelsDep,
    by: Literal["region", "organization", "category", "exchange_point", "month"],
    level: Literal["province", "city", "county", "town", "village"] | None = None,
    region: Annotated[RegionCode | None, Query()] = None,
    from_: Annotated[IsoDate | None, Query(alias="from")] = None,
    to: Day = None,
    min_position: MinPosition = None,
    format: FormatQuery = None,
) -> Any:
    """The summary's figures per group: by region (at a `level`), organisation, service
    category, exchange point or month. `?format=csv|xlsx` (or `Accept: text/csv`) downloads
    them, one row per group."""
    region = scoped_region(actor, region)
    fmt = chosen_format(request, format)
    caught_up(read_models, ledger, min_position)
    found = read_models.breakdown(by, level, region, from_, to)
    if fmt == "json":
        return found
    name = "-".join(["breakdown", by, *([level] if level else []), region or "all", *(str(day) for day in (from_, to) if day)])
    return download(
        found["groups"], ["key", "name", *FIGURES], fmt, name, "breakdown", request_language(request), ledger.settings.zone
    )
