"""The bulk load of a rebuild on PostgreSQL (`projections/engine/bulk.py`): events recorded
while it runs are processed before the switch, a load that fails half-way leaves the current
tables serving and nothing behind, and on random sequences of operations (hypothesis) every
table it builds is the table a follower builds. Each read model's own folder holds the test of
its rule on a ledger that meets every rule (`tests/projections/*/test_bulk.py`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from ledger.actors import SYSTEM
from ledger.application import HourLedger
from ledger.persistence import persistence_env
from projections import ReadModels
from projections.statistics.bulk import StatisticsBulk
from tests.conftest import PostgresSchema, require_postgres
from tests.projections.bulk_scenario import MIDNIGHT_CST, NOW, STARS, assert_same_tables, followed_and_bulk
from tests.support.builders import service
from tests.support.random_operations import RULES, Run, sequences

pytestmark = pytest.mark.postgres


def test_events_recorded_during_a_bulk_load_are_processed_before_the_switch(url: str) -> None:
    app = HourLedger(env=persistence_env(url), settings=STARS, clock=lambda: NOW)
    try:
        org = app.register_organization(SYSTEM, "盱眙志愿服务队", "320830").aggregate
        person = app.register_volunteer(SYSTEM, "志愿者", "320830101001", organization_id=org.id).aggregate
        for k in range(3):
            app.post(SYSTEM, service(person, org, 30, start=MIDNIGHT_CST + timedelta(days=k)))
        models = ReadModels(app)

        def write_when_loaded(text: str) -> None:
            if text == "summing":  # the bulk load has read the log up to its head
                app.post(SYSTEM, service(person, org, 45, start=MIDNIGHT_CST + timedelta(days=7)))

        assert models.rebuild(stage=write_when_loaded) == app.head_position()
        assert models.balance(person.id)["service"]["earned_minutes"] == 3 * 30 + 45
        rebuilt = models.dump()
        follower = ReadModels(app, batch_size=2)
        follower.rebuild(bulk=False)
        assert_same_tables(follower.dump(), rebuilt)
    finally:
        app.close()


@pytest.fixture
def postgres_available() -> None:
    require_postgres()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ops=sequences)
def test_random_sequences_rebuild_in_bulk_as_the_projections_follow_them(postgres_available: None, ops: list[Any]) -> None:
    schema = PostgresSchema()
    run = Run(persistence_env(schema.url))
    try:
        for op in ops:
            run.apply(op)
        assert RULES.star_thresholds_minutes == run.app.settings.star_thresholds_minutes
        followed, rebuilt = followed_and_bulk(run.app, batch_size=3)
        assert_same_tables(followed, rebuilt)
    finally:
        run.close()
        schema.drop()


def test_a_bulk_load_that_fails_half_way_leaves_the_current_tables_serving_and_nothing_behind(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = HourLedger(env=persistence_env(url), settings=STARS, clock=lambda: NOW)
    try:
        org = app.register_organization(SYSTEM, "盱眙志愿服务队", "320830").aggregate
        person = app.register_volunteer(SYSTEM, "志愿者", "320830101001", organization_id=org.id).aggregate
        app.post(SYSTEM, service(person, org, 30, start=MIDNIGHT_CST))
        models = ReadModels(app)
        models.catch_up()
        before = models.dump()

        def broken(self: Any, *args: Any) -> None:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(StatisticsBulk, "pairs", broken)
        with pytest.raises(RuntimeError):
            models.rebuild()
        assert [state for _, state in models.store.generations()] == ["current"]
        assert models.dump() == before
        assert models.balance(person.id)["service"]["earned_minutes"] == 30
        with models.store.connection() as conn:
            left = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name LIKE %s",
                (models.store.schema, "rm%_rb_%"),
            ).fetchall()
        assert left == []
    finally:
        app.close()
