"""The benchmark's server: the production app, and beside it on the same server a bare FastAPI
app, the baselines of section b.

A request whose path starts with `/bare/` goes to the bare app, everything else to the
production app (`create_app()`, every middleware in place). The bare app is what anyone would
write with FastAPI and nothing else, no middleware:

- `POST /bare/gradients` takes a `GradientsRequest` (the same pydantic model, so the same
  validation of the same body) and answers `{"received": N}`, doing no maths;
- `GET /bare/healthz` answers the same `Health` body as `GET /healthz`, through the same
  response model.

So `/gradients ÷ /bare/gradients` is everything the service adds to a validating endpoint (its
middleware, JSON handling, the engines, the comparison, the answer), and `/healthz ÷
/bare/healthz` is what the service's middleware and route class cost. Not part of the
production app.
"""

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from service import __version__
from service.api.app import create_app
from service.domain.compute import ENGINES
from service.schemas.models import GradientsRequest
from service.schemas.responses import Health

BARE_PREFIX = "/bare/"

bare = FastAPI()


@bare.post("/bare/gradients")
async def bare_gradients(body: GradientsRequest) -> dict[str, int]:
    return {"received": len(body.model_fields_set)}


@bare.get("/bare/healthz", response_model=Health)
async def bare_healthz() -> Health:
    return Health(status="ok", version=__version__, engines=list(ENGINES))


production = create_app()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """`/bare/…` to the bare app, the rest (and the lifespan) to the production app."""
    if scope["type"] == "http" and scope["path"].startswith(BARE_PREFIX):
        await bare(scope, receive, send)
    else:
        await production(scope, receive, send)
