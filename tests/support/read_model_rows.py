"""Changing the read models' rows by hand, as a database administrator would: what replay
must notice."""

from __future__ import annotations

from typing import Any

from ledger.application import HourLedger
from projections import ReadModels
from projections.balances.tables import BAL_ENTRY, BAL_VOLUNTEER
from projections.engine.tables import physical


def execute(ledger: HourLedger, models: ReadModels, template: str, *params: Any) -> None:
    """Runs `template` with `{table}` names of the read models' current generation, as a
    database administrator would (placeholders written `?`)."""
    (generation,) = [g for g, state in models.store.generations() if state == "current"]
    datastore = ledger.recorder.datastore
    schema = getattr(datastore, "schema", None)

    def table(t: Any) -> str:
        name = physical(generation, t)
        return f'"{schema}"."{name}"' if schema else name

    statement = template.format(bal_volunteer=table(BAL_VOLUNTEER), bal_entry=table(BAL_ENTRY))
    if schema:
        statement = statement.replace("?", "%s")
    with datastore.transaction(commit=True) as cursor:
        cursor.execute(statement, params)
