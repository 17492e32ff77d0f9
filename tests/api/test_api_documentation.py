"""The API describes itself for people and for code generators: `/docs` works with no internet
(its page and every asset it loads come from the service itself), and the OpenAPI document
validates, gives every operation a stable camelCase id and a description, and documents its
errors as `application/problem+json` problem details."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from typing import Any, get_args, get_origin

import pytest
from fastapi.routing import APIRoute
from openapi_spec_validator import validate
from pydantic import BaseModel

from api.local_time import LOCAL_TIME
from ledger.application import HourLedger
from ledger.persistence import persistence_env
from tests.support.api_client import Api

# The operations SPEC's clients call, by their stable ids.
STABLE_IDS = {
    ("post", "/v1/transactions"): "postTransaction",
    ("post", "/v1/transactions/batch"): "postTransactionBatch",
    ("get", "/v1/transactions/{transaction_id}"): "getTransaction",
    ("get", "/v1/volunteers/{volunteer_id}/balance"): "getBalance",
    ("get", "/v1/volunteers/{volunteer_id}/statement"): "getStatement",
    ("get", "/v1/stats/summary"): "getStatsSummary",
    ("get", "/v1/stats/breakdown"): "getStatsBreakdown",
    ("post", "/v1/volunteers"): "createVolunteer",
    ("post", "/v1/organizations"): "createOrganization",
    ("post", "/v1/api-keys"): "createApiKey",
    ("get", "/healthz"): "getHealth",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    directory = tmp_path_factory.mktemp("docs")
    ledger = HourLedger(env=persistence_env(f"sqlite:///{directory / 'ledger.sqlite3'}"))
    try:
        api = Api(ledger)
        with api.client:
            yield api
    finally:
        ledger.close()


class Links(HTMLParser):
    """Every address a page would load: scripts, styles, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.addresses.append(value)


def test_docs_load_nothing_from_another_host(served: Api) -> None:
    page = served.client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert not re.search(r"(https?:)?//[a-z0-9]", page.text, re.IGNORECASE), "the page names another host"
    links = Links()
    links.feed(page.text)
    assert len(links.addresses) >= 3, links.addresses  # the script, the style sheet, the icon
    for address in links.addresses:
        asset = served.client.get(address)
        assert asset.status_code == 200, address
        assert len(asset.content) > 100, address
    script = next(a for a in links.addresses if a.endswith(".js"))
    assert b"SwaggerUIBundle" in served.client.get(script).content
    # The page asks for the document it describes, here.
    assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
    assert served.client.get("/redoc").status_code == 404  # ReDoc would need a CDN


def test_the_openapi_document_validates(served: Api) -> None:
    document = served.client.get("/openapi.json").json()
    validate(document)
    assert document["openapi"].startswith("3.1")


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_every_operation_has_a_stable_id_and_a_description(served: Api) -> None:
    document = served.client.get("/openapi.json").json()
    ids = []
    for method, path, operation in operations(document):
        assert re.fullmatch(r"[a-z]+[A-Za-z0-9]*", operation.get("operationId", "")), (method, path, operation.get("operationId"))
        assert len(operation.get("description", "").strip()) >= 20, f"{method.upper()} {path} has no description"
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids)), "operation ids repeat"
    for (method, path), expected in STABLE_IDS.items():
        assert document["paths"][path][method]["operationId"] == expected


def test_every_route_of_the_app_declares_its_id_and_description(served: Api) -> None:
    # Checked on the routes themselves, so that a route added later without them fails here
    # (FastAPI would otherwise invent an id from the function's name and path).
    for route in served.client.app.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            assert route.operation_id, f"{route.path} has no operation_id"
            assert (route.description or "").strip(), f"{route.path} has no docstring"


def test_errors_are_documented_as_problem_details(served: Api) -> None:
    document = served.client.get("/openapi.json").json()
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) >= {"type", "title", "status", "detail", "code"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    errors = 0
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                errors += 1
                assert response["content"] == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, (method, path, status)
    assert errors > 100


def bare_datetimes(annotation: Any, seen: set[Any]) -> Iterator[str]:
    """Where a response model shows a datetime without `LocalTime`."""
    if annotation is datetime:
        yield "datetime"
        return
    metadata = getattr(annotation, "__metadata__", ())
    if LOCAL_TIME in metadata:
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for name, field in annotation.model_fields.items():
            if LOCAL_TIME in field.metadata:
                continue
            for found in bare_datetimes(field.annotation, seen):
                yield f"{annotation.__name__}.{name}"
        return
    for argument in get_args(annotation) if get_origin(annotation) is not None or metadata else ():
        yield from bare_datetimes(argument, seen)


def test_every_time_a_response_model_shows_is_local_time(served: Api) -> None:
    found = []
    for route in served.client.app.routes:
        if isinstance(route, APIRoute) and route.response_model is not None:
            found += [f"{route.path}: {where}" for where in bare_datetimes(route.response_model, set())]
    assert not found, "declare these as api.local_time.LocalTime:\n" + "\n".join(found)
