"""Fixtures that run tests on both stores: embedded SQLite and PostgreSQL (a schema per test).

Without a reachable PostgreSQL the PostgreSQL cases skip with the reason, unless
HOUR_LEDGER_REQUIRE_POSTGRES=1 (CI), when they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.persistence import persistence_env

POSTGRES_URL = os.environ.get(
    "HOUR_LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_postgres_problem: str | None | bool = False  # False: not yet checked


def postgres_problem() -> str | None:
    """Why PostgreSQL can't be used for tests, or None when it can."""
    global _postgres_problem
    if _postgres_problem is False:
        try:
            with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _postgres_problem = None
        except psycopg.Error as error:
            _postgres_problem = f"PostgreSQL at {POSTGRES_URL} is not reachable: {error}".strip()
    return _postgres_problem  # type: ignore[return-value]


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    if os.environ.get("HOUR_LEDGER_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"HOUR_LEDGER_REQUIRE_POSTGRES=1 but {problem}")
    pytest.skip(problem)


class PostgresSchema:
    """A schema of its own for one test, dropped afterwards."""

    def __init__(self) -> None:
        self.name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.name)))

    @property
    def url(self) -> str:
        return f"{POSTGRES_URL}?schema={self.name}"

    def drop(self) -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.name)))


STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def fresh_store(kind: str, directory: Path) -> Iterator[str]:
    """A fresh, empty store of `kind` ("sqlite" in `directory`, or a PostgreSQL schema of
    its own, dropped afterwards): its HOUR_LEDGER_DATABASE_URL."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'ledger.sqlite3'}"
        return
    require_postgres()
    schema = PostgresSchema()
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture(params=STORES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store of each kind: its HOUR_LEDGER_DATABASE_URL."""
    with fresh_store(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store_env(database_url: str) -> dict[str, str]:
    return persistence_env(database_url)


@pytest.fixture
def ledger(store_env: dict[str, str]) -> Iterator[HourLedger]:
    app = HourLedger(env=store_env)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def other(store_env: dict[str, str]) -> Iterator[HourLedger]:
    """A second ledger on the same store: another server process, as far as anyone can tell
    (each caches what it saved)."""
    app = HourLedger(env=store_env)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def actor():
    return SYSTEM


@pytest.fixture(autouse=True, scope="session")
def working_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test runs in a scratch directory: files a ledger makes in its working directory
    by default (the audit's signing key) never land in the checkout."""
    previous = Path.cwd()
    scratch = tmp_path_factory.mktemp("cwd")
    os.chdir(scratch)
    try:
        yield scratch
    finally:
        os.chdir(previous)
