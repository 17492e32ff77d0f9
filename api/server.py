"""The service as uvicorn runs it: the ledger and its read models built from the settings
that `hour-ledger serve` handed over in the environment."""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from ledger.application import HourLedger
from ledger.config import LedgerSettings


def app_from_env() -> FastAPI:
    settings = LedgerSettings.from_env()
    ledger = HourLedger(settings=settings)
    return create_app(ledger, follow_projections=settings.projections == "in-process")
