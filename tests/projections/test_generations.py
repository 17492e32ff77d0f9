"""Generations of tables: a rebuild drops every table of the generation it replaces, whatever
its name, so a database whose read models were built by an older version (other tables, or a
bulk load's leftovers) keeps nothing of them after `hour-ledger projections rebuild`; on
SQLite and PostgreSQL."""

from __future__ import annotations

from uuid import uuid4

from ledger.actors import SYSTEM
from ledger.application import HourLedger
from projections import ReadModels
from projections.engine.tables import physical


def tables_of(ledger: HourLedger, models: ReadModels, generation: int) -> list[str]:
    """The names of a generation's tables, as the database's catalog lists them."""
    pattern = f"rm{generation}\\_%"
    with ledger.recorder.datastore.transaction(commit=False) as cur:
        if models.store.kind == "postgres":
            cur.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
                (models.store.schema, pattern),
            )
            return sorted(row["tablename"] for row in cur.fetchall())
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '\\'", (pattern,))
        return sorted(row[0] for row in cur.fetchall())


def current_generation(models: ReadModels) -> int:
    (generation,) = [g for g, state in models.store.generations() if state == "current"]
    return generation


def test_a_rebuild_drops_the_tables_of_an_older_layout_and_leftovers(ledger: HourLedger) -> None:
    org = ledger.register_organization(SYSTEM, "盱眙志愿服务队", "320830").aggregate
    person = ledger.register_volunteer(SYSTEM, "志愿者", "320830", organization_id=org.id, id=uuid4()).aggregate
    models = ReadModels(ledger)
    models.catch_up()
    old = current_generation(models)
    strays = [physical(old, "st_figures_of_an_older_version"), physical(old, "rb_left_by_a_dead_bulk_load")]
    with ledger.recorder.datastore.transaction(commit=True) as cur:
        for name in strays:
            cur.execute(f"CREATE TABLE {models.store.qualified(name)} (n INTEGER)")
    assert set(strays) < set(tables_of(ledger, models, old))

    models.rebuild()

    new = current_generation(models)
    assert new > old
    assert tables_of(ledger, models, old) == []
    assert tables_of(ledger, models, new) == sorted(physical(new, t) for t in models.store.tables)
    assert models.balance(person.id)["service"]["earned_minutes"] == 0
