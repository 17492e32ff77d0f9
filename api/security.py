"""What the service does against abuse from the open internet: per-client rate limits on the
public endpoints and on failed authentication (429 with Retry-After), security headers on its
HTML pages, and CORS only for the origins a deployment allows.

The limits are counted per client address in each process (a process behind a reverse proxy
sees the proxy's address: put the limits in the proxy there, or run one process)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import header_language, problem_response, said

# Pages a browser shows: no inline script or style, nothing from another host, never framed.
HTML_HEADERS = {
    b"content-security-policy": (
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
}
HTML_PATHS = ("/console", "/certificates/")
PUBLIC_PATHS = ("/v1/certificates/", "/certificates/")
WINDOW_SECONDS = 60.0
MAX_CLIENTS = 100_000


class SecurityHeaders:
    """nosniff on every response; the HTML headers on the console's and certificates' pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        html = scope["path"].startswith(HTML_PATHS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = {b"x-content-type-options": b"nosniff", **(HTML_HEADERS if html else {})}
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in extra]
                message["headers"] = headers + list(extra.items())
            await send(message)

        await self.app(scope, receive, with_headers)


class Window:
    """Events per client in a fixed window of WINDOW_SECONDS, for at most MAX_CLIENTS clients."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def _current(self, client: str, now: float) -> tuple[float, int]:
        started, count = self._counts.get(client, (now, 0))
        return (now, 0) if now - started >= WINDOW_SECONDS else (started, count)

    def exceeded(self, client: str) -> float | None:
        """Seconds until the client may try again, or None if it may now."""
        now = time.monotonic()
        with self._lock:
            started, count = self._current(client, now)
            return WINDOW_SECONDS - (now - started) if count >= self.limit else None

    def count(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            started, count = self._current(client, now)
            self._counts[client] = (started, count + 1)
            self._counts.move_to_end(client)
            while len(self._counts) > MAX_CLIENTS:
                self._counts.popitem(last=False)


class RateLimits:
    """429 `unavailable` with Retry-After for a client that has made too many requests to the
    public endpoints (certificates, looked up by anyone), or that has failed authentication
    too often (a key guessed at): it may come back when its window ends."""

    def __init__(self, app: ASGIApp, public_per_minute: int, failed_auth_per_minute: int) -> None:
        self.app = app
        self.public = Window(public_per_minute)
        self.failures = Window(failed_auth_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        path: str = scope["path"]
        public = path.startswith(PUBLIC_PATHS)
        credentials = any(name == b"authorization" for name, _ in scope.get("headers", []))
        wait = self.public.exceeded(client) if public else None
        if wait is None and credentials:
            wait = self.failures.exceeded(client)
        if wait is not None:
            await self._refuse(scope, receive, send, wait, "authentication" if not public else "public")
            return
        if public:
            self.public.count(client)

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.failures.count(client)
            await send(message)

        await self.app(scope, receive, watched)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, wait: float, kind: str) -> None:
        seconds = max(1, math.ceil(wait))
        language = header_language(scope.get("headers", []))
        message = "too_many_failed_authentications" if kind == "authentication" else "too_many_requests"
        body = said(429, "unavailable", language, message, seconds=seconds)
        await problem_response(body, language, headers={"Retry-After": str(seconds)})(scope, receive, send)
