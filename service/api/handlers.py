"""The handlers that turn every error into `{"detail": [...]}` (`service.core.exceptions` has
the service's own).

FastAPI's own errors get the same shape here: a body that is not JSON is a 400, a body over the
size limit a 413, a field pydantic rejects a 422. Anything unexpected is a 500 with the same
shape and a fixed message: the traceback goes to the log, never to the client.

Pydantic's errors are reshaped to FastAPI's format; inputs are echoed only when they are small
scalars, so nothing non-finite or huge goes back out. A list holds at most
`Settings.max_errors` items, then one (`too_many_errors`) that counts the rest: a request cannot
make its answer larger than itself by being wrong in many places.
"""

import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.api.http import InvalidBody, JSONResponse
from service.core.exceptions import ServiceError


def _echo(value: Any) -> Any:
    """A rejected input, echoed only when it is a small JSON-safe scalar."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return None  # too large for a JSON integer most clients can read
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str) and len(value) <= 100:
        return value
    return None


def _body_path(loc: Sequence[Any], body: Any, missing: bool) -> list[str | int]:
    """A pydantic loc without its union tags ("vector", "linear", …): a path into the body.

    A part that is not in the body is a tag, except the last one of a missing field.
    """
    if not loc or loc[0] != "body":
        return list(loc)
    path: list[str | int] = ["body"]
    node = body
    rest = loc[1:]
    for i, part in enumerate(rest):
        last = i == len(rest) - 1
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif not (last and missing):
            continue  # a tag pydantic adds to name the union member it tried
        path.append(part)
    return path


def validation_items(errors: Sequence[Any], body: Any) -> list[dict[str, Any]]:
    items = []
    for error in errors:
        item: dict[str, Any] = {
            "type": error["type"],
            "loc": _body_path(error["loc"], body, error["type"] == "missing"),
            "msg": error["msg"],
        }
        echoed = _echo(error.get("input"))
        if echoed is not None:
            item["input"] = echoed
        ctx = {k: _echo(v) for k, v in error.get("ctx", {}).items()}
        if ctx:
            item["ctx"] = ctx
        items.append(item)
    return items


def capped(items: list[dict[str, Any]], limit: int, omitted: int = 0) -> list[dict[str, Any]]:
    """The first `limit` items, then one that says how many more were left out."""
    rest = max(len(items) - limit, 0) + omitted
    if rest <= 0:
        return items
    msg = (
        f"{rest:,} more errors were found and left out: at most {limit:,} are listed "
        "(GRADIENT_SERVICE_MAX_ERRORS); fix these and send the request again"
    )
    ctx = {"limit": "max_errors", "value": limit, "omitted": rest}
    return [*items[:limit], {"type": "too_many_errors", "loc": ["body"], "msg": msg, "ctx": ctx}]


def max_errors(request: Request) -> int:
    limit: int = request.app.state.settings.max_errors
    return limit


# A 500 leaves the connection in an unknown state; uvicorn closes it, and the client is told so.
CLOSE = {"Connection": "close"}


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        items = capped([e.as_json() for e in exc.errors], max_errors(request), exc.omitted)
        return JSONResponse({"detail": items}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e["type"] == "json_invalid" for e in errors):
            return _malformed(errors)
        limit = max_errors(request)
        items = validation_items(errors[:limit], exc.body)
        omitted = len(errors) - len(items) + (exc.omitted if isinstance(exc, InvalidBody) else 0)
        return JSONResponse({"detail": capped(items, limit, omitted)}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail: Any = exc.detail
        if isinstance(detail, str):
            detail = [{"type": "http_error", "loc": [], "msg": detail}]
        return JSONResponse({"detail": detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises `exc` after this answer, so uvicorn logs its traceback.
        msg = "an unexpected error on our side; it has been logged"
        detail = [{"type": "internal_error", "loc": [], "msg": msg}]
        return JSONResponse({"detail": detail}, 500, headers=CLOSE)


def _malformed(errors: Sequence[Any]) -> JSONResponse:
    items = []
    for error in errors:
        position = error["loc"][-1] if error["type"] == "json_invalid" else None
        reason = error.get("ctx", {}).get("error", "invalid JSON")
        items.append(
            {
                "type": "json_invalid",
                "loc": ["body"],
                "msg": f"the body is not valid JSON: {reason} (at character {position})",
            }
        )
    return JSONResponse({"detail": items}, 400)
