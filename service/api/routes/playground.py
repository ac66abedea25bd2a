"""The playground at /: one page of plain HTML, CSS and JavaScript, served by the app itself.

Its files live in `service/playground/` and are served under /playground; the page uses relative
URLs only, so it works behind a proxy that mounts the service under a prefix. Nothing is loaded
from anywhere else (no CDN, no build step), and the Content-Security-Policy makes the browser
refuse anything that tries. None of these routes is part of the OpenAPI schema.
"""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

PLAYGROUND_DIR = Path(__file__).resolve().parent.parent / "playground"
STATIC_URL = "/playground"

# This origin only, and no inline script or style: the page's code is all in its own files.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=PLAYGROUND_DIR)


@router.get("/")
async def playground() -> FileResponse:
    return FileResponse(
        PLAYGROUND_DIR / "index.html",
        media_type="text/html",
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )
