"""The web console (SPEC §8): a small application in Simplified Chinese served at /console/,
static files only. It signs in with an API key kept in the browser's session storage and
uses nothing but the public /v1 API, so everything it shows a client could also get. Its
security headers (no inline script, never framed) come from `api/security.py`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    @app.get("/console", include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=308)

    app.mount("/console/", StaticFiles(directory=STATIC, html=True), name="console")
