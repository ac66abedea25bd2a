"""The benchmark's server: the production app plus `POST /baseline`, which does no maths.

`/baseline` goes through the same server, router class and JSON parsing as `POST /gradients`, and
answers with the same response class, so the difference between the two is the service's own
work: validation, the engines, the comparison and the response. Not part of the production app.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body

from service.api.app import create_app
from service.api.http import JSONResponse, JSONRoute

router = APIRouter(route_class=JSONRoute)


@router.post("/baseline")
async def baseline(body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    return JSONResponse({"received": len(body)})


app = create_app()
app.include_router(router)
