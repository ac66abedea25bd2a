from typing import Any

import numpy as np
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from service.compare import Deviation
from service.compute import REFERENCE, Report, compute
from service.engines import EngineResult
from service.http import JSONResponse, JSONRoute
from service.models import ErrorResponse, GradientsRequest, GradientsResponse
from service.problem import Prepared, prepare
from service.routes.deps import SettingsDep

router = APIRouter(tags=["gradients"], route_class=JSONRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not valid JSON."},
    413: {"model": ErrorResponse, "description": "The body is larger than the configured limit."},
    422: {
        "model": ErrorResponse,
        "description": "A field is invalid; `detail` names it and says what was expected.",
    },
}


@router.post(
    "/gradients",
    response_model=GradientsResponse,
    responses=ERRORS,
    summary="Loss, prediction and gradients from every engine, and how far apart they are",
)
async def gradients(body: GradientsRequest, settings: SettingsDep) -> JSONResponse:
    prepared = prepare(body, settings)
    problem = prepared.problem
    if problem.x.shape[0] * sum(w.size for w in problem.weights.values()) > settings.inline_cost:
        report = await run_in_threadpool(compute, problem, prepared.tolerance)
    else:
        report = compute(problem, prepared.tolerance)
    return JSONResponse(report_json(report, prepared))


def prediction_json(result: EngineResult, single: bool) -> np.ndarray:
    return result.prediction[0] if single else result.prediction


def deviation_json(d: Deviation) -> dict[str, Any]:
    return {"max_abs": d.max_abs, "max_rel": d.max_rel, "agree": d.agree}


def report_json(report: Report, prepared: Prepared) -> dict[str, Any]:
    single = prepared.single
    reference = report.reference
    return {
        "reference": REFERENCE,
        "loss": reference.loss,
        "prediction": prediction_json(reference, single),
        "gradients": reference.gradients,
        "engines": {
            name: {
                "loss": result.loss,
                "prediction": prediction_json(result, single),
                "gradients": result.gradients,
                "elapsed_ms": result.elapsed_ms,
            }
            for name, result in report.results.items()
        },
        "deviations": {
            name: {
                "loss": deviation_json(d.loss),
                "prediction": deviation_json(d.prediction),
                "gradients": {k: deviation_json(v) for k, v in d.gradients.items()},
                "max_abs": d.overall.max_abs,
                "max_rel": d.overall.max_rel,
                "agree": d.overall.agree,
            }
            for name, d in report.deviations.items()
        },
        "agree": report.agree,
        "dtype": prepared.problem.dtype.name,
        "tolerance": {"atol": report.tolerance.atol, "rtol": report.tolerance.rtol},
    }
