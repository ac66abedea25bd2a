from fastapi import APIRouter, Request

from service.api.http import JSONResponse, JSONRoute, base64_arrays
from service.api.routes.common import ERRORS, offload, report_of
from service.api.routes.deps import SettingsDep
from service.domain.answers import gradients_answer
from service.domain.problem import Prepared, prepare, sizing
from service.domain.sizes import check_gradients_answer
from service.schemas.models import GradientsRequest
from service.schemas.responses import GradientsResponse

router = APIRouter(tags=["gradients"], route_class=JSONRoute)


@router.post(
    "/gradients",
    response_model=GradientsResponse,
    responses=ERRORS,
    summary="Loss, prediction and gradients from every engine, and how far apart they are",
)
async def gradients(
    body: GradientsRequest, request: Request, settings: SettingsDep
) -> JSONResponse:
    sized = sizing(body, settings)  # the network's limits, then x's shape through it
    check_gradients_answer(body, sized, settings)  # before a weight is drawn
    engines = [*body.engines, *(["manual"] if body.trace else [])]  # the trace is manual's
    prepared = prepare(body, settings, engines, body.learning_rate, body.numeric, sized)
    return await offload(request, prepared.plan.cost, settings.inline_cost, respond, body, prepared)


def respond(body: GradientsRequest, prepared: Prepared) -> JSONResponse:
    answer = gradients_answer(report_of(prepared), prepared, body.trace, body.return_weights)
    return JSONResponse(base64_arrays(answer) if body.encoding == "base64" else answer)
