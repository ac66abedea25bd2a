"""Probes: liveness (/healthz, the process answers) and readiness (/readyz, the self-check
passed). Neither needs the API key."""

from fastapi import APIRouter, Request

from service import __version__
from service.api.http import JSONResponse, JSONRoute
from service.api.readiness import ReadinessState
from service.domain.compute import ENGINES
from service.schemas.responses import Health, Readiness

router = APIRouter(tags=["health"], route_class=JSONRoute)


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> JSONResponse:
    return JSONResponse(Health(status="ok", version=__version__, engines=list(ENGINES)))


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Starting, or the self-check failed."}},
    summary="Readiness: the start-up self-check passed",
)
async def readyz(request: Request) -> JSONResponse:
    state: ReadinessState = request.app.state.readiness
    return JSONResponse(state.as_json(), 200 if state.ready else 503)
