"""The playground page at /: served by the app, everything local, relative and labelled."""

from html.parser import HTMLParser

import httpx
import pytest

from service.api.app import create_app
from service.api.routes.playground import PLAYGROUND_DIR
from service.core.config import Settings

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
CONTROLS = {"input", "select", "textarea"}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.controls: list[str | None] = []  # the id of every form control
        self.labelled: set[str] = set()  # every label's `for`
        self.inline: list[str] = []  # what a strict Content-Security-Policy would block

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if tag in CONTROLS:
            self.controls.append(a.get("id"))
        if tag == "label" and a.get("for"):
            self.labelled.add(str(a["for"]))
        if tag == "style" or (tag == "script" and "src" not in a):
            self.inline.append(tag)
        self.inline += [f"{tag} {k}" for k in a if k == "style" or k.startswith("on")]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


async def test_the_page_and_its_assets_are_served_by_the_app(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = parse(response.text)
    assert "://" not in response.text.replace('"http://www.w3.org/2000/svg"', "")
    assert set(page.urls) == {
        "static/favicon-32x32.png",
        "playground/playground.css",
        "playground/playground.js",
        "docs",
    }
    for url in page.urls:
        asset = await client.get("/" + url)
        assert asset.status_code == 200, url
        suffix = "." + url.rsplit(".", 1)[-1]
        if suffix in CONTENT_TYPES:
            assert asset.headers["content-type"].startswith(CONTENT_TYPES[suffix]), url


async def test_the_scripts_ask_only_for_relative_urls() -> None:
    modules = sorted(PLAYGROUND_DIR.glob("*.js"))
    assert PLAYGROUND_DIR / "playground.js" in modules
    scripts = "".join(module.read_text() for module in modules)
    assert "://" not in scripts.replace('"http://www.w3.org/2000/svg"', "")
    for path in ('"examples/seed"', '"gradients"', '"gradients/check"', '"train"'):
        assert path in scripts


async def test_the_modules_import_only_their_neighbours() -> None:
    for module in PLAYGROUND_DIR.glob("*.js"):
        for line in module.read_text().splitlines():
            if line.startswith("import "):
                target = line.rsplit(" from ", 1)[1].strip('";')
                assert target.startswith("./"), (module.name, line)
                assert (PLAYGROUND_DIR / target).is_file(), (module.name, line)


async def test_no_inline_code_and_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert parse(response.text).inline == []
    policy = response.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy


async def test_every_control_in_the_page_has_a_label(client: httpx.AsyncClient) -> None:
    page = parse((await client.get("/")).text)
    assert page.controls
    assert None not in page.controls
    assert set(page.controls) <= page.labelled, set(page.controls) - page.labelled


@pytest.mark.parametrize(
    "path", ["/playground/index.html", "/playground/playground.js", "/playground/dom.js"]
)
async def test_the_files_are_under_playground(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200


async def test_nothing_outside_the_directory_is_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/playground/%2e%2e/app.py")).status_code == 404
    assert (await client.get("/playground/missing.js")).status_code == 404


async def test_under_an_api_key_the_page_itself_loads_without_one() -> None:
    app = create_app(Settings(api_key="a-key"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path in ("/", "/playground/playground.js", "/playground/playground.css"):
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/examples/seed")).status_code == 401  # the data stays closed
