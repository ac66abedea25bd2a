"""JSON in and out, fast and strict: orjson both ways, NumPy arrays serialised natively.

orjson refuses `NaN`/`Infinity` tokens and numbers that overflow (`1e400`). Only when it refuses
a body do we parse it again with the lenient standard library, so that pydantic can point at the
exact field holding the non-finite number (a 422) rather than a character offset (a 400).
"""

import json
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import numpy as np
import orjson
import pybase64
from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class JSONResponse(StarletteJSONResponse):
    """orjson with NumPy support; non-finite floats must never reach it (they would be null)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def base64_tensor(array: np.ndarray) -> dict[str, Any]:
    """An array as a compact tensor: little-endian, row-major bytes, base64-encoded."""
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return {
        "shape": list(array.shape),
        "dtype": array.dtype.name,
        "data_b64": pybase64.b64encode(np.ascontiguousarray(little).tobytes()).decode("ascii"),
    }


def base64_arrays(content: Any, done: dict[int, dict[str, Any]] | None = None) -> Any:
    """`content` with every array (not scalars) written as a base64 tensor; an array that
    appears twice (the reference's gradients, top level and under engines) is encoded once."""
    done = {} if done is None else done
    if isinstance(content, dict):
        return {key: base64_arrays(value, done) for key, value in content.items()}
    if isinstance(content, list):
        return [base64_arrays(value, done) for value in content]
    if isinstance(content, np.ndarray) and content.ndim > 0:
        if id(content) not in done:
            done[id(content)] = base64_tensor(content)
        return done[id(content)]
    return content


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as refused:
        try:
            return json.loads(body)  # NaN, Infinity, 1e400: let validation name the field
        except (ValueError, RecursionError):
            raise refused from None  # not JSON at all: orjson's message and position


class JSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class JSONRoute(APIRoute):
    """A route whose request body is parsed by `parse_json`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            return await handler(JSONRequest(request.scope, request.receive))

        return route_handler


# The rest of a refused body is never read: the connection is closed after the answer.
CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        msg = f"the request body is larger than {limit:,} bytes (GRADIENT_SERVICE_MAX_BODY_BYTES)"
        detail = [{"type": "body_too_large", "loc": ["body"], "msg": msg, "ctx": {"limit": limit}}]
        super().__init__(413, detail, headers=CLOSE)


class BodyTimeout(HTTPException):
    def __init__(self, timeout: float) -> None:
        msg = (
            f"the request body did not arrive within {timeout:g} s of the headers "
            "(GRADIENT_SERVICE_BODY_TIMEOUT)"
        )
        detail = [
            {"type": "body_timeout", "loc": ["body"], "msg": msg, "ctx": {"timeout": timeout}}
        ]
        super().__init__(408, detail, headers=CLOSE)


class BodyLimit:
    """ASGI middleware: a 413 for a body over `limit` bytes, before it is parsed, and a 408 for
    a body that has not fully arrived `timeout` seconds after the headers.

    A declared Content-Length over the limit is refused at once; a chunked body is counted as it
    arrives and refused at the first byte past the limit, so it is never held in memory. The
    deadline covers the whole body, so a client that stalls or trickles cannot hold a request
    open (uvicorn has no such timeout of its own).
    """

    def __init__(self, app: ASGIApp, limit: int, timeout: float) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            error = BodyTooLarge(self.limit)
            await JSONResponse({"detail": error.detail}, 413, error.headers)(scope, receive, send)
            return
        deadline = anyio.current_time() + self.timeout
        received = 0
        complete = False

        async def guarded_receive() -> Message:
            nonlocal received, complete
            if complete:  # the body is in: what follows is the wait for a disconnect
                return await receive()
            with anyio.move_on_after(deadline - anyio.current_time()) as waiting:
                message = await receive()
            if waiting.cancelled_caught:
                raise BodyTimeout(self.timeout)
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, guarded_receive, send)
