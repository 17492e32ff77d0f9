"""The statistics' bulk SQL (`projections/statistics/bulk.py`) restates their rule
(`projection.py`): on a ledger that meets every rule, a bulk rebuild gives exactly the rows a
follower gives batch by batch; and the SQL it generates from the shared vocabulary (the China
day, star levels, region keys) answers as the Python it restates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.vocabulary import NATIONAL_THRESHOLDS_MINUTES, local_day, star_level
from projections.statistics import bulk
from projections.statistics.dimensions import DEEPEST_LEVEL, DEEPEST_ROLLUP, region_keys
from projections.statistics.tables import TABLES
from tests.projections.bulk_scenario import assert_rebuilds_give_what_a_follower_gives

pytestmark = pytest.mark.postgres


def test_a_bulk_rebuild_gives_the_statistics_a_follower_gives(url: str) -> None:
    followed = assert_rebuilds_give_what_a_follower_gives(url, TABLES)
    assert len(followed["st_pair"]) > 50 and len(followed["st_count"]) > 20


moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)


@settings(max_examples=200, deadline=None)
@given(moment=moments | st.sampled_from([datetime(2025, 6, 1, 16, 0, tzinfo=timezone.utc) + timedelta(microseconds=d) for d in (-1, 0)]))
def test_the_day_in_sql_is_the_china_day_of_the_vocabulary(postgres: psycopg.Connection, moment: datetime) -> None:
    (day,) = postgres.execute(f"SELECT {bulk.local_day('%s::timestamptz')}", (moment,)).fetchone()
    assert day == local_day(moment)


@settings(max_examples=200, deadline=None)
@given(earned=st.integers(-10, 100_000) | st.sampled_from(NATIONAL_THRESHOLDS_MINUTES))
def test_star_levels_in_sql_are_the_vocabularys(postgres: psycopg.Connection, earned: int) -> None:
    level_of = bulk.star_level("x.earned", NATIONAL_THRESHOLDS_MINUTES)
    (level,) = postgres.execute(f"SELECT {level_of} FROM (SELECT %s::bigint AS earned) AS x", (earned,)).fetchone()
    assert level == star_level(earned, NATIONAL_THRESHOLDS_MINUTES)


@pytest.mark.parametrize("code", ["32", "3208", "320830", "320830101", "320830101001"])
@pytest.mark.parametrize("deepest", [DEEPEST_ROLLUP, DEEPEST_LEVEL])
def test_region_keys_in_sql_are_the_dimensions(postgres: psycopg.Connection, code: str, deepest: int) -> None:
    keys, condition = bulk.region_keys("r.region", deepest)
    rows = postgres.execute(
        f"SELECT k.lvl, k.anc FROM (SELECT %s::text AS region) AS r {keys} WHERE {condition} ORDER BY k.lvl",
        (code,),
    ).fetchall()
    assert [tuple(row) for row in rows] == sorted(region_keys(code, deepest))
