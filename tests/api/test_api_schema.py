"""Schemathesis over the OpenAPI document, on SQLite, as the admin: for every operation, valid
requests and invalid ones, the API answers without a server error, with a status, content
type and body its own schema declares, and refuses invalid data with a 4xx; every operation of
the document is exercised (a new endpoint cannot be left out). Then statefully: sequences that
follow the document's links (what one call creates, the next reads, revokes or proves), with
the same checks and what is created being found where a link says.

The schema is loaded from the running app inside the test and each operation's cases are drawn
with hypothesis there (`operation.as_strategy`): `@schema.parametrize()` needs the schema at
import time, and the lazy `schemathesis.pytest.from_fixture` fails under pytest 9.2."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from fastapi.testclient import TestClient
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from api.app import create_app
from ledger.application import HourLedger
from ledger.persistence import persistence_env
from tests.support.api_client import Api, build_world

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Per operation and mode; raise it for a deeper search: HOUR_LEDGER_SCHEMATHESIS_EXAMPLES=200.
EXAMPLES = int(os.environ.get("HOUR_LEDGER_SCHEMATHESIS_EXAMPLES", "12"))
BUDGET_SECONDS = 90 * EXAMPLES / 12
# The default run is the same every time (no flaky failures); a deeper one explores afresh.
DETERMINISTIC = "HOUR_LEDGER_SCHEMATHESIS_EXAMPLES" not in os.environ
# Stateful: sequences of up to STEPS calls; raise both with the examples for a deeper search.
SEQUENCES = 2 * EXAMPLES
STEPS = 6
STATEFUL_BUDGET_SECONDS = 45 * EXAMPLES / 12
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture
def served(tmp_path: Any) -> Iterator[Api]:
    ledger = HourLedger(env=persistence_env(f"sqlite:///{tmp_path / 'ledger.sqlite3'}"))
    try:
        api = Api(ledger)
        with api.client:
            build_world(api)
            yield api
    finally:
        ledger.close()


def operations_in_document(served: Api) -> set[str]:
    """Every operation of the served OpenAPI document, as "METHOD /path"."""
    document = served.client.get("/openapi.json").json()
    return {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item if method in METHODS}


def test_every_operation_answers_as_its_schema_says(served: Api) -> None:
    # Unknown query parameters are ignored, as HTTP APIs do (SPEC's "unknown fields" are a
    # body's): not generated as invalid data.
    config = schemathesis.Config.from_dict({"generation": {"allow-extra-parameters": False}})
    schema = schemathesis.openapi.from_asgi("/openapi.json", served.client.app, config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    exercised: set[str] = set()
    started = time.monotonic()
    failures = []
    for operation in operations:
        # A read waits for `min_position` and answers 503 after a few seconds when the log is
        # not that far (as SPEC says): pinned to 0, so that every 5xx is a finding.
        pinned = {"min_position": 0} if any(p.name == "min_position" for p in operation.query) else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=DETERMINISTIC,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode, query=pinned))
            def answers_as_declared(case: Any) -> None:
                exercised.add(case.operation.label)
                case.call_and_validate(headers=served.admin.headers, checks=CHECKS)

            try:
                answers_as_declared()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (e.g. GET /healthz)
            except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - try every operation, report all
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)
    assert exercised == operations_in_document(served)
    assert time.monotonic() - started < BUDGET_SECONDS


class SequenceWorld:
    """The world of `build_world` afresh for every sequence: an ASGI app that hands each request
    to the copy of the sequence running now. Hypothesis runs a sequence again and again while it
    explores, and each run must meet the state the first met."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "world.sqlite3"
        ledger = HourLedger(env=persistence_env(f"sqlite:///{self.template}"))
        try:
            api = Api(ledger)
            with api.client:
                self.world = build_world(api)
            self.headers = api.admin.headers
        finally:
            ledger.close()
        self.copies = 0
        self.current: tuple[HourLedger, TestClient, Path] | None = None
        self.open()  # the copy that serves the document

    def open(self) -> None:
        self.copies += 1
        copy = self.directory / f"sequence-{self.copies}.sqlite3"
        with closing(sqlite3.connect(self.template)) as source, closing(sqlite3.connect(copy)) as target:
            source.backup(target)
        ledger = HourLedger(env=persistence_env(f"sqlite:///{copy}"))
        client = TestClient(create_app(ledger, limit_rates=False), raise_server_exceptions=False)
        client.__enter__()  # the copy's lifespan: its followers
        self.current = (ledger, client, copy)

    def close(self) -> None:
        if self.current is not None:
            ledger, client, copy = self.current
            client.__exit__(None, None, None)
            ledger.close()
            copy.unlink()
            self.current = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # each copy's lifespan is its own client's (`open`)
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert self.current is not None
        await self.current[1].app(scope, receive, send)


@pytest.fixture
def sequence_world(tmp_path: Path) -> Iterator[SequenceWorld]:
    world = SequenceWorld(tmp_path)
    try:
        yield world
    finally:
        world.close()


def test_sequences_that_follow_the_links_answer_as_the_schema_says(sequence_world: SequenceWorld) -> None:
    world = sequence_world.world
    config = schemathesis.Config.from_dict({
        "headers": sequence_world.headers,
        "generation": {"allow-extra-parameters": False},
        # Bodies that name the world's organisation and point (a new volunteer's organisation,
        # an exchange point's key) mostly pass; random ids would all be refused.
        "dictionaries": {"organizations": {"values": [world.org]}, "points": {"values": [world.point]}},
        "parameters": {
            "body.organization_id": {"dictionary": "organizations", "probability": 0.9},
            "body.exchange_point_id": {"dictionary": "points", "probability": 0.9},
        },
        # Invalid data is the run above's; here valid calls carry what the last one made.
        # The document's own links (api/openapi.py), not guessed ones: a sequence's few steps go
        # from what is created to where it is read.
        "phases": {"stateful": {"generation": {"mode": "positive"}, "inference": {"algorithms": []}}},
    })
    schema = schemathesis.openapi.from_asgi("/openapi.json", sequence_world, config=config)
    followed: set[tuple[str, str, int]] = set()  # (from, to, status) of each link taken
    failures: list[str] = []
    labels: dict[str, str] = {}  # case id → operation

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            sequence_world.close()
            sequence_world.open()

        def before_call(self, case: Any) -> None:
            if case.query and "min_position" in case.query:
                case.query["min_position"] = 0  # as above: every 5xx is a finding

        def step(self, input: Any) -> Any:
            labels[input.case.id] = input.case.operation.label
            output = super().step(input)
            if input.transition is not None and input.is_applied:
                followed.add((labels.get(input.transition.parent_id, "?"), input.case.operation.label, output.response.status_code))
            return output

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            # Collected, not raised: a failing sequence is reported with its request as found.
            try:
                case.validate_response(
                    response, checks=[*CHECKS, ensure_resource_availability, use_after_free],
                    transport_kwargs=kwargs or None, recorder=self.recorder,
                )
            except FailureGroup as failure:
                failures.append(f"{case.operation.label}: {failure}")

    started = time.monotonic()
    Sequences.run(settings=settings(
        max_examples=SEQUENCES, stateful_step_count=STEPS, deadline=None, database=None,
        derandomize=DETERMINISTIC, suppress_health_check=list(HealthCheck),
    ))
    assert not failures, "\n\n".join(failures)
    # Sequences went from what they created to where it is read (not merely generated ids).
    found = {(source, target) for source, target, status in followed if status < 300}
    assert len(found) >= 5, sorted(followed)
    assert time.monotonic() - started < STATEFUL_BUDGET_SECONDS
