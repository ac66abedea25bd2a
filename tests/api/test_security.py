"""The optional API key, CORS, errors that never leak a traceback, and no user string reaching
eval, import or attribute lookup."""

import ast
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from service import cli
from service.api.app import create_app
from service.api.security import HEADER, is_public
from service.core.config import Settings
from service.domain import compute
from service.engines import Problem

SERVICE = Path(__file__).resolve().parents[2] / "service"
KEY = "correct horse battery staple"


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def keyed() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(Settings(api_key=KEY))) as c:
        yield c


def closed_operations() -> list[tuple[str, str]]:
    """(method, path) of every operation in the spec that is not a probe."""
    spec = create_app(Settings()).openapi()
    return [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        if not is_public(path)
        for method in operations
    ]


# --- the API key -------------------------------------------------------------------------------


async def test_without_a_key_everything_is_open(client: httpx.AsyncClient) -> None:
    assert (await client.post("/gradients", json={})).status_code == 200
    assert (await client.get("/examples/seed")).status_code == 200


def test_every_computing_operation_is_closed() -> None:
    closed = {("POST", "/gradients"), ("POST", "/gradients/check"), ("GET", "/examples/seed")}
    assert closed <= set(closed_operations())


@pytest.mark.parametrize("given", [None, "", "wrong", KEY + " ", KEY.upper()])
async def test_every_closed_route_needs_the_key(
    keyed: httpx.AsyncClient, given: str | None
) -> None:
    headers = {} if given is None else {HEADER: given}
    for method, path in closed_operations():
        response = await keyed.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, path)
        assert response.json() == {
            "detail": [
                {
                    "type": "unauthorized",
                    "loc": ["header", HEADER],
                    "msg": f"a valid {HEADER} header is required",
                }
            ]
        }
        assert response.headers["www-authenticate"] == f'APIKey header="{HEADER}"'


async def test_the_right_key_opens_them(keyed: httpx.AsyncClient) -> None:
    assert (await keyed.post("/gradients", json={}, headers={HEADER: KEY})).status_code == 200
    lower = {HEADER.lower(): KEY}  # header names are case-insensitive
    assert (await keyed.get("/examples/seed", headers=lower)).status_code == 200


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/docs", "/redoc", "/openapi.json", "/static/swagger-ui.css"]
)
async def test_probes_and_docs_need_no_key(keyed: httpx.AsyncClient, path: str) -> None:
    status = (await keyed.get(path)).status_code
    assert status in ((200, 503) if path == "/readyz" else (200,))  # 503: still starting


async def test_routes_added_later_are_closed_too() -> None:
    """The middleware lists what is open, so a new route (/metrics, say) is closed by default."""
    app = create_app(Settings(api_key=KEY))

    @app.get("/added-later", include_in_schema=False)
    async def added_later() -> dict[str, str]:
        return {"status": "ok"}

    async with client_for(app) as client:
        assert (await client.get("/added-later")).status_code == 401
        assert (await client.get("/added-later", headers={HEADER: KEY})).status_code == 200


async def test_unknown_paths_and_big_bodies_meet_the_key_first(keyed: httpx.AsyncClient) -> None:
    assert (await keyed.get("/nowhere")).status_code == 401  # no probing for routes
    assert (await keyed.get("/nowhere", headers={HEADER: KEY})).status_code == 404
    big = b"0" * (17 * 2**20)  # over the body limit: refused for the key before it is read
    response = await keyed.post("/gradients", content=big)
    assert response.status_code == 401


def test_the_key_comes_from_the_environment_and_never_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRADIENT_SERVICE_API_KEY", KEY)
    settings = Settings()
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == KEY
    assert KEY not in repr(settings)
    assert KEY not in str(settings.model_dump())
    monkeypatch.setenv("GRADIENT_SERVICE_API_KEY", "")
    with pytest.raises(ValidationError):
        Settings()  # an empty key would be no key at all


def test_the_spec_declares_the_key_only_when_there_is_one() -> None:
    open_spec = create_app(Settings()).openapi()
    assert "securitySchemes" not in open_spec["components"]
    assert not [
        op for ops in open_spec["paths"].values() for op in ops.values() if "security" in op
    ]

    spec = create_app(Settings(api_key=KEY)).openapi()
    assert spec["components"]["securitySchemes"] == {
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": HEADER}
    }
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            if is_public(path):
                assert "security" not in operation
                assert "401" not in operation["responses"]
            else:
                assert operation["security"] == [{"APIKeyHeader": []}]
                assert "401" in operation["responses"]


def test_the_committed_spec_is_the_one_without_a_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRADIENT_SERVICE_API_KEY", KEY)
    assert cli.main(["openapi"]) == 0  # `make openapi`, with a key in the environment
    assert "securitySchemes" not in capsys.readouterr().out
    assert "securitySchemes" not in (SERVICE.parent / "openapi" / "openapi.json").read_text()


# --- CORS --------------------------------------------------------------------------------------

ORIGIN = "https://app.example"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type, x-api-key"}  # fmt: skip


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.post("/gradients", json={}, headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options("/gradients", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_allows_the_configured_origins_only() -> None:
    app = create_app(Settings(cors_origins=[ORIGIN], api_key=KEY))
    async with client_for(app) as client:
        preflight = await client.options("/gradients", headers=PREFLIGHT)  # no key needed
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()

        refused = await client.post("/gradients", json={}, headers={"Origin": ORIGIN})
        assert refused.status_code == 401  # the browser can read why
        assert refused.headers["access-control-allow-origin"] == ORIGIN

        other = await client.options(
            "/gradients", headers={**PREFLIGHT, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers


# --- errors never leak internals ---------------------------------------------------------------


def assert_opaque_500(response: httpx.Response, secret: str) -> None:
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    rid = response.headers["x-request-id"]
    assert response.json() == {
        "detail": [
            {
                "type": "internal_error",
                "loc": [],
                "msg": f"an unexpected error in the service; quote request ID {rid} when "
                "reporting it",
            }
        ]
    }
    for leak in ("Traceback", 'File "', secret, "Error"):
        assert leak not in response.text


async def test_an_unexpected_exception_in_a_route_is_an_opaque_500() -> None:
    app = create_app(Settings())

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret at /work/service/app.py line 42")

    async with client_for(app) as client:
        assert_opaque_500(await client.get("/boom"), "secret")


async def test_an_engine_that_crashes_is_an_opaque_500(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(problem: Problem) -> None:
        raise ZeroDivisionError("secret internals")

    monkeypatch.setitem(compute.ENGINES, "manual", crash)
    async with client_for(create_app(Settings())) as client:
        assert_opaque_500(await client.post("/gradients", json={}), "secret")
        batch = {"x": [[0.1, 0.2]] * 2000}  # computed in the thread pool
        assert_opaque_500(await client.post("/gradients", json=batch), "secret")


# --- no user string reaches eval, import or attribute lookup ----------------------------------

DYNAMIC = {"eval", "exec", "compile", "__import__", "breakpoint"}
BY_NAME = {"getattr", "setattr", "delattr", "hasattr"}
IMPORTERS = {"import_module", "reload", "__import__"}
UNSAFE_MODULES = {"pickle", "marshal", "shelve", "subprocess", "ctypes"}


def findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in DYNAMIC:
                found.append(f"{where} calls {func.id}")
            if isinstance(func, ast.Attribute) and func.attr in IMPORTERS:
                found.append(f"{where} imports by name ({func.attr})")
            if isinstance(func, ast.Name) and func.id in BY_NAME:
                name = node.args[1] if len(node.args) > 1 else None
                if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    found.append(f"{where} {func.id} with a computed attribute name")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            )
            found += [
                f"{where} imports {m}" for m in modules if m and m.split(".")[0] in UNSAFE_MODULES
            ]
    return found


def test_no_user_string_reaches_eval_import_or_attribute_lookup() -> None:
    assert [f for path in sorted(SERVICE.rglob("*.py")) for f in findings(path)] == []


def test_the_audit_catches_what_it_looks_for(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import pickle\nimport importlib\n"
        "def f(o, name):\n"
        "    eval(name)\n    getattr(o, name)\n    getattr(o, 'fine')\n"
        "    importlib.import_module(name)\n"
    )
    assert len(findings(probe)) == 4, findings(probe)
