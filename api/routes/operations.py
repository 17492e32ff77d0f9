"""For those who run the service: readiness (`/readyz`) and Prometheus metrics (`/metrics`).
`/healthz`, liveness, is in `api/app.py`: it asks nothing of the database.

Ready means: the database answers; none of the read models, the lists and the audit tree has
been more than `HOUR_LEDGER_READY_MAX_LAG` events behind the log without moving for longer than
`HOUR_LEDGER_READY_STALL_SECONDS` (positions measured from those stored in the database, so it
holds wherever the followers run: `serve --workers N`, `--no-projections` beside `hour-ledger
projections follow`); and, in a process meant to run the followers, that they are running.

Why moving counts: a burst of batches from 8 exchange points puts 30,000 events in the log in
seconds, and the followers read them a few seconds later. Measured by the lag alone, every
instance (they share the log) answered 503 in the middle of such a burst, a load balancer would
have taken them all out at once, and for nothing: a read waits for the position it needs. A
follower that does not move while it is behind is what readiness is for."""

from __future__ import annotations

import threading
import time
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


class FollowerProgress:
    """What this process's readiness checks remember of each follower: its position and when it
    was last fine (at most the allowed lag behind, or moved since the check before)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, float]] = {}  # name -> (position, when last fine)
        self._lock = threading.Lock()

    def stalled(self, name: str, position: int, behind: bool, within: float, now: float | None = None) -> bool:
        """Whether the follower has been `behind` (more than the allowed lag) without moving for
        more than `within` seconds. Never seen fine, it has: a process that starts beside a
        stopped follower far behind is not ready."""
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._seen.get(name)
            fine = not behind or (seen is not None and position > seen[0])
            last_fine = now if fine else (float("-inf") if seen is None else seen[1])
            self._seen[name] = (position, last_fine)
        return not fine and now - last_fine > within


def check(app_state: Any, language: Language) -> tuple[list[str], dict[str, Any]]:
    """(reasons not to be ready, in `language`; what was measured)."""
    ledger, read_models, lists, audit = app_state.ledger, app_state.read_models, app_state.lists, app_state.audit
    follows_here = bool(getattr(app_state, "follows", False))
    max_lag = ledger.settings.ready_max_lag
    stall_seconds = ledger.settings.ready_stall_seconds
    progress: FollowerProgress = app_state.follower_progress
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
        # Asked every time, behind or not: it remembers when each follower was last fine.
        stalled = progress.stalled(name, positions[name], lag > max_lag, stall_seconds)
        found[name].update(position=positions[name], lag=lag)
        if follows_here and not found[name]["following_here"]:
            reasons.append(render("not_ready_follower", {"what": Thing(what)}, language))
        elif stalled:
            reasons.append(render("not_ready_lag", {"what": Thing(what), "lag": lag, "max": max_lag}, language))
    return reasons, found


@router.get(
    "/readyz", response_model=ReadinessOut, responses=problems(), operation_id="getReadiness",
)
async def readiness(request: Request) -> Any:
    """Readiness for a load balancer or an orchestrator: 200 `{"status": "ready", …}` when the
    database answers and the read models, the lists and the audit tree keep up with the log (at most
    `HOUR_LEDGER_READY_MAX_LAG` events behind, or moving, for `HOUR_LEDGER_READY_STALL_SECONDS`;
    their followers running where they should);
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

