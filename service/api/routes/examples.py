from fastapi import APIRouter

from service.api.http import JSONRoute
from service.core import seed
from service.schemas.models import GradientsRequest

router = APIRouter(prefix="/examples", tags=["examples"], route_class=JSONRoute)


@router.get(
    "/seed",
    response_model=GradientsRequest,
    response_model_exclude_unset=True,
    summary="The assignment's worked example, as a full POST /gradients body",
)
async def seed_example() -> GradientsRequest:
    return GradientsRequest.model_validate(seed.request_body())
