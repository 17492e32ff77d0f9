"""The audit of SPEC §6 over HTTP: the verifier key and the latest checkpoint for anyone; the
checkpoints, proofs, the log and `verify` for auditors and admins."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from api.auth import ActorDep, LedgerDep
from api.routes import problems
from api.schemas import AuditLogOut, CheckpointOut, CheckpointsOut, ConsistencyProofOut, InclusionProofOut, VerifyOut
from ledger.actors import Actor, Role
from ledger.errors import NotFoundError, ValidationError
from projections.audit.log import AuditError, AuditLog, NotInTreeError, b64
from projections.audit.store import StoredCheckpoint

router = APIRouter(tags=["audit"])

MAX_PAGE = 1000
Size = Annotated[int, Query(ge=0, le=2**62)]


def audit_of(request: Request) -> AuditLog:
    return request.app.state.audit


def auditor(actor: Actor) -> None:
    actor.require_role(Role.AUDITOR, Role.ADMIN)


def checkpoint_view(checkpoint: StoredCheckpoint) -> dict[str, Any]:
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": b64(checkpoint.root_hash),
        "signed_at": checkpoint.signed_at,
        "note": checkpoint.note,
    }


def answer(call: Any, fields: dict[str, str] | None = None) -> Any:
    """The audit's refusals as the API's problems: no leaf is a 404, a size or range that does
    not exist a 422, about `tree_size` unless `fields` names the parameter for that message."""
    try:
        return call()
    except NotInTreeError as error:
        raise NotFoundError(error.message, **error.params) from None
    except AuditError as error:
        raise ValidationError((fields or {}).get(error.message, "tree_size"), error.message, **error.params) from None


@router.get(
    "/v1/audit/key", response_class=PlainTextResponse, summary="The log's verifier key (C2SP note format)",
    operation_id="getAuditKey", responses=problems(),
)
def get_verifier_key(request: Request) -> PlainTextResponse:
    """Public: the key that verifies every checkpoint, `<name>+<key id>+<base64 key>`."""
    return PlainTextResponse(audit_of(request).verifier_key + "\n")


@router.get(
    "/v1/audit/checkpoint", response_class=PlainTextResponse, summary="The latest signed checkpoint note",
    operation_id="getAuditCheckpoint", responses=problems(),
)
def get_checkpoint(request: Request) -> PlainTextResponse:
    """Public: the latest signed tree head, as a C2SP signed note (keep it: it pins the history)."""
    return PlainTextResponse(audit_of(request).latest_checkpoint().note)


@router.get("/v1/audit/checkpoints", response_model=CheckpointsOut, responses=problems(), operation_id="listAuditCheckpoints")
def list_checkpoints(
    request: Request,
    actor: ActorDep,
    after: Annotated[int, Query(ge=-1, le=2**62, description="A tree size: checkpoints of larger trees")] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> Any:
    """Signed checkpoints, oldest first, of trees larger than `after`; `next` pages."""
    auditor(actor)
    found = audit_of(request).checkpoints(after, limit)
    following = found[-1].tree_size if len(found) >= limit else None
    return {"checkpoints": [checkpoint_view(c) for c in found], "next": following}


@router.post(
    "/v1/audit/checkpoints", status_code=201, response_model=CheckpointOut, responses=problems(),
    operation_id="signAuditCheckpoint",
)
def sign_checkpoint(request: Request, actor: ActorDep) -> Any:
    """Signs a checkpoint of the tree now, if it grew since the latest (else answers the latest)."""
    auditor(actor)
    checkpoint, _ = answer(audit_of(request).sign_checkpoint)
    return checkpoint_view(checkpoint)


@router.get(
    "/v1/audit/proofs/inclusion", response_model=InclusionProofOut, responses=problems(404),
    operation_id="getInclusionProof",
)
def inclusion_proof(
    request: Request,
    actor: ActorDep,
    position: Annotated[int, Query(ge=1, le=2**62)],
    tree_size: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Any:
    """The RFC 9162 inclusion path of the event at `position` in the tree of `tree_size` leaves
    (by default, the latest checkpoint's)."""
    auditor(actor)
    proof = answer(lambda: audit_of(request).inclusion_proof(position, tree_size))
    return {key: proof[key] for key in ("leaf_index", "tree_size", "leaf_hash", "hashes")}


@router.get(
    "/v1/audit/proofs/consistency", response_model=ConsistencyProofOut, responses=problems(),
    operation_id="getConsistencyProof",
)
def consistency_proof(
    request: Request,
    actor: ActorDep,
    from_: Annotated[int, Query(alias="from", ge=0, le=2**62)],
    to: Annotated[int, Query(ge=0, le=2**62)],
) -> Any:
    """The RFC 9162 consistency proof between the trees of `from` and `to` leaves."""
    auditor(actor)
    hashes = answer(
        lambda: audit_of(request).consistency_proof(from_, to), {"audit_range": "from", "audit_size_beyond": "to"}
    )
    return {"from": from_, "to": to, "hashes": [b64(h) for h in hashes]}


@router.get("/v1/audit/log", response_model=AuditLogOut, responses=problems(), operation_id="getAuditLog")
def audit_log(
    request: Request,
    actor: ActorDep,
    ledger: LedgerDep,
    after: Annotated[int, Query(ge=-1, le=2**62, description="A leaf index: the leaves after it")] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> Any:
    """The log's leaves after `after`, each with its canonical record as hashed (times in UTC)."""
    auditor(actor)
    entries, following = audit_of(request).entries(after, limit)
    if actor.region_prefix:
        entries = [e for e in entries if visible_to(actor, ledger, e)]
    return {"events": entries, "next": following}


def visible_to(actor: Actor, ledger: Any, entry: dict[str, Any]) -> bool:
    """A region-scoped auditor reads the events of things inside its region only."""
    regions = ledger.regions_of_thing(UUID(entry["originator_id"])) if "originator_id" in entry else None
    prefix = actor.region_prefix or ""
    return bool(regions) and all(region.startswith(prefix) for region in regions)


@router.get("/v1/audit/verify", response_model=VerifyOut, responses=problems(), operation_id="verifyAuditLog")
async def verify(request: Request, actor: ActorDep) -> Any:
    """Recomputes every leaf from the stored events and checks every stored checkpoint's root
    and signature; names the first bad position."""
    auditor(actor)
    report = await run_in_threadpool(audit_of(request).verify)
    return report.as_dict()
