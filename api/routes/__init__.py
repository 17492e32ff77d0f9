"""The HTTP routes of SPEC §3, one module per kind of resource."""

from __future__ import annotations

from typing import Any

from api.schemas import Problem

_PROBLEM = {"model": Problem, "description": "A problem (RFC 9457), with SPEC's `code`"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route can give (400: malformed JSON, 413: a
    body over the cap, 415: a body that is not JSON and 429: a client over its rate limit can
    come from any request, before the route runs). `api/openapi.py` gives each the
    `application/problem+json` content."""
    return {status: _PROBLEM for status in (400, 401, 403, 413, 415, 422, 429, 503, *statuses)}
