from fastapi import APIRouter, Request

from service.api.http import JSONResponse, JSONRoute
from service.api.routes.common import ERRORS, offload, report_of
from service.api.routes.deps import SettingsDep
from service.domain.answers import check_answer, expected
from service.domain.grading import grade
from service.domain.problem import Prepared, candidate_values, prepare, sizing
from service.domain.sizes import check_check_answer
from service.schemas.models import CheckRequest
from service.schemas.responses import CheckResponse

router = APIRouter(tags=["gradients"], route_class=JSONRoute)


@router.post(
    "/gradients/check",
    response_model=CheckResponse,
    responses=ERRORS,
    summary="Grade your own loss, prediction and gradients against the reference",
)
async def check(body: CheckRequest, request: Request, settings: SettingsDep) -> JSONResponse:
    sized = sizing(body, settings)  # the network's limits, then x's shape through it
    check_check_answer(body, sized, settings)  # before a weight is drawn
    prepared = prepare(body, settings, sized=sized)
    return await offload(request, prepared.plan.cost, settings.inline_cost, respond, body, prepared)


def respond(body: CheckRequest, prepared: Prepared) -> JSONResponse:
    reference = expected(report_of(prepared).reference, prepared.single)
    report = grade(
        candidate_values(body.candidate),
        reference,
        prepared.plan.tolerance,
        body.max_mismatches,
        batch=prepared.problem.x.shape[0],
        problem=prepared.problem,
    )
    return JSONResponse(check_answer(reference, report, prepared, body.return_weights))
