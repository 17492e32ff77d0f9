"""The web console (SPEC §8): a small application in Simplified Chinese served at /console/,
static files only. It signs in with an API key kept in the browser's session storage and
uses nothing but the public /v1 API, so everything it shows a client could also get."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"

# No inline script or style, nothing from another host: what an intranet can serve and a
# page injected into it cannot run.
SECURITY_HEADERS = {
    b"content-security-policy": (
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"x-content-type-options": b"nosniff",
}


class ConsoleHeaders:
    """Adds the console's security headers to every response under /console."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/console"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in SECURITY_HEADERS]
                message["headers"] = headers + list(SECURITY_HEADERS.items())
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI) -> None:
    @app.get("/console", include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=308)

    app.mount("/console/", StaticFiles(directory=STATIC, html=True), name="console")
    app.add_middleware(ConsoleHeaders)
