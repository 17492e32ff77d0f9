"""The service as uvicorn runs it: the ledger and its read models built from the environment."""

from __future__ import annotations

import os

from fastapi import FastAPI

from api.app import create_app
from ledger.application import HourLedger

# Set by `hour-ledger serve --no-projections` (or when a separate follower process runs them).
PROJECTIONS_ENV = "HOUR_LEDGER_PROJECTIONS"


def app_from_env() -> FastAPI:
    ledger = HourLedger()
    follow = os.environ.get(PROJECTIONS_ENV, "in-process") == "in-process"
    return create_app(ledger, follow_projections=follow)
