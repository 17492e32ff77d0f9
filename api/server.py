"""The service as uvicorn runs it: the ledger and its read models built from the settings
that `hour-ledger serve` handed over in the environment."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from api.app import create_app
from ledger.application import HourLedger
from ledger.config import LedgerSettings


def app_from_env() -> FastAPI:
    settings = LedgerSettings.from_env()
    ledger = HourLedger(settings=settings)
    app = create_app(ledger, follow_projections=settings.projections == "in-process")
    tune_garbage_collection()
    return app


# A posting makes a few hundred short-lived objects (a batch of 1,000, hundreds of thousands):
# with the default threshold (700) the collector ran every few postings and, every tenth of
# those, scanned the long-lived ones too (measured: 13 % of a batch's CPU in process).
YOUNG_THRESHOLD = 20_000


def tune_garbage_collection() -> None:
    """Collects the young generation less often, and never scans what start-up made (the
    modules, the app, the settings): it stays for the life of the process."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
