"""The OpenAPI document as clients generate code from it: every error response is
`application/problem+json` with the `Problem` schema (RFC 9457, SPEC's `code`), in place of
FastAPI's own `HTTPValidationError`; operation ids and descriptions come from the routes; and
OpenAPI links from what a call creates to where it is read (what a generated client, and the
stateful Schemathesis run in the tests, follow)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.problems import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

BODY_ID = "$response.body#/id"
# (operation id, status) → links of that response: where what it created or answered is read.
LINKS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("createOrganization", "201"): {
        "GetOrganization": {"operationId": "getOrganization", "parameters": {"organization_id": BODY_ID}},
    },
    ("createVolunteer", "201"): {
        "GetVolunteer": {"operationId": "getVolunteer", "parameters": {"volunteer_id": BODY_ID}},
        "OpenTimebank": {"operationId": "openTimebank", "parameters": {"volunteer_id": BODY_ID}},
        "GetBalance": {"operationId": "getBalance", "parameters": {"volunteer_id": BODY_ID}},
        "GetStatement": {"operationId": "getStatement", "parameters": {"volunteer_id": BODY_ID}},
        "GetVolunteerEvents": {"operationId": "getVolunteerEvents", "parameters": {"volunteer_id": BODY_ID}},
        "IssueCertificate": {"operationId": "issueCertificate", "parameters": {"volunteer_id": BODY_ID}},
    },
    ("createExchangePoint", "201"): {
        "GetExchangePoint": {"operationId": "getExchangePoint", "parameters": {"exchange_point_id": BODY_ID}},
        "PutItem": {"operationId": "putItem", "parameters": {"exchange_point_id": BODY_ID}},
        "FindRedemptions": {"operationId": "findRedemptions", "parameters": {"exchange_point_id": BODY_ID}},
    },
    ("createApiKey", "201"): {
        "RevokeApiKey": {"operationId": "revokeApiKey", "parameters": {"key_id": BODY_ID}},
    },
    ("postTransaction", "201"): {
        "GetTransaction": {"operationId": "getTransaction", "parameters": {"transaction_id": BODY_ID}},
        "GetInclusionProof": {"operationId": "getInclusionProof", "parameters": {"position": "$response.body#/position"}},
    },
    ("postTransaction", "200"): {
        "GetTransaction": {"operationId": "getTransaction", "parameters": {"transaction_id": BODY_ID}},
    },
    ("issueCertificate", "201"): {
        "GetCertificate": {"operationId": "getCertificate", "parameters": {"code": "$response.body#/code"}},
        "GetInclusionProof": {"operationId": "getInclusionProof", "parameters": {"position": "$response.body#/position"}},
    },
    ("signAuditCheckpoint", "201"): {
        "GetConsistencyProof": {"operationId": "getConsistencyProof", "parameters": {"to": "$response.body#/tree_size"}},
    },
}


def problem_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with its error responses as problem details (built once)."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags
        )
        for path in document.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    if str(status)[0] in "45":
                        response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
                    links = LINKS.get((operation.get("operationId", ""), str(status)))
                    if links:
                        response["links"] = links
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
    return app.openapi_schema


def install(app: FastAPI) -> None:
    app.openapi = lambda: problem_document(app)  # type: ignore[method-assign]
