"""Posting transactions, one or a batch, and reading one back."""

from __future__ import annotations

from collections import Counter
from datetime import tzinfo
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool

from api import views
from api.auth import ActorDep, LedgerDep, at_own_counter, require_reader
from api.metrics import Metrics
from api.problems import ledger_problem, request_language, said, validation_problem, zone_of
from api.routes import problems
from api.schemas import BatchIn, BatchOut, TransactionIn, TransactionOut
from api.transaction_json import json_response, transaction_document
from ledger.actors import Actor, Role
from ledger.application import HourLedger, NotApplied, Posted
from ledger.commands import Command
from ledger.errors import ForbiddenError, LedgerError
from ledger.messages import Language

router = APIRouter(prefix="/v1", tags=["transactions"])

# One transaction's body, as the batch route checks each item and the posting lane
# (api/posting_lane.py) checks the body of a single posting.
TRANSACTION = TypeAdapter(TransactionIn)


@router.post(
    "/transactions", status_code=201, response_model=TransactionOut, operation_id="postTransaction",
    responses={200: {"model": TransactionOut, "description": "This id was posted before with this body"}, **problems(404, 409)},
    response_model_exclude_unset=True,
)
async def post_transaction(body: TransactionIn, actor: ActorDep, ledger: LedgerDep, request: Request) -> Response:
    """Posts one transaction of any type (service record, time-bank deposit, withdrawal,
    transfer, donation, grant, redemption, reversal). Its client-chosen `id` makes retries safe:
    the same body again answers 200 with the original; another body, 409
    `transaction_id_conflict`. The answer carries the transaction's `position` in the log."""
    # The posting's one trip to the thread pool (the key was checked on the event loop when
    # this process knew it): the store is never asked on the event loop.
    result = await run_in_threadpool(ledger.post, actor, body.command())
    if result.created:
        request.app.state.metrics.posted(result.transaction.type)
    return json_response(transaction_document(views.posted(result)), 201 if result.created else 200)


@router.post(
    "/transactions/batch", response_model=BatchOut, responses=problems(), response_model_exclude_unset=True,
    operation_id="postTransactionBatch",
)
async def post_batch(body: BatchIn, actor: ActorDep, ledger: LedgerDep, request: Request) -> Response:
    """Up to 1,000 transactions; one result per item, in order, as the single call would answer.

    `atomic: true` records all or none: when an item fails, nothing is recorded and every other
    item answers 424 `not_applied`."""
    language, zone, metrics = request_language(request), zone_of(request), request.app.state.metrics
    # Checking a thousand items and writing their answers is work for the thread pool too.
    results = await run_in_threadpool(batch_results, body, actor, ledger, language, zone, metrics)
    return json_response({"results": results})


def batch_results(
    body: BatchIn, actor: Actor, ledger: HourLedger, language: Language, zone: tzinfo, metrics: Metrics
) -> list[dict[str, Any]]:
    """Each item's answer, as `BatchOut` declares them."""
    commands: list[Command | dict[str, Any]] = []
    for item in body.transactions:
        try:
            commands.append(TRANSACTION.validate_python(item).command())
        except PydanticValidationError as error:
            commands.append(validation_problem(list(error.errors()), language))
        except LedgerError as error:
            commands.append(ledger_problem(error, language, zone))

    invalid = [i for i, c in enumerate(commands) if isinstance(c, dict)]
    if body.atomic and invalid:
        return [
            _not_applied(invalid[0], language) if i != invalid[0] else _failed(commands[i])  # type: ignore[arg-type]
            for i in range(len(commands))
        ]

    valid = [(i, c) for i, c in enumerate(commands) if isinstance(c, Command)]
    outcomes = ledger.post_batch(actor, [c for _, c in valid], atomic=body.atomic)
    results: list[dict[str, Any]] = [_failed(c) if isinstance(c, dict) else {} for c in commands]
    created: Counter[str] = Counter()
    for (index, _), outcome in zip(valid, outcomes):
        results[index] = _result(outcome, valid, language, zone)
        if isinstance(outcome, Posted) and outcome.created:
            created[outcome.transaction.type] += 1
    for transaction_type, count in created.items():  # a label's look-up is dearer than a count
        metrics.posted(transaction_type, count)
    return results


def _result(
    outcome: Posted | LedgerError | NotApplied, valid: list[tuple[int, Command]], language: Language, zone: Any
) -> dict[str, Any]:
    if isinstance(outcome, Posted):
        return {"status": 201 if outcome.created else 200, "transaction": transaction_document(views.posted(outcome))}
    if isinstance(outcome, NotApplied):
        return _not_applied(valid[outcome.failed_index][0], language)
    return _failed(ledger_problem(outcome, language, zone))


def _failed(error: dict[str, Any]) -> dict[str, Any]:
    return {"status": error["status"], "error": error}


def _not_applied(failed_index: int, language: Language) -> dict[str, Any]:
    return _failed(said(424, "not_applied", language, "not_applied", index=failed_index))


@router.get(
    "/transactions/{transaction_id}", response_model=TransactionOut, responses=problems(404),
    response_model_exclude_unset=True, operation_id="getTransaction",
)
def get_transaction(transaction_id: UUID, actor: ActorDep, ledger: LedgerDep) -> Any:
    """One transaction as posted, with its legs, who posted it, its position and any reversal."""
    found = ledger.get_transaction(transaction_id)
    if actor.role is Role.EXCHANGE_POINT:
        # A counter reads its own point's redemptions and their reversals (its receipts).
        original = found if found.reverses is None else ledger.get_transaction(found.reverses)
        if original.type != "redemption" or not at_own_counter(actor, original.content.get("exchange_point_id")):
            raise ForbiddenError("counter_reads_own_point")
        return views.transaction(found, ledger.position_of(found.id))
    require_reader(actor)
    for what, region_code in ledger.regions_of(found):
        actor.require_region(region_code, what)
    return views.transaction(found, ledger.position_of(found.id))
