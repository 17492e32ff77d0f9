"""The HTTP routes of SPEC §3, one module per kind of resource."""

from __future__ import annotations

from typing import Any

from api.schemas import Problem

_PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route can give."""
    return {status: _PROBLEM for status in (401, 403, 422, 503, *statuses)}
