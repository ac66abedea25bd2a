from typing import Annotated

from fastapi import APIRouter, Query

from service.api.http import JSONResponse, JSONRoute
from service.api.routes.deps import SettingsDep
from service.core.exceptions import ErrorItem, InvalidRequest, LimitExceeded
from service.domain.datasets import seed_dataset
from service.schemas.constraints import MAX_INTEGER
from service.schemas.models import COORDINATE_BOUND as BOUND
from service.schemas.responses import ErrorResponse, SeedDataset

router = APIRouter(prefix="/datasets", tags=["training"], route_class=JSONRoute)


@router.get(
    "/seed",
    response_model=SeedDataset,
    responses={422: {"model": ErrorResponse, "description": "A parameter is invalid."}},
    summary="The seed's data set: n points uniform in [low, high)², labelled ½ Σ x²",
)
async def seed(
    settings: SettingsDep,
    n: Annotated[
        int, Query(ge=1, le=MAX_INTEGER, description="At most GRADIENT_SERVICE_MAX_BATCH.")
    ] = 100,
    seed: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="Seeds `np.random.default_rng(seed)`.")
    ] = 0,
    low: Annotated[float, Query(ge=-BOUND, le=BOUND, allow_inf_nan=False)] = 0.0,
    high: Annotated[float, Query(ge=-BOUND, le=BOUND, allow_inf_nan=False)] = 1.0,
) -> JSONResponse:
    if n > settings.max_batch:
        raise LimitExceeded(("query", "n"), "max_batch", settings.max_batch, n, "the data set's n")
    if not low < high:
        msg = f"low ({low}) must be below high ({high})"
        raise InvalidRequest([ErrorItem(("query", "high"), msg, "low_not_below_high")])
    x, y = seed_dataset(n, seed, low, high)
    return JSONResponse({"x": x, "y": y, "n": n, "seed": seed, "low": low, "high": high})
