"""The access log: one JSON line per request on stderr, for operators and their log shippers.

Each line has the time (local, HOUR_LEDGER_TIMEZONE), the method, the route's template and the
path, the status, the time taken in milliseconds, the bytes sent, the client's address and the
API key's id. Never the key's secret, never the query string (it may carry a national ID
number), never a body. `hour-ledger serve --no-access-log` (HOUR_LEDGER_ACCESS_LOG=off) turns it
off; uvicorn's own access log is always off."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime, tzinfo

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import bearer_secret
from api.metrics import route_of
from ledger.api_key import key_id_of

Write = Callable[[str], None]


def to_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def key_id_in(scope: Scope) -> str | None:
    """The id of the API key a request presents (the public part of `hl_<id>_<secret>`)."""
    secret = bearer_secret(scope)
    found = key_id_of(secret) if secret else None
    return str(found) if found is not None else None


class AccessLog:
    """Writes one line per HTTP request once it is answered."""

    def __init__(self, app: ASGIApp, zone: tzinfo, write: Write = to_stderr) -> None:
        self.app = app
        self.zone = zone
        self.write = write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, sent = 500, 0

        async def noting(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            client = scope.get("client")
            line = {
                "time": datetime.now(self.zone).isoformat(timespec="milliseconds"),
                "method": scope["method"],
                "route": route_of(scope),
                "path": scope.get("path", ""),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "bytes": sent,
                "client": client[0] if client else None,
                "key_id": key_id_in(scope),
            }
            self.write(json.dumps(line, ensure_ascii=False))
