"""create_app(): the FastAPI application, its routers and error handlers."""

import torch
from fastapi import FastAPI

from service import __version__
from service.api import security
from service.api.handlers import install_handlers
from service.api.http import BodyLimit, HeavyTurns, JSONResponse
from service.api.observability import Observe
from service.api.readiness import ReadinessState, lifespan
from service.api.routes import (
    check,
    datasets,
    docs,
    examples,
    gradients,
    health,
    metrics,
    playground,
    train,
)
from service.core.config import Settings, get_settings
from service.core.logs import configure_logging

DESCRIPTION = """
Send a small feed-forward network, its weights (or a seed), an input and a target; get back the
loss, the prediction and every parameter's gradient from PyTorch autograd (the reference) and
from an independent NumPy backprop, with how far apart they are.

`POST /gradients` with `{}` runs the course assignment's worked example
(see `GET /examples/seed`).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    torch.set_num_threads(settings.torch_threads)
    configure_logging()
    app = FastAPI(
        title="gradient-service",
        version=__version__,
        description=DESCRIPTION,
        default_response_class=JSONResponse,
        docs_url=None,  # served offline by service.api.routes.docs
        redoc_url=None,
        lifespan=lifespan,  # the start-up self-check behind /readyz
    )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, timeout=settings.body_timeout)
    security.install(app, settings)  # the API key and CORS, outside the body limit
    app.add_middleware(Observe)  # added last: it wraps the rest and logs their 401s and 413s
    app.state.settings = settings
    app.state.heavy_turns = HeavyTurns(settings.heavy_requests)
    app.state.readiness = ReadinessState()
    install_handlers(app)
    app.include_router(health.router)
    app.include_router(gradients.router)
    app.include_router(check.router)
    app.include_router(examples.router)
    app.include_router(docs.router)
    app.include_router(metrics.router)
    app.mount(docs.STATIC_URL, docs.static_files(), name="static")
    app.include_router(datasets.router)
    app.include_router(train.router)
    app.include_router(playground.router)
    app.mount(playground.STATIC_URL, playground.static_files(), name="playground")
    return app


app = create_app()
