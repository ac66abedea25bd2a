"""Interactive docs that work offline: Swagger UI 5 at /docs and ReDoc at /redoc.

Every asset (JS, CSS, favicon) is vendored in `service/static/` (see its README.md) and served
by the app itself under /static, so the pages load no script, stylesheet, font or image from a
CDN. None of these routes is part of the OpenAPI schema.
"""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_URL = "/static"

# The browser may fetch from this origin only: a script, stylesheet, image, font, worker or XHR
# from anywhere else is blocked before it leaves. Inline <script>/<style> are FastAPI's Swagger UI
# init and the bundles' CSS-in-JS; data: and blob: URLs are their icons and ReDoc's search worker.
# ReDoc 2 has no option to drop the sidebar logo it loads from its CDN; this blocks that too.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
    ]
)

router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    """The app to mount at STATIC_URL; it fails at start-up if the directory is missing."""
    return StaticFiles(directory=STATIC_DIR)


def _urls(request: Request) -> tuple[str, str]:
    """The OpenAPI URL and the static prefix, both under the ASGI root_path (behind a proxy)."""
    root = request.scope.get("root_path", "").rstrip("/")
    return root + (request.app.openapi_url or "/openapi.json"), root + STATIC_URL


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    openapi_url, static = _urls(request)
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{static}/swagger-ui-bundle.js",
        swagger_css_url=f"{static}/swagger-ui.css",
        swagger_favicon_url=f"{static}/favicon-32x32.png",
        oauth2_redirect_url=None,  # the API has no OAuth2 security scheme
        # validatorUrl: never send the spec to validator.swagger.io for a badge
        swagger_ui_parameters={**(request.app.swagger_ui_parameters or {}), "validatorUrl": None},
    )
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    openapi_url, static = _urls(request)
    page = get_redoc_html(
        openapi_url=openapi_url,
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{static}/redoc.standalone.js",
        redoc_favicon_url=f"{static}/favicon-32x32.png",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
