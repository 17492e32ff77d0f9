"""The answers of the posting routes leave their local times for orjson to write
(`api.local_time.local_for_orjson`): whatever the time and the zone, the bytes are the ones
`local_in`'s text gives, local mean time's offsets in seconds included."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import orjson
from hypothesis import given
from hypothesis import strategies as st

from api.local_time import local_for_orjson, local_in

ZONES = [ZoneInfo("Asia/Shanghai"), ZoneInfo("America/St_Johns"), ZoneInfo("Asia/Kolkata"), ZoneInfo("Europe/Dublin"),
         timezone.utc, timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(hours=8, seconds=7))]
OFFSETS = st.builds(timedelta, minutes=st.integers(-23 * 60, 23 * 60), seconds=st.integers(0, 59))


@given(
    moment=st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(2300, 1, 1)),
    arrived_in=st.one_of(st.none(), OFFSETS.map(timezone)),
    zone=st.sampled_from(ZONES),
)
def test_orjson_writes_the_local_time_as_local_in_spells_it(moment, arrived_in, zone) -> None:
    if arrived_in is not None:
        moment = moment.replace(tzinfo=arrived_in)
    assert orjson.dumps(local_for_orjson(moment, zone)) == orjson.dumps(local_in(moment, zone))


def test_shanghais_local_mean_time_keeps_its_seconds() -> None:
    before_1901 = datetime(1900, 1, 1, tzinfo=timezone.utc)
    assert orjson.dumps(local_for_orjson(before_1901, ZoneInfo("Asia/Shanghai"))) == b'"1900-01-01T08:05:43+08:05:43"'
    assert local_for_orjson(datetime(2026, 12, 1, tzinfo=timezone.utc), ZoneInfo("Asia/Shanghai")) == datetime(
        2026, 12, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai")
    )
