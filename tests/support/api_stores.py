"""A store of each kind with its own settings, for API test modules that build one world per
module and only read it afterwards (the reading and statistics tests).

Both read-model questions and the ledger's own rules depend on settings such as the star
thresholds: these stores use small thresholds (2, 4, 6, 8, 10 hours), so that a few service
records of a couple of hours reach real star levels."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ledger.application import HourLedger
from ledger.persistence import persistence_env
from tests.conftest import fresh_store
from tests.support.api_client import Api

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SMALL_STARS = {"HOUR_LEDGER_STAR_THRESHOLDS_HOURS": "2,4,6,8,10"}  # 120, 240, ... 600 minutes
CHINA = timezone(timedelta(hours=8))


@contextmanager
def api_on(store: str, directory: Path, **env: str) -> Iterator[Api]:
    """An Api (its TestClient started) over a fresh store of kind `store`, with `env` settings."""
    with fresh_store(store, directory) as url:
        ledger = HourLedger(env={**persistence_env(url), **env})
        try:
            api = Api(ledger)
            with api.client:
                yield api
        finally:
            ledger.close()


def moment(text: str) -> datetime:
    """A time as the API answers it (RFC 3339, e.g. `...Z`), as an aware datetime."""
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None, text
    return parsed


def china_day(text: str) -> date:
    """The calendar day in China (Asia/Shanghai) of a recorded time the API answered."""
    return moment(text).astimezone(CHINA).date()
