from fastapi import APIRouter

from service import __version__
from service.compute import ENGINES
from service.http import JSONRoute
from service.models import Health

router = APIRouter(tags=["health"], route_class=JSONRoute)


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok", version=__version__, engines=list(ENGINES))
