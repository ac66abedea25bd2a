"""What the routers share: the error answers they document, and where their maths runs."""

from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from service.api.http import JSONResponse, heavy_turns
from service.api.observability import observe_report
from service.domain.compute import Report, compute
from service.domain.problem import Prepared
from service.schemas.responses import ErrorResponse

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not valid JSON."},
    408: {"model": ErrorResponse, "description": "The body did not arrive in time."},
    413: {
        "model": ErrorResponse,
        "description": "The body is larger than the configured limit, or holds more arrays "
        "and objects than it.",
    },
    415: {
        "model": ErrorResponse,
        "description": "The body is not sent as JSON (`Content-Type: application/json`), or "
        "is compressed (`Content-Encoding`).",
    },
    422: {
        "model": ErrorResponse,
        "description": "A field is invalid; `detail` names it and says what was expected. "
        "Besides this schema, a request must meet rules that span fields: linear layers chain, "
        "weights have the network's names and shapes, x and y fit the network, sizes are "
        "within the limits (the answer's too), and the maths stays finite.",
    },
}


async def offload(
    request: Request, cost: int, inline_cost: int, work: Callable[..., JSONResponse], *args: Any
) -> JSONResponse:
    """`work(*args)`, which computes and writes an answer: on the event loop when it costs
    little; else in a worker thread, in the request's heavy turn (service.api.http.HeavyTurns)."""
    if cost <= inline_cost:
        return work(*args)
    await heavy_turns(request).take(request.scope)
    return await run_in_threadpool(work, *args)


def report_of(prepared: Prepared) -> Report:
    report = compute(prepared.problem, prepared.plan, prepared.single)
    observe_report(report)
    return report
