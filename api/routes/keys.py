"""API keys: issued and revoked by admins; the secret is shown once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from api import views
from api.auth import ActorDep, LedgerDep
from api.routes import problems
from api.schemas import ApiKeyIn, ApiKeyOut

router = APIRouter(prefix="/v1", tags=["api keys"])


@router.post("/api-keys", status_code=201, response_model=ApiKeyOut, responses=problems(404), operation_id="createApiKey")
def issue_api_key(body: ApiKeyIn, actor: ActorDep, ledger: LedgerDep) -> Any:
    """Issues an API key (admins): its `secret` is in this answer only; the ledger keeps its hash."""
    key, secret = ledger.keys.issue(
        actor, body.role, body.name, region_prefix=body.region_code, exchange_point_id=body.exchange_point_id
    )
    return views.api_key(key, secret)


@router.get("/me", responses=problems(), operation_id="getMe")
def who_am_i(actor: ActorDep) -> Any:
    """The key the request is made with: its role and scope (what the console shows)."""
    return {
        "key_id": actor.key_id,
        "name": actor.name,
        "role": actor.role.value,
        "region_code": actor.region_prefix,
        "exchange_point_id": actor.exchange_point_id,
    }


@router.delete("/api-keys/{key_id}", status_code=204, response_class=Response, responses=problems(404), operation_id="revokeApiKey")
def revoke_api_key(key_id: UUID, actor: ActorDep, ledger: LedgerDep) -> Response:
    """Revokes an API key (admins), effective at once."""
    ledger.keys.revoke(actor, key_id)
    return Response(status_code=204)
