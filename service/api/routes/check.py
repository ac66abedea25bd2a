from typing import Any

from fastapi import APIRouter, Request

from service.api.http import JSONResponse, JSONRoute
from service.api.routes.deps import SettingsDep
from service.api.routes.gradients import ERRORS, engine_json, offload, report_of, tolerance_json
from service.domain.compute import REFERENCE
from service.domain.grading import Finding, Grade, grade
from service.domain.problem import Prepared, candidate_values, check_network, prepare
from service.domain.sizes import check_check_answer
from service.schemas.models import CheckRequest, CheckResponse

router = APIRouter(tags=["gradients"], route_class=JSONRoute)


@router.post(
    "/gradients/check",
    response_model=CheckResponse,
    responses=ERRORS,
    summary="Grade your own loss, prediction and gradients against the reference",
)
async def check(body: CheckRequest, request: Request, settings: SettingsDep) -> JSONResponse:
    check_network(body.network.layers, settings)
    check_check_answer(body, settings)  # before a weight is drawn
    prepared = prepare(body, settings)
    return await offload(request, prepared.plan.cost, settings.inline_cost, respond, body, prepared)


def respond(body: CheckRequest, prepared: Prepared) -> JSONResponse:
    expected = engine_json(report_of(prepared).reference, prepared.single)
    graded = grade(
        candidate_values(body.candidate),
        expected,
        prepared.plan.tolerance,
        body.max_mismatches,
        batch=prepared.problem.x.shape[0],
    )
    return JSONResponse(
        {
            "reference": REFERENCE,
            "expected": expected,
            "report": grade_json(graded),
            "dtype": prepared.problem.dtype.name,
            "tolerance": tolerance_json(prepared.plan.tolerance),
        }
    )


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "status": f.status,
        "expected_shape": f.expected_shape,
        "shape": f.shape,
        "entries": f.entries,
        "correct": f.correct,
        "max_abs": f.max_abs,
        "max_rel": f.max_rel,
        "agree": f.agree,
        "mismatch_count": f.mismatch_count,
        "mismatches": [m.__dict__ for m in f.mismatches],
        "hint": f.hint,
    }


def grade_json(g: Grade) -> dict[str, Any]:
    quantity = {name: finding_json(f) for name, f in g.quantities.items()}
    return {
        "verdict": "pass" if g.passed else "fail",
        "score": g.score,
        "correct": g.correct,
        "total": g.total,
        "loss": quantity.get("loss"),
        "prediction": quantity.get("prediction"),
        "input_gradient": quantity.get("input_gradient"),
        "gradients": {name: finding_json(f) for name, f in g.gradients.items()},
        "missing": [name for name, f in g.gradients.items() if f.status == "missing"],
        "unexpected": g.unexpected,
    }
