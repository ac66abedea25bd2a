"""/docs (Swagger UI 5) and /redoc load every asset from the service itself: no CDN, no fonts."""

import hashlib
import re
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from service.api.routes.docs import STATIC_DIR

CONTENT_TYPES = {
    ".js": {"text/javascript", "application/javascript"},
    ".css": {"text/css"},
    ".png": {"image/png"},
}

PAGES = {
    "/docs": {
        "/static/swagger-ui-bundle.js",
        "/static/swagger-ui.css",
        "/static/favicon-32x32.png",
    },
    "/redoc": {"/static/redoc.standalone.js", "/static/favicon-32x32.png"},
}


class Links(HTMLParser):
    """Every src= and href= of the page's tags: what a browser would fetch or link to."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def links(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    parser.close()
    return parser.urls


def spec_url(html: str) -> str:
    """Where the page's script fetches the OpenAPI document from."""
    found = re.search(r"""url: '([^']*)'|spec-url="([^"]*)\"""", html)
    assert found, "the page does not name the OpenAPI URL"
    return found[1] or found[2]


def version(text: str, pattern: str) -> tuple[int, ...]:
    found = re.search(pattern, text)
    assert found, f"no version string matching {pattern!r}"
    return tuple(int(part) for part in found[1].split("."))


SWAGGER_UI_VERSION = r'PACKAGE_VERSION:"(\d+\.\d+\.\d+)"'
REDOC_VERSION = r'ReDoc Version: ","(\d+\.\d+\.\d+)"'


@pytest.mark.parametrize("page", PAGES)
async def test_page_is_html_whose_assets_are_all_local(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text

    assert set(links(html)) == PAGES[page]
    # Not one absolute URL anywhere in the page: no CDN, no Google Fonts, no validator badge.
    assert "://" not in html
    assert "fonts.googleapis" not in html

    for url in links(html):
        parts = urlsplit(url)
        assert not parts.scheme, url
        assert not parts.netloc, url
        assert url.startswith("/"), url

        asset = await client.get(url)
        assert asset.status_code == 200, url
        content_type = asset.headers["content-type"].partition(";")[0].strip()
        assert content_type in CONTENT_TYPES[PurePosixPath(parts.path).suffix], (url, content_type)
        name = PurePosixPath(parts.path).name
        assert asset.content == (STATIC_DIR / name).read_bytes()


@pytest.mark.parametrize("page", PAGES)
async def test_page_reads_the_apps_own_openapi_document(
    client: httpx.AsyncClient, page: str
) -> None:
    html = (await client.get(page)).text
    assert spec_url(html) == "/openapi.json"
    spec = await client.get(spec_url(html))
    assert spec.status_code == 200
    assert spec.json()["openapi"].startswith("3.1")


async def test_swagger_ui_is_version_5(client: httpx.AsyncClient) -> None:
    # Swagger UI 4 cannot read OpenAPI 3.1, which FastAPI emits.
    bundle = await client.get("/static/swagger-ui-bundle.js")
    assert version(bundle.text, SWAGGER_UI_VERSION)[0] == 5


async def test_redoc_is_version_2(client: httpx.AsyncClient) -> None:
    bundle = await client.get("/static/redoc.standalone.js")
    assert version(bundle.text, REDOC_VERSION)[0] == 2


async def test_swagger_ui_never_asks_the_online_validator(client: httpx.AsyncClient) -> None:
    html = (await client.get("/docs")).text
    assert '"validatorUrl": null' in html


async def test_docs_routes_are_not_in_the_schema(app: FastAPI) -> None:
    paths = set(app.openapi()["paths"])
    assert paths
    assert not {p for p in paths if p.startswith(("/docs", "/redoc", "/static"))}


@pytest.mark.parametrize("page", PAGES)
async def test_content_security_policy_allows_this_origin_only(
    client: httpx.AsyncClient, page: str
) -> None:
    # The browser itself refuses any fetch elsewhere, whatever a bundle tries (ReDoc's logo).
    policy = (await client.get(page)).headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["default-src"] == ["'self'"]
    for sources in directives.values():
        assert set(sources) <= {"'self'", "'unsafe-inline'", "data:", "blob:"}, policy


async def test_missing_asset_is_404_and_nothing_outside_static_is_served(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/static/swagger-ui-bundle.js.map")).status_code == 404
    assert (await client.get("/static/%2e%2e/app.py")).status_code == 404
    assert (await client.get("/docs/oauth2-redirect")).status_code == 404  # no OAuth2 here


async def test_urls_follow_the_root_path_behind_a_proxy(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for page, assets in PAGES.items():
            html = (await client.get(f"/api{page}")).text
            assert set(links(html)) == {f"/api{url}" for url in assets}
            assert spec_url(html) == "/api/openapi.json"
            for url in links(html):
                assert (await client.get(url)).status_code == 200, url


def test_static_readme_lists_every_vendored_file_with_its_version_and_sha256() -> None:
    readme = (STATIC_DIR / "README.md").read_text(encoding="utf-8")
    for path in sorted(STATIC_DIR.iterdir()):
        if path.name == "README.md":
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert re.search(rf"`{re.escape(path.name)}`.*{digest}", readme), path.name

    swagger = version((STATIC_DIR / "swagger-ui-bundle.js").read_text(), SWAGGER_UI_VERSION)
    redoc = version((STATIC_DIR / "redoc.standalone.js").read_text(), REDOC_VERSION)
    assert f"swagger-ui-dist@{'.'.join(map(str, swagger))}" in readme
    assert f"redoc@{'.'.join(map(str, redoc))}" in readme
