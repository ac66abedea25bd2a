"""Metrics, access logs and request IDs: what an operator sees of the service.

Metrics, in the Prometheus text format at GET /metrics:

    gradient_service_http_requests_total{method, route, status}            counter
    gradient_service_http_request_duration_seconds{method, route, status}  histogram
    gradient_service_engine_duration_seconds{engine}                       histogram
    gradient_service_engine_disagreements_total{engine}                    counter

`route` is the route's template (`/gradients`, `/static/{path}`), never the raw path, or
`unmatched` for a path no route serves (404s), and `method` is `other` for an unusual method,
so that a scan of random URLs or methods cannot grow the number of series. The engine metrics
come from `observe_report`, which the routes that compute call with each `Report`.

Every uvicorn worker is its own process with its own counters. With several workers, set the
environment variable `PROMETHEUS_MULTIPROC_DIR` to an empty directory that all of them share
(prometheus_client's multiprocess mode): each worker writes its values there and /metrics adds
them up. `gradient-service serve --workers N` does this with a fresh temporary directory unless
the variable is already set; one process needs nothing.

`Observe`, an ASGI middleware, gives every request an ID: the caller's `X-Request-ID` when it is
1 to 128 visible ASCII characters, else a new uuid4 hex; it is echoed on every response, errors
and 413s included. It writes one JSON access-log line per request to the logger
`gradient_service.access` (see service.core.logs) and counts the request in the metrics above.

It runs on every request, so it does little: the route is the one the router chose (it leaves it
in the scope), and only a request that reached no route (refused before routing, a 404) or a
mount (static files) is matched against the routes here; each label set's metric children are
looked up once and kept (their number is bounded, as the labels are).
"""

import logging
import os
import random
import re
import time
from typing import Any, NamedTuple

from fastapi.routing import iter_route_contexts
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.exposition import choose_encoder
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.http import JSONResponse
from service.core import logs
from service.core.logs import LOGGER
from service.domain.compute import ENGINES, REFERENCE, Report

# --- metrics -----------------------------------------------------------------------------------

disable_created_metrics()  # no `_created` series next to every counter and histogram
REQUESTS = Counter(
    "gradient_service_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "gradient_service_http_request_duration_seconds",
    "Time from a request's arrival to the last byte of its response.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ENGINE_SECONDS = Histogram(
    "gradient_service_engine_duration_seconds",
    "Time one engine took on one request (its elapsed_ms).",
    ["engine"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
DISAGREEMENTS = Counter(
    "gradient_service_engine_disagreements",
    "Requests on which an engine did not agree with the reference (autograd).",
    ["engine"],
)
for _engine in ENGINES:
    ENGINE_SECONDS.labels(_engine)
    if _engine != REFERENCE:
        DISAGREEMENTS.labels(_engine)  # exported as 0 from the start, not only after a failure


def observe_report(report: Report) -> None:
    """Count each engine's time and each disagreement with the reference."""
    for engine, result in report.results.items():
        ENGINE_SECONDS.labels(engine).observe(result.elapsed_ms / 1000)
    for engine, deviation in report.deviations.items():
        if not deviation.agree:
            DISAGREEMENTS.labels(engine).inc()


def exposition(accept: str | None) -> tuple[bytes, str]:
    """Every metric, as the body and content type that the scraper's Accept header asks for."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()  # the workers' files, added up
        multiprocess.MultiProcessCollector(registry)
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type


# --- request IDs, access logs, request metrics -------------------------------------------------

ACCESS_LOG = logging.getLogger(f"{LOGGER}.access")
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode()
VALID_REQUEST_ID = re.compile(r"[!-~]{1,128}")  # visible ASCII: safe in a header and a log line
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id(scope: Scope) -> str:
    """The caller's X-Request-ID if it is valid, else a new one."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_KEY:
            given = value.decode("latin-1")
            if VALID_REQUEST_ID.fullmatch(given):
                return given
    return new_request_id()


REQUEST_IDS = random.Random()  # seeded from os.urandom
os.register_at_fork(after_in_child=REQUEST_IDS.seed)


def new_request_id() -> str:
    """What `uuid.uuid4().hex` gives (version 4, the RFC 4122 variant), without a UUID object or
    a system call: 122 random bits from a generator of our own (the global one is the
    caller's), seeded from the system's randomness, again after a fork. An ID must be unique,
    not secret."""
    bits = REQUEST_IDS.getrandbits(128)
    bits = bits & ~(0xF000 << 64) | 4 << 76  # the version
    bits = bits & ~(0xC000 << 48) | 0x8000 << 48  # the variant
    return f"{bits:032x}"


def chosen_route(scope: Scope) -> str | None:
    """The template of the route the router chose for this request (for a 405 too), which it
    leaves in the scope; None if the request never reached a route (or reached a mount, which
    FastAPI does not leave there)."""
    route = scope.get("route")
    return getattr(route, "path_format", None)


def route_template(scope: Scope) -> str | None:
    """The template of the route that would serve this request, by matching it against every
    route: for a request refused before the router saw it (a 413 for its body, a 401).

    FastAPI's route contexts, because `app.routes` holds included routers, not their routes.
    """
    partial = None
    for route in iter_route_contexts(scope["app"].routes):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route.path_format
        if match is Match.PARTIAL and partial is None:
            partial = route.path_format
    return partial


def client_address(scope: Scope) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None


def internal_error(rid: str) -> JSONResponse:
    """The 500 for a bug. The error goes on up to uvicorn, which logs it and closes the
    connection: `Connection: close` tells the client not to send another request on it."""
    msg = f"an unexpected error in the service; quote request ID {rid} when reporting it"
    detail = [{"type": "internal_error", "loc": [], "msg": msg}]
    return JSONResponse({"detail": detail}, 500, headers={"Connection": "close"})


class Observe:
    """ASGI middleware: a request ID, one access-log line and the request metrics per request.

    Pure ASGI (not BaseHTTPMiddleware): responses stream through untouched but for one header.
    Add it last, so that it wraps every other middleware and sees their responses (the 413s).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = request_id(scope)
        id_header = (REQUEST_ID_KEY, rid.encode("latin-1"))
        method, path = scope["method"], scope["path"]
        root_path = scope.get("root_path", "")  # before a mount rewrites it
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if status is None:  # answer in JSON, with the ID, then let the server log the error
                await internal_error(rid)(scope, receive, send_with_id)
            raise
        finally:
            duration = time.perf_counter() - start
            route = chosen_route(scope)
            if route is None:  # refused before routing, a mount's (static files), or a 404
                route = route_template({**scope, "path": path, "root_path": root_path})
            record(scope, method, path, route, status or 500, duration, rid)


class RequestMetrics(NamedTuple):
    count: Any  # the counter's child for one label set
    seconds: Any  # the histogram's


# Per (method, route, status): at most 8 methods × the routes and "unmatched" × the statuses the
# service answers with, so this stays small.
_children: dict[tuple[str, str, str], RequestMetrics] = {}


def request_metrics(labels: tuple[str, str, str]) -> RequestMetrics:
    children = _children.get(labels)
    if children is None:
        children = RequestMetrics(REQUESTS.labels(*labels), REQUEST_SECONDS.labels(*labels))
        _children[labels] = children
    return children


def record(
    scope: Scope, method: str, path: str, route: str | None, status: int, seconds: float, rid: str
) -> None:
    """Count the request and write its access-log line."""
    labels = (method if method in METHODS else "other", route or UNMATCHED, str(status))
    metrics = request_metrics(labels)
    metrics.count.inc()
    metrics.seconds.observe(seconds)
    level = logging.ERROR if status >= 500 else logging.INFO
    if not ACCESS_LOG.isEnabledFor(level):
        return
    fields: dict[str, Any] = {
        "method": method,
        "route": route,
        "path": path,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "request_id": rid,
        "client": client_address(scope),
    }
    logs.write(ACCESS_LOG, level, f"{method} {path} {status}", fields)
