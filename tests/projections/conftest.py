"""Fixtures of the read models' tests on PostgreSQL: a fresh store, and a plain connection to
ask PostgreSQL what the bulk SQL computes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRES_URL, fresh_store, require_postgres


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """A PostgreSQL store of the test's own (skipped without PostgreSQL)."""
    with fresh_store("postgres", tmp_path) as found:
        yield found


@pytest.fixture(scope="module")
def postgres() -> Iterator[psycopg.Connection]:
    require_postgres()
    with psycopg.connect(POSTGRES_URL) as conn:
        yield conn
