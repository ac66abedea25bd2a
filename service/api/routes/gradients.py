from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from service.api.http import JSONResponse, JSONRoute, base64_arrays, heavy_turns
from service.api.observability import observe_report
from service.api.routes.deps import SettingsDep
from service.domain.compare import Deviation, Tolerance
from service.domain.compute import REFERENCE, EngineDeviation, Report, compute
from service.domain.problem import Prepared, check_network, prepare
from service.domain.sizes import check_gradients_answer
from service.engines import EngineResult, TraceStep
from service.schemas.models import ErrorResponse, GradientsRequest, GradientsResponse

router = APIRouter(tags=["gradients"], route_class=JSONRoute)

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
    report = compute(prepared.problem, prepared.plan.engines, prepared.plan.tolerances)
    observe_report(report)
    return report


@router.post(
    "/gradients",
    response_model=GradientsResponse,
    responses=ERRORS,
    summary="Loss, prediction and gradients from every engine, and how far apart they are",
)
async def gradients(
    body: GradientsRequest, request: Request, settings: SettingsDep
) -> JSONResponse:
    check_network(body.network.layers, settings)
    check_gradients_answer(body, settings)  # before a weight is drawn
    engines = [*body.engines, *(["manual"] if body.trace else [])]  # the trace is manual's
    prepared = prepare(body, settings, engines, body.learning_rate, body.numeric)
    return await offload(request, prepared.plan.cost, settings.inline_cost, respond, body, prepared)


def respond(body: GradientsRequest, prepared: Prepared) -> JSONResponse:
    content = report_json(report_of(prepared), prepared, body.trace)
    return JSONResponse(base64_arrays(content) if body.encoding == "base64" else content)


# --- shaping the answer ------------------------------------------------------------------------


def per_point(values: np.ndarray, single: bool) -> np.ndarray:
    """Drop the batch axis when x was one point, as torch does for `net(x)` with a 1-D x."""
    return values[0] if single else values


def tolerance_json(t: Tolerance) -> dict[str, float]:
    return {"atol": t.atol, "rtol": t.rtol}


def deviation_json(d: Deviation) -> dict[str, Any]:
    return {"max_abs": d.max_abs, "max_rel": d.max_rel, "agree": d.agree}


def engine_deviation_json(d: EngineDeviation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "loss": deviation_json(d.loss),
        "prediction": deviation_json(d.prediction),
        "gradients": {k: deviation_json(v) for k, v in d.gradients.items()},
        "input_gradient": deviation_json(d.input_gradient),
    }
    if d.updated_weights is not None:
        out["updated_weights"] = {k: deviation_json(v) for k, v in d.updated_weights.items()}
    out |= {
        "max_abs": d.overall.max_abs,
        "max_rel": d.overall.max_rel,
        "agree": d.overall.agree,
        "tolerance": tolerance_json(d.tolerance),
    }
    return out


def engine_json(result: EngineResult, single: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "loss": result.loss,
        "prediction": per_point(result.prediction, single),
        "gradients": result.gradients,
        "input_gradient": per_point(result.input_gradient, single),
    }
    if result.updated_weights is not None:
        out["updated_weights"] = result.updated_weights
    return out


def trace_json(step: TraceStep, single: bool) -> dict[str, Any]:
    """One layer's values, named as the derivation names them: a linear layer maps its input to
    z, an activation maps z to a; any other kind maps input to output."""

    def values(array: np.ndarray) -> np.ndarray:
        return per_point(array, single)

    kind = step.layer.kind
    if kind == "linear":
        names = ("input", "z", "grad_z", "grad_input")
    elif step.layer.elementwise:
        names = ("z", "a", "grad_a", "grad_z")
    else:
        names = ("input", "output", "grad_output", "grad_input")
    arrays = (step.input, step.output, step.grad_output, step.grad_input)
    out: dict[str, Any] = {"index": step.index, "type": kind}
    out |= {name: values(array) for name, array in zip(names, arrays, strict=True)}
    if step.extras:  # per sample where batch-first like the layer's input or output
        sample_ndim = {step.input.ndim, step.output.ndim}
        out["values"] = {
            name: values(array) if array.ndim in sample_ndim else array
            for name, array in step.extras.items()
        }
    return out


def report_json(report: Report, prepared: Prepared, trace: bool) -> dict[str, Any]:
    single = prepared.single
    out = engine_json(report.reference, single)
    manual = report.results.get("manual")
    if trace and manual is not None and manual.trace is not None:
        out["trace"] = [trace_json(step, single) for step in manual.trace]
    return {
        "reference": REFERENCE,
        **out,
        "engines": {
            name: engine_json(result, single) | {"elapsed_ms": result.elapsed_ms}
            for name, result in report.results.items()
        },
        "deviations": {name: engine_deviation_json(d) for name, d in report.deviations.items()},
        "agree": report.agree,
        "dtype": prepared.problem.dtype.name,
        "tolerance": tolerance_json(prepared.plan.tolerance),
    }
