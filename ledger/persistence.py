"""The store: `HOUR_LEDGER_DATABASE_URL` mapped onto eventsourcing's settings, and the few
look-ups eventsourcing's recorders do not offer (written here, in the persistence adapter,
so that no other module holds SQL)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder

DEFAULT_DATABASE_URL = "sqlite:///hour-ledger.sqlite3"
POSTGRES_FACTORY = "ledger.postgres_recorder:LedgerPostgresFactory"
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# The pool's and connections' limits a PostgreSQL URL may set: eventsourcing retries a
# statement ten times, each waiting up to connect_timeout for a connection, so it is short
# (an outage is a prompt 503, not a hang).
_QUERY_DEFAULTS = {"connect_timeout": "2", "pool_size": "10", "max_overflow": "20", "lock_timeout": "10"}


class DatabaseUrlError(Exception):
    """HOUR_LEDGER_DATABASE_URL cannot be used; the message says why, in one line."""


def persistence_env(url: str) -> dict[str, str]:
    """eventsourcing's environment for a database URL.

    `sqlite:///relative.sqlite3`, `sqlite:////absolute/path.sqlite3`, `sqlite:///:memory:`;
    `postgresql://user[:password]@host[:port]/dbname[?schema=name]`.
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/") or path == "/":
            raise DatabaseUrlError(
                f"HOUR_LEDGER_DATABASE_URL {url!r}: a SQLite URL is sqlite:///file.sqlite3 "
                "(relative) or sqlite:////absolute/file.sqlite3"
            )
        dbname = path[1:]
        if dbname == ":memory:":
            dbname = "file::memory:?cache=shared"
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": dbname}
    if parts.scheme in ("postgresql", "postgres"):
        dbname = unquote(parts.path.lstrip("/"))
        try:
            port = parts.port or 5432
        except ValueError:
            raise DatabaseUrlError(f"HOUR_LEDGER_DATABASE_URL {url!r}: the port is not a number") from None
        if not parts.hostname or not dbname or "/" in dbname:
            raise DatabaseUrlError(
                f"HOUR_LEDGER_DATABASE_URL {url!r}: a PostgreSQL URL is "
                "postgresql://user@host:5432/dbname"
            )
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        unknown = sorted(set(query) - set(_QUERY_DEFAULTS) - {"schema"})
        if unknown:
            raise DatabaseUrlError(
                f"HOUR_LEDGER_DATABASE_URL: unknown parameter {unknown[0]!r} "
                f"(known: schema, {', '.join(_QUERY_DEFAULTS)})"
            )
        numbers = {name: query.get(name, default) for name, default in _QUERY_DEFAULTS.items()}
        for name, text in numbers.items():
            if not text.isdigit() or not 0 < int(text) <= 100_000:
                raise DatabaseUrlError(f"HOUR_LEDGER_DATABASE_URL: {name} must be a positive whole number, not {text!r}")
        env = {
            # eventsourcing's PostgreSQL recorders with their retries bounded in time.
            "PERSISTENCE_MODULE": POSTGRES_FACTORY,
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": parts.hostname,
            "POSTGRES_PORT": str(port),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            # eventsourcing retries a statement ten times, each waiting up to this long for
            # a connection: keep it short so that an outage is a prompt 503, not a hang.
            "POSTGRES_CONNECT_TIMEOUT": numbers["connect_timeout"],
            "POSTGRES_POOL_SIZE": numbers["pool_size"],
            "POSTGRES_MAX_OVERFLOW": numbers["max_overflow"],
            # Fail a request rather than hang when the pool is exhausted or a lock is held.
            "POSTGRES_LOCK_TIMEOUT": numbers["lock_timeout"],
        }
        if "schema" in query:
            # eventsourcing writes the schema into its SQL unquoted: only a plain identifier.
            if not _SCHEMA.match(query["schema"]):
                raise DatabaseUrlError(
                    f"HOUR_LEDGER_DATABASE_URL: schema {query['schema']!r} must be lower-case letters, "
                    "digits and _ (at most 63, not starting with a digit)"
                )
            env["POSTGRES_SCHEMA"] = query["schema"]
        return env
    raise DatabaseUrlError(
        f"HOUR_LEDGER_DATABASE_URL {url!r}: use sqlite:///file.sqlite3 or "
        "postgresql://user@host:5432/dbname"
    )


def is_postgres_env(env: Mapping[str, str]) -> bool:
    return env.get("PERSISTENCE_MODULE") in (POSTGRES_FACTORY, "eventsourcing.postgres")


def displayable_url(url: str) -> str:
    """The URL with any password replaced, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def is_postgres(recorder: ApplicationRecorder) -> bool:
    return isinstance(recorder, PostgresApplicationRecorder)


def reading(datastore: Any) -> AbstractContextManager[Any]:
    """A transaction of `datastore` (eventsourcing's PostgreSQL or SQLite one) that only reads.
    On PostgreSQL it ends with COMMIT: it wrote nothing, and psycopg answers a ROLLBACK by
    deallocating the pooled connection's prepared statements (the ledger's among them). On
    SQLite it rolls back: a commit would take the writer's lock."""
    return datastore.transaction(commit=isinstance(datastore, PostgresDatastore))


def _postgres_rows(recorder: PostgresApplicationRecorder, query: str, params: tuple[Any, ...]) -> list[Any]:
    """Rows of a query on the events table, named `{schema}.{table}` in `query`."""
    from psycopg.sql import SQL, Identifier

    statement = SQL(query).format(
        schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name)
    )
    # The pool's connections are in autocommit mode: a read needs no transaction of its own,
    # whose ROLLBACK would make psycopg discard the connection's prepared statements.
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, params, prepare=True)
        return curs.fetchall()


def _sqlite_rows(recorder: SQLiteApplicationRecorder, query: str, params: list[Any]) -> list[Any]:
    """Rows of a query on the events table, named `{table}` in `query`."""
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(query.format(table=recorder.events_table_name), params)
        return c.fetchall()


def event_position(recorder: ApplicationRecorder, originator_id: UUID, version: int) -> int | None:
    """The notification id (position in the global log) of one stored event."""
    if isinstance(recorder, PostgresApplicationRecorder):
        rows = _postgres_rows(
            recorder,
            "SELECT notification_id FROM {schema}.{table} WHERE originator_id = %s AND originator_version = %s",
            (originator_id, version),
        )
        return int(rows[0]["notification_id"]) if rows else None
    if isinstance(recorder, SQLiteApplicationRecorder):
        rows = _sqlite_rows(
            recorder,
            "SELECT rowid FROM {table} WHERE originator_id = ? AND originator_version = ?",
            [originator_id.hex, version],
        )
        return int(rows[0][0]) if rows else None
    return None


def stored_ids(recorder: ApplicationRecorder, ids: list[UUID]) -> set[UUID]:
    """Which of these aggregate ids have events in the store: one query for a whole batch."""
    if not ids:
        return set()
    if isinstance(recorder, PostgresApplicationRecorder):
        rows = _postgres_rows(
            recorder,
            "SELECT originator_id FROM {schema}.{table} WHERE originator_id = ANY(%s) AND originator_version = 1",
            (ids,),
        )
        return {UUID(str(row["originator_id"])) for row in rows}
    if isinstance(recorder, SQLiteApplicationRecorder):
        found: set[UUID] = set()
        for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            chunk = ids[start : start + 500]
            rows = _sqlite_rows(
                recorder,
                "SELECT originator_id FROM {table} WHERE originator_id IN (%s) AND originator_version = 1"
                % ",".join("?" * len(chunk)),
                [i.hex for i in chunk],
            )
            found.update(UUID(hex=row[0]) for row in rows)
        return found
    return set(ids)  # unknown store: claim everything exists, so each id is looked up


class StoreUnreachableError(Exception):
    """The configured database cannot be reached; the message says why, in one line."""


def check_reachable(env: Mapping[str, str]) -> None:
    """Connects once, so that a wrong host, port, database or password is named plainly
    instead of surfacing later as a pool time-out."""
    if not is_postgres_env(env):
        return
    import psycopg

    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env.get("POSTGRES_PORT", "5432"),
            user=env["POSTGRES_USER"],
            password=env.get("POSTGRES_PASSWORD") or None,
            connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT") or 5),
        ) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        where = f"{env['POSTGRES_HOST']}:{env.get('POSTGRES_PORT', '5432')}/{env['POSTGRES_DBNAME']}"
        raise StoreUnreachableError(f"cannot reach PostgreSQL at {where}: {reason}") from None
