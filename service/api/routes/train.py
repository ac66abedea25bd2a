"""POST /train: one JSON answer, or, with `Accept: application/x-ndjson`, a line per epoch.

Each epoch runs in a worker thread. Between two epochs the client is asked after: once it has
gone, no further epoch starts (the one in progress finishes, unseen) and the stop is logged.
When the server shuts down (service.api.protocol), the run stops before its next step: a stream ends
with a last line `{"type": "error", "detail": [{"type": "shutting_down", …}]}`, a JSON answer is
a 503 with the same detail.
"""

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from service.api.http import JSONResponse, JSONRoute, dumps, heavy_turns
from service.api.protocol import shutting_down
from service.api.routes.common import ERRORS
from service.api.routes.deps import SettingsDep
from service.core.exceptions import ErrorItem, ServiceError
from service.domain.answers import training_summary
from service.domain.problem import check_network
from service.domain.sizes import check_training_answer
from service.domain.training import Cost, Stopped, Trainer, prepare_training
from service.schemas.models import TrainRequest
from service.schemas.responses import ErrorResponse, TrainResponse
from service.schemas.values import EpochReport

NDJSON = "application/x-ndjson"

logger = logging.getLogger("gradient_service.training")

router = APIRouter(tags=["training"], route_class=JSONRoute)

STREAM = {
    "description": "Without `Accept: application/x-ndjson`, one JSON answer when training is "
    'done. With it, one line per epoch as it completes (`type` "epoch"), then the summary '
    '(`type` "summary", without `history`); if training diverges midway, or the service shuts '
    'down, a last line `{"type": "error", "detail": [...]}` instead.',
    "content": {
        NDJSON: {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/EpochReport"},
                    {"$ref": "#/components/schemas/TrainResponse"},
                    {"$ref": "#/components/schemas/ErrorResponse"},
                ]
            }
        }
    },
}


SHUTTING_DOWN = {
    "model": ErrorResponse,
    "description": "The service shut down during the run (the JSON answer; a stream ends "
    "with an error line instead).",
}


class ShuttingDown(ServiceError):
    status_code = 503

    def __init__(self, trainer: Trainer) -> None:
        done, epochs = trainer.epochs_done, trainer.training.epochs
        msg = (
            f"the service is shutting down: training stopped after {done} of {epochs} epochs; "
            "send the request again (to another instance)"
        )
        super().__init__([ErrorItem((), msg, "shutting_down", {"epochs": done})])


@router.post(
    "/train",
    response_model=TrainResponse,
    responses={200: STREAM, **ERRORS, 503: SHUTTING_DOWN},
    summary="Train with both engines, each on its own weights; stream the epochs as they end",
)
async def train(body: TrainRequest, request: Request, settings: SettingsDep) -> Response:
    check_network(body.network.layers, settings)
    Cost.of(body).check(settings.max_training_cost)  # before a point or a weight is drawn
    check_training_answer(body, settings)
    trainer = Trainer(prepare_training(body, settings))
    heavy_turns(request).give_back(request.scope)  # a run of minutes must not hold a heavy turn
    if wants_ndjson(request.headers.get("accept", "")):
        # X-Accel-Buffering: a proxy such as nginx passes each line on at once, not when done.
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            ndjson_lines(trainer, request, body.return_weights),
            media_type=NDJSON,
            headers=headers,
        )
    history = []  # each epoch's report, written as it ends: ~350 bytes each, not a dict
    try:
        async with aclosing(epochs(trainer, request)) as stream:
            async for epoch in stream:
                history.append(orjson.Fragment(dumps(epoch)))
    except Stopped:
        raise ShuttingDown(trainer) from None
    if not trainer.done:
        return Response(status_code=499)  # nginx's "client closed request": nobody reads it
    return JSONResponse(training_summary(trainer, history, body.return_weights))


def wants_ndjson(accept: str) -> bool:
    return any(part.split(";")[0].strip() == NDJSON for part in accept.split(","))


async def epochs(trainer: Trainer, request: Request) -> AsyncGenerator[EpochReport]:
    """The remaining epochs, each in a worker thread, until done, the client has gone, or the
    service shuts down (`Stopped`, between two steps)."""
    try:
        while not trainer.done:
            if await request.is_disconnected():
                log_stop(trainer, "the client went away")
                return
            yield await run_in_threadpool(trainer.run_epoch, shutting_down.is_set)
    except (asyncio.CancelledError, GeneratorExit):  # a stream's client went away mid-epoch
        log_stop(trainer, "the client went away")
        raise
    except Stopped:
        log_stop(trainer, "the service is shutting down")
        raise


def log_stop(trainer: Trainer, why: str) -> None:
    logger.info(
        "training stopped after %d of %d epochs: %s",
        trainer.epochs_done,
        trainer.training.epochs,
        why,
    )


async def ndjson_lines(
    trainer: Trainer, request: Request, return_weights: bool = False
) -> AsyncGenerator[bytes]:
    try:
        async with aclosing(epochs(trainer, request)) as stream:
            async for epoch in stream:
                yield line(epoch)
    except Stopped:
        yield line({"type": "error", "detail": [e.as_json() for e in ShuttingDown(trainer).errors]})
        return
    except ServiceError as exc:  # the status line has gone: the error is the last line
        yield line({"type": "error", "detail": [item.as_json() for item in exc.errors]})
        return
    except Exception:
        logger.exception("training stream failed")
        msg = "an unexpected error in the service; it has been logged"
        yield line({"type": "error", "detail": [{"type": "internal_error", "loc": [], "msg": msg}]})
        return
    if trainer.done:
        yield line(training_summary(trainer, return_weights=return_weights))


def line(content: Any) -> bytes:
    return dumps(content, orjson.OPT_APPEND_NEWLINE)
