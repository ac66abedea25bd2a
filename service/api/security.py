"""Who may call: an optional API key, CORS for browsers, and a spec that says so.

Without `Settings.api_key` every endpoint is open: the default, for a service on a private
network or behind a gateway that authenticates. With a key, every request needs the header
`X-API-Key` holding it (compared in constant time), except

- the probes, /healthz and /readyz, which orchestrators call without credentials, and
- the documentation, /docs, /redoc, /static/… and /openapi.json, and the playground's page
  and files (/, /playground/…), which hold no data (the page asks for the key); Swagger
  UI's "Authorize" button takes the key for "Try it out".

Everything else is closed, /metrics and routes added later included: the list is of what is
open. CORS is off unless `Settings.cors_origins` lists origins.
"""

import hmac
from functools import partial
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.http import JSONResponse
from service.core.config import Settings

HEADER = "X-API-Key"
SCHEME = "APIKeyHeader"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/docs", "/redoc", "/openapi.json", "/"})
PUBLIC_PREFIXES = ("/static/", "/playground/")

UNAUTHORIZED_MSG = f"a valid {HEADER} header is required"
UNAUTHORIZED_RESPONSE = {
    "description": f"The {HEADER} header is missing or wrong.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def route_path(scope: Scope) -> str:
    """The path the routes see: without the root_path a proxy mounts the app under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class APIKey:
    """ASGI middleware: a 401 for a request to a closed path without the right key."""

    def __init__(self, app: ASGIApp, key: SecretStr) -> None:
        self.app = app
        self.key = key.get_secret_value().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_public(route_path(scope)):
            given = dict(scope["headers"]).get(HEADER.lower().encode(), b"")
            if not hmac.compare_digest(given, self.key):
                detail = [
                    {"type": "unauthorized", "loc": ["header", HEADER], "msg": UNAUTHORIZED_MSG}
                ]
                headers = {"WWW-Authenticate": f'APIKey header="{HEADER}"'}
                await JSONResponse({"detail": detail}, 401, headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def secured_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's spec, with the key's scheme and a 401 on every closed operation."""
    spec = FastAPI.openapi(app)
    spec["components"].setdefault("securitySchemes", {})[SCHEME] = {
        "type": "apiKey",
        "in": "header",
        "name": HEADER,
    }
    for path, operations in spec["paths"].items():
        if is_public(path):
            continue
        for operation in operations.values():
            operation["security"] = [{SCHEME: []}]
            operation["responses"].setdefault("401", UNAUTHORIZED_RESPONSE)
    return spec


def install(app: FastAPI, settings: Settings) -> None:
    """Add the key check and CORS (outermost, so preflights and 401s carry CORS headers)."""
    if settings.api_key is not None:
        app.add_middleware(APIKey, key=settings.api_key)
        app.openapi = partial(secured_openapi, app)  # type: ignore[method-assign]
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", HEADER],
            max_age=600,
        )
