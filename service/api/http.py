"""JSON in and out, fast and strict: orjson both ways, NumPy arrays serialised natively.

A body is refused before it is read if it is not plain JSON (a 415 for another Content-Type or
any Content-Encoding) or too large (`BodyLimit`, a 413), and before it is parsed if it holds too
many arrays and objects (each costs memory and time in the parser: a 413). A large body is then
parsed and validated in a worker thread, its arrays converted by NumPy
(service.schemas.arrays), so that the event loop goes on answering others.

orjson refuses `NaN`/`Infinity` tokens and numbers that overflow (`1e400`). Only when it refuses
a body do we parse it again with the lenient standard library, so that pydantic can point at the
exact field holding the non-finite number (a 422) rather than a character offset (a 400).
"""

import inspect
import json
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, is_dataclass
from functools import partial
from typing import Any

import anyio
import numpy as np
import orjson
import pybase64
from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.core.config import Settings, limit_msg
from service.core.jsonsafe import encodable
from service.schemas.constraints import Bounds

CHUNK_BYTES = 1 << 20  # a larger answer is sent a MiB at a time


class JSONResponse(StarletteJSONResponse):
    """orjson with NumPy support; non-finite floats must never reach it (they would be null).

    What a client sent may come back (a name it gave, a number it asked for) and may not be
    encodable as it is: then it is written encodable rather than failing the answer.
    """

    on_sent: Callable[[], None] | None = None  # once the answer is out, or its client gone

    def render(self, content: Any) -> bytes:
        return dumps(content)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A large answer goes out a chunk at a time: uvicorn takes a chunk only once the client
        has read most of the one before, so this returns when the answer is nearly all read (or
        the client gone, dropped by service.api.protocol if it stops reading)."""
        try:
            if len(self.body) <= CHUNK_BYTES:
                await super().__call__(scope, receive, send)
                return
            start = {"type": "http.response.start", "status": self.status_code}
            await send(start | {"headers": self.raw_headers})
            body = memoryview(self.body)
            for begin in range(0, len(body), CHUNK_BYTES):
                end = begin + CHUNK_BYTES
                chunk = bytes(body[begin:end])
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": end < len(body)}
                )
        finally:
            if self.on_sent is not None:
                self.on_sent()


def dumps(content: Any, option: int = 0) -> bytes:
    """The one serialiser of answers: dicts, lists, dataclasses, NumPy arrays and response
    models built with `model_construct` (service.domain.answers)."""
    option |= orjson.OPT_SERIALIZE_NUMPY
    try:
        return orjson.dumps(content, default=unfold, option=option)
    except orjson.JSONEncodeError:
        return orjson.dumps(encodable(unfolded(content)), default=unfold, option=option)


def unfold(value: Any) -> Any:
    """What orjson does not write itself: a response model is its fields; a strided array (a
    transposed gradient, a slice) is copied into a C-contiguous one."""
    if isinstance(value, BaseModel):
        return value.__dict__
    if isinstance(value, np.ndarray) and not value.flags.c_contiguous:
        return np.ascontiguousarray(value)
    raise TypeError


def unfolded(content: Any) -> Any:
    """`content` with every response model and dataclass written out as a dict."""
    if isinstance(content, BaseModel):
        content = content.__dict__
    elif is_dataclass(content) and not isinstance(content, type):
        content = asdict(content)
    if isinstance(content, dict):
        return {key: unfolded(value) for key, value in content.items()}
    if isinstance(content, list | tuple):
        return [unfolded(value) for value in content]
    return content


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
    if isinstance(content, BaseModel):
        content = content.__dict__
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


# Bodies larger than this are parsed and validated in a worker thread, so that the event loop
# answers others (/healthz) meanwhile: a 64 KiB body takes well under a millisecond.
INLINE_BODY_BYTES = 64 * 1024


class InvalidBody(RequestValidationError):
    """The body's validation errors; `omitted` counts those found beyond the first max_errors."""

    def __init__(self, errors: Sequence[Any], body: Any, omitted: int) -> None:
        super().__init__(errors, body=body)
        self.omitted = omitted


def validated(body: bytes, model: TypeAdapter[Any], settings: Settings) -> Any:
    """The body as `model` has it: parsed, its arrays converted and bounded
    (service.schemas.arrays)."""
    containers = body.count(b"[") + body.count(b"{")
    if containers > settings.max_json_containers:
        raise BodyTooComplex(settings.max_json_containers, containers)
    try:
        tree = parse_json(body)
    except orjson.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                 "input": {}, "ctx": {"error": exc.msg}}  # fmt: skip
        raise RequestValidationError([error], body=exc.doc) from None
    bounds = Bounds.of(settings)
    try:
        return model.validate_python(tree, context=bounds)
    except ValidationError as exc:
        errors = [
            suggested({**error, "loc": ("body", *error["loc"])}, tree, bounds)
            for error in exc.errors()
        ]
        raise InvalidBody(errors, tree, bounds.omitted) from None


def suggested(error: dict[str, Any], tree: Any, bounds: Bounds) -> dict[str, Any]:
    """An unknown field's error with the nearest valid name in the object it was found in
    (schemas.constraints.Strict finds them), when one is close."""
    if error["type"] != "extra_forbidden":
        return error
    *path, name = error["loc"][1:]
    where = tree
    for part in path:  # a part not in the body is a tag naming the union member pydantic tried
        in_dict = isinstance(where, dict) and part in where
        in_list = isinstance(where, list) and isinstance(part, int) and 0 <= part < len(where)
        if in_dict or in_list:
            where = where[part]
    nearest = bounds.nearest(where, name)
    if nearest is None:
        return error
    ctx = {**error.get("ctx", {}), "did_you_mean": nearest}
    return {**error, "msg": f'{error["msg"]}: did you mean "{nearest}"?', "ctx": ctx}


class JSONRequest(Request):
    """A request whose JSON body is read by `read`; `json()` then gives the validated model."""

    async def read(self, model: TypeAdapter[Any]) -> None:
        """Refuse a body that is not plain JSON before reading it; then parse and validate it,
        off the event loop and in a heavy turn (`HeavyTurns`) when it is large. An empty body
        is left to FastAPI (a 422)."""
        encoding = self.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            raise UnsupportedEncoding(encoding)
        content_type = self.headers.get("content-type")
        if content_type is not None and not is_json(content_type):
            raise UnsupportedMediaType(content_type)
        body = await self.body()
        if not body:
            return
        if content_type is None:
            raise UnsupportedMediaType(None)
        settings: Settings = self.app.state.settings
        if len(body) <= INLINE_BODY_BYTES:
            self._json = validated(body, model, settings)
            return
        await heavy_turns(self).take(self.scope)  # parsing 16 MiB is heavy work
        self._json = await run_in_threadpool(validated, body, model, settings)

    async def json(self) -> Any:
        """What `read` validated: FastAPI asks for it only when the body is not empty."""
        return self._json


def is_json(content_type: str) -> bool:
    """application/json or application/…+json, whatever the parameters (as FastAPI has it)."""
    kind, _, subtype = content_type.split(";")[0].strip().lower().partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


class HeavyTurns:
    """At most `limit` heavy requests at once in a worker (Settings.heavy_requests); the others
    wait their turn. A request takes its turn at its first heavy step (parsing a large body,
    computing a costly problem) and keeps it until its answer has been read: what heavy requests
    hold (parsed arrays, results, written answers) stays bounded whatever the number of clients.
    A worker runs on one core: more at once would not be faster."""

    KEY = "gradient_service.heavy_turn"  # in the request's scope, while it holds a turn

    def __init__(self, limit: int) -> None:
        self.limiter = anyio.CapacityLimiter(limit)

    async def take(self, scope: Scope) -> None:
        """Wait for a turn, unless the request holds one already."""
        if self.KEY not in scope:
            turn = object()
            await self.limiter.acquire_on_behalf_of(turn)
            scope[self.KEY] = turn

    def give_back(self, scope: Scope) -> None:
        turn = scope.pop(self.KEY, None)
        if turn is not None:
            self.limiter.release_on_behalf_of(turn)


def heavy_turns(request: Request) -> HeavyTurns:
    turns: HeavyTurns = request.app.state.heavy_turns
    return turns


class JSONRoute(APIRoute):
    """A route whose request body, if it takes one, is read by `JSONRequest.read`, and whose
    heavy turn, if it holds one, is given back once its answer has been read (by then, for a
    stream).

    An endpoint that takes only its body, the request and dependencies of the request alone
    (the settings), and returns a `Response`, is called directly (`DirectCall`): FastAPI's
    dependency solving costs more than the rest of a small request's routing."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        body = self.body_field
        annotation = body.field_info.annotation if body else None
        model = TypeAdapter(annotation) if annotation is not None else None
        fastapi_handler = super().get_route_handler()
        self.direct = DirectCall.of(self, fastapi_handler)
        handler = self.direct or fastapi_handler

        async def route_handler(request: Request) -> Response:
            json_request = JSONRequest(request.scope, request.receive)
            turns = heavy_turns(request)
            try:
                if model is not None:
                    await json_request.read(model)
                response = await handler(json_request)
            except BaseException:
                turns.give_back(request.scope)
                raise
            if isinstance(response, JSONResponse):
                response.on_sent = partial(turns.give_back, request.scope)
            else:
                turns.give_back(request.scope)
            return response

        return route_handler


class DirectCall:
    """A route's endpoint called with its arguments as FastAPI would give them, when they are
    only the validated body, the request, and dependencies that take the request alone (no
    path, query, header or cookie parameters, no sub-dependencies), is a coroutine and returns
    a Response. While one of its dependencies is overridden (`app.dependency_overrides`),
    FastAPI's own handler (`fallback`) serves the route. (Dependencies a router adds when it is
    included are not seen here: the app includes its routers without any.)"""

    Handler = Callable[[Request], Coroutine[Any, Any, Response]]

    def __init__(
        self,
        route: APIRoute,
        body: str | None,
        request: str | None,
        dependencies: dict[str, Callable[[Request], Any]],
        fallback: Handler,
    ) -> None:
        self.endpoint = route.endpoint
        self.body = body
        self.request = request
        self.dependencies = dependencies
        self.fallback = fallback

    @classmethod
    def of(cls, route: APIRoute, fallback: Handler) -> "DirectCall | None":
        dependant = route.dependant
        returns = inspect.signature(route.endpoint).return_annotation
        if not inspect.iscoroutinefunction(route.endpoint) or not (
            isinstance(returns, type) and issubclass(returns, Response)
        ):
            return None
        if len(dependant.body_params) > 1 or any(
            (dependant.path_params, dependant.query_params, dependant.header_params,
             dependant.cookie_params, dependant.websocket_param_name,
             dependant.http_connection_param_name, dependant.response_param_name,
             dependant.background_tasks_param_name, dependant.security_scopes_param_name)
        ):  # fmt: skip
            return None
        dependencies = {}
        for sub in dependant.dependencies:
            takes_request_alone = (
                sub.name is not None
                and sub.call is not None
                and inspect.iscoroutinefunction(sub.call)
                and sub.request_param_name is not None
                and len(inspect.signature(sub.call).parameters) == 1
                and not sub.dependencies
            )
            if not takes_request_alone:
                return None
            dependencies[sub.name] = sub.call
        body = dependant.body_params[0].name if dependant.body_params else None
        return cls(route, body, dependant.request_param_name, dependencies, fallback)  # type: ignore[arg-type]

    async def __call__(self, request: Request) -> Response:
        overrides = getattr(request.app, "dependency_overrides", None)
        if overrides and any(call in overrides for call in self.dependencies.values()):
            return await self.fallback(request)
        arguments: dict[str, Any] = {}
        if self.body is not None:
            if not await request.body():
                error = {"type": "missing", "loc": ("body",), "msg": "Field required",
                         "input": None}  # fmt: skip
                raise RequestValidationError([error], body=None)
            arguments[self.body] = await request.json()
        if self.request is not None:
            arguments[self.request] = request
        for name, call in self.dependencies.items():
            arguments[name] = await call(request)
        response: Response = await self.endpoint(**arguments)
        return response


# The rest of a refused body is never read: the connection is closed after the answer.
CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        msg = f"the request body is larger than {limit:,} bytes (GRADIENT_SERVICE_MAX_BODY_BYTES)"
        detail = [{"type": "body_too_large", "loc": ["body"], "msg": msg, "ctx": {"limit": limit}}]
        super().__init__(413, detail, headers=CLOSE)


class BodyTooComplex(HTTPException):
    def __init__(self, limit: int, asked: int) -> None:
        msg = limit_msg("the number of arrays and objects in the body", asked, limit,
                        "max_json_containers")  # fmt: skip
        msg += "; parsing each costs memory and time before anything can be checked"
        ctx = {"limit": "max_json_containers", "value": limit, "asked": asked}
        super().__init__(
            413, [{"type": "body_too_complex", "loc": ["body"], "msg": msg, "ctx": ctx}]
        )


class UnsupportedMediaType(HTTPException):
    def __init__(self, content_type: str | None) -> None:
        got = "no Content-Type" if content_type is None else f"Content-Type {content_type[:100]}"
        msg = (
            f"the body must be JSON, sent with Content-Type: application/json; it came with {got}"
            " (curl -d sends application/x-www-form-urlencoded: add -H 'Content-Type: "
            "application/json')"
        )
        ctx = {"expected": "application/json", "got": content_type and content_type[:100]}
        detail = [{"type": "unsupported_media_type", "loc": ["header", "Content-Type"],
                   "msg": msg, "ctx": ctx}]  # fmt: skip
        super().__init__(415, detail, headers=CLOSE)  # the body, if any, is left unread


class UnsupportedEncoding(HTTPException):
    def __init__(self, encoding: str) -> None:
        msg = (
            f"Content-Encoding {encoding[:100]} is not supported: send the body uncompressed "
            "(large arrays are smaller as base64 tensors: {shape, dtype, data_b64})"
        )
        detail = [{"type": "unsupported_content_encoding", "loc": ["header", "Content-Encoding"],
                   "msg": msg, "ctx": {"expected": "identity", "got": encoding[:100]}}]  # fmt: skip
        super().__init__(415, detail, headers=CLOSE)  # the body is left unread


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
        declared = content_length(scope)
        if declared is not None and declared > self.limit:
            error = BodyTooLarge(self.limit)
            await JSONResponse({"detail": error.detail}, 413, error.headers)(scope, receive, send)
            return
        # The clock starts now; its deadline is read on the first receive (a GET has none).
        arrived = time.monotonic()
        received = 0
        complete = False

        async def guarded_receive() -> Message:
            nonlocal received, complete
            if complete:  # the body is in: what follows is the wait for a disconnect
                return await receive()
            with anyio.move_on_after(arrived + self.timeout - time.monotonic()) as waiting:
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


def content_length(scope: Scope) -> int | None:
    """The declared Content-Length, if there is one made of digits."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
