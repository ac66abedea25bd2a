"""/docs and /redoc rendered by headless Chromium against a live server, with the network closed.

Chromium (Debian's package, installed by scripts/ensure-chromium when missing) is run once per
page with --dump-dom, --screenshot and --log-net-log:
- every connection to anything but 127.0.0.1 goes to a proxy port that refuses it, and every
  host name but 127.0.0.1 fails to resolve, so a page that needs a CDN cannot render;
- the DOM after the scripts ran must list every operation of the app's OpenAPI document;
- Chromium's NetLog must show that the page's own requests all went to the live server (the
  browser's background requests to its vendor's services are refused by the same proxy and
  are not the page's).
The screenshots are kept in tests/artifacts/ (gitignored).
"""

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
ENSURE_CHROMIUM = ROOT / "scripts" / "ensure-chromium"
CHROMIUM = "/usr/bin/chromium"
RENDER_TIMEOUT = 120  # seconds for one Chromium run; a page renders in about 3 s


@pytest.fixture(scope="session")
def chromium() -> str:
    """/usr/bin/chromium, installed first if missing and we are root; else the tests skip."""
    setup = subprocess.run(
        ["bash", str(ENSURE_CHROMIUM)], capture_output=True, text=True, timeout=900, check=False
    )
    if shutil.which(CHROMIUM) is None:
        pytest.skip(
            f"{CHROMIUM} is not available and scripts/ensure-chromium could not install it "
            f"(exit {setup.returncode}): {(setup.stdout + setup.stderr).strip()}"
        )
    return CHROMIUM


@pytest.fixture
def refused_proxy() -> Iterator[str]:
    """A proxy address on 127.0.0.1 that refuses every connection: bound, never listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture(scope="session")
def spec(live_url: str) -> dict[str, Any]:
    response = httpx.get(f"{live_url}/openapi.json", timeout=10)
    response.raise_for_status()
    return dict(response.json())


@dataclass
class Rendered:
    dom: str
    page_requests: list[str]  # URLs that the page (not the browser itself) asked for
    screenshot: Path


def page_requests(netlog: Path, origin: str) -> list[str]:
    """The URLs of the requests made for the page at `origin`, from Chromium's NetLog."""
    text = netlog.read_text(encoding="utf-8")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a NetLog cut short lacks its closing brackets
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] != start_job or "url" not in params:
            continue
        # The navigation itself, then whatever the page's scripts, styles and workers fetch. The
        # browser's own requests (sign-in, updates, autofill) have no initiator ("not an origin").
        if params.get("request_type") == "main frame" or params.get("initiator") == origin:
            urls.append(params["url"])
    return urls


# Headless, and quiet: without the background-networking flags Chromium calls out at start-up.
HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def render(chromium: str, origin: str, page: str, proxy: str, workdir: Path) -> Rendered:
    """Load origin + page in headless Chromium; keep the screenshot as an artifact."""
    netlog = workdir / "netlog.json"
    screenshot = ARTIFACTS / f"{page.strip('/')}.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.unlink(missing_ok=True)
    command = [
        chromium,
        *HEADLESS_FLAGS,
        f"--user-data-dir={workdir / 'profile'}",
        f"--proxy-server={proxy}",  # loopback bypasses proxies: only 127.0.0.1 is reached
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--log-net-log={netlog}",
        "--virtual-time-budget=10000",
        "--window-size=1280,2000",
        f"--screenshot={screenshot}",
        "--dump-dom",
        origin + page,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=RENDER_TIMEOUT, check=False
    )
    assert result.returncode == 0, f"chromium exited {result.returncode}:\n{result.stderr[-3000:]}"
    return Rendered(result.stdout, page_requests(netlog, origin), screenshot)


def operations(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, path, operationId) of every operation in the OpenAPI document."""
    return [
        (method, path, operation["operationId"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def assert_only_local_requests(rendered: Rendered, live_url: str, expected: set[str]) -> None:
    requested = set(rendered.page_requests)
    assert {f"{live_url}{path}" for path in expected} <= requested, rendered.page_requests
    elsewhere = [url for url in requested if not url.startswith(f"{live_url}/")]
    assert not elsewhere, f"the page asked for something other than the service: {elsewhere}"


def assert_png(path: Path, width: int, height: int) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20]), int.from_bytes(data[20:24])) == (width, height)


def test_swagger_ui_lists_every_operation_offline(
    chromium: str, live_url: str, spec: dict[str, Any], refused_proxy: str, tmp_path: Path
) -> None:
    rendered = render(chromium, live_url, "/docs", refused_proxy, tmp_path)
    dom = rendered.dom
    assert "Failed to load API definition" not in dom
    assert "OAS 3.1" in dom  # Swagger UI read FastAPI's OpenAPI 3.1
    for _, path, _ in operations(spec):
        assert f'data-path="{path}"' in dom, f"{path} is not listed"
    assert 'data-path="/gradients"' in dom
    assert 'data-path="/healthz"' in dom

    assert_only_local_requests(
        rendered,
        live_url,
        {"/docs", "/static/swagger-ui-bundle.js", "/static/swagger-ui.css", "/openapi.json"},
    )
    assert_png(rendered.screenshot, 1280, 2000)


def test_redoc_lists_every_operation_offline(
    chromium: str, live_url: str, spec: dict[str, Any], refused_proxy: str, tmp_path: Path
) -> None:
    rendered = render(chromium, live_url, "/redoc", refused_proxy, tmp_path)
    dom = rendered.dom
    for method, path, operation_id in operations(spec):
        assert f'/operation/{operation_id}"' in dom, f"{method.upper()} {path} has no section"
        assert f">{path}</span>" in dom, f"{method.upper()} {path} is not listed"
    assert ">/gradients</span>" in dom
    assert ">/healthz</span>" in dom

    assert_only_local_requests(
        rendered, live_url, {"/redoc", "/static/redoc.standalone.js", "/openapi.json"}
    )
    assert_png(rendered.screenshot, 1280, 2000)
