"""Statistics for civilisation offices: totals by region (rolled up by code prefix), and
breakdowns by region level, organisation, category, exchange point or month."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from api.auth import ActorDep, LedgerDep, ReadModelsDep, require_reader
from api.routes import problems
from api.routes.reading import MinPosition, caught_up
from api.schemas import BreakdownOut, RegionCode, SummaryOut
from ledger.messages import Thing

router = APIRouter(prefix="/v1/stats", tags=["statistics"])


def _iso_date(value: Any) -> Any:
    # pydantic would read "0.0" or "1700000000" as a Unix time; a date here is YYYY-MM-DD.
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise PydanticCustomError("date_text", "a date is YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
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


@router.get("/summary", response_model=SummaryOut, responses=problems(), operation_id="getStatsSummary")
def summary(
    actor: ActorDep,
    ledger: LedgerDep,
    read_models: ReadModelsDep,
    region: Annotated[RegionCode | None, Query()] = None,
    from_: Annotated[IsoDate | None, Query(alias="from")] = None,
    to: Day = None,
    min_position: MinPosition = None,
) -> Any:
    """The figures of a region (rolled up by code prefix; the whole ledger without one) for a
    period of days (`from`, `to` inclusive): volunteers, service, redemptions, time bank, stars."""
    region = scoped_region(actor, region)
    caught_up(read_models, ledger, min_position)
    return read_models.summary(region, from_, to)


@router.get("/breakdown", response_model=BreakdownOut, responses=problems(), operation_id="getStatsBreakdown")
def breakdown(
    actor: ActorDep,
    ledger: LedgerDep,
    read_models: ReadModelsDep,
    by: Literal["region", "organization", "category", "exchange_point", "month"],
    level: Literal["province", "city", "county", "town", "village"] | None = None,
    region: Annotated[RegionCode | None, Query()] = None,
    from_: Annotated[IsoDate | None, Query(alias="from")] = None,
    to: Day = None,
    min_position: MinPosition = None,
) -> Any:
    """The summary's figures per group: by region (at a `level`), organisation, service
    category, exchange point or month."""
    region = scoped_region(actor, region)
    caught_up(read_models, ledger, min_position)
    return read_models.breakdown(by, level, region, from_, to)
