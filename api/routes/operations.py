"""For those who run the service: readiness (`/readyz`) and Prometheus metrics (`/metrics`).
`/healthz`, liveness, is in `api/app.py`: it asks nothing of the database.

Ready means: the database answers, and the read models, the lists and the audit tree are at most
`HOUR_LEDGER_READY_MAX_LAG` events behind the log (measured from the positions stored in the
database, so it holds wherever the followers run: `serve --workers N`, `--no-projections`
beside `hour-ledger projections follow`), and, in a process meant to run the followers, that
they are running."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.metrics import CONTENT_TYPE
from api.problems import problem, problem_response, request_language
from api.routes import problems
from ledger.messages import ENGLISH, Language, Thing, render

router = APIRouter(tags=["operations"])


class Progress(BaseModel):
    position: int | None
    lag: int | None
    following_here: bool


class ReadinessOut(BaseModel):
    status: str
    database: str
    head_position: int | None
    read_models: Progress
    lists: Progress
    audit_tree: Progress
    max_lag: int


def check(app_state: Any, language: Language) -> tuple[list[str], dict[str, Any]]:
    """(reasons not to be ready, in `language`; what was measured)."""
    ledger, read_models, lists, audit = app_state.ledger, app_state.read_models, app_state.lists, app_state.audit
    follows_here = bool(getattr(app_state, "follows", False))
    max_lag = ledger.settings.ready_max_lag
    found: dict[str, Any] = {
        "database": "ok", "head_position": None, "max_lag": max_lag,
        "read_models": {"position": None, "lag": None, "following_here": read_models.following},
        "lists": {"position": None, "lag": None, "following_here": lists.following},
        "audit_tree": {"position": None, "lag": None, "following_here": audit.following},
    }
    reasons = []
    try:
        head = ledger.head_position()
        positions = {
            "read_models": read_models.position(), "lists": lists.position(), "audit_tree": audit.stored_progress()[1],
        }
    except Exception:  # noqa: BLE001 - whatever the store raised, it did not answer
        found["database"] = "unavailable"
        return [render("not_ready_database", {}, language)], found
    found["head_position"] = head
    for name, what in (("read_models", "read models"), ("lists", "lists"), ("audit_tree", "audit tree")):
        lag = max(0, head - positions[name])
        found[name].update(position=positions[name], lag=lag)
        if follows_here and not found[name]["following_here"]:
            reasons.append(render("not_ready_follower", {"what": Thing(what)}, language))
        elif lag > max_lag:
            reasons.append(render("not_ready_lag", {"what": Thing(what), "lag": lag, "max": max_lag}, language))
    return reasons, found


@router.get(
    "/readyz", response_model=ReadinessOut, responses=problems(), operation_id="getReadiness",
)
async def readiness(request: Request) -> Any:
    """Readiness for a load balancer or an orchestrator: 200 `{"status": "ready", …}` when the
    database answers and the read models, the lists and the audit tree keep up with the log (at most
    `HOUR_LEDGER_READY_MAX_LAG` events behind, their followers running where they should);
    else 503 `unavailable`, the reasons in `detail` and the measurements in `checks`. No key."""
    language = request_language(request)
    reasons, found = await run_in_threadpool(check, request.app.state, language)
    if not reasons:
        return {"status": "ready", **found}
    body = problem(503, "unavailable", ("; " if language == ENGLISH else "；").join(reasons), language)
    body["checks"] = found
    return problem_response(body, language, {"Retry-After": "5"})


@router.get(
    "/metrics", response_class=Response, operation_id="getMetrics",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics in the text exposition format: requests and latencies by route and
    status, postings by type, 503s caused by the store, the log's head, the read models' and
    the audit tree's lag, and the tree's size. No key (expose it to your monitoring network only)."""
    body = await run_in_threadpool(request.app.state.metrics.exposition)
    return Response(body, media_type=CONTENT_TYPE)

