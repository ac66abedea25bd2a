"""Rules of the code base that a test keeps: what imports what, and the spec never drifts."""

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.api.app import app

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "service"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", ["service.engines.manual"])
def test_module_never_imports_torch(module: str) -> None:
    code = f"import sys, {module}; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def imported_names(path: Path) -> set[str]:
    """Every module `path` imports, by its full dotted name."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


ENGINE_MODULES = sorted((SERVICE / "engines").rglob("*.py"))


@pytest.mark.parametrize("path", ENGINE_MODULES, ids=lambda p: str(p.relative_to(SERVICE)))
def test_engines_know_nothing_of_http_nor_the_contract(path: Path) -> None:
    """Engines take engine-side specs and arrays: no web framework, no pydantic, no request
    models; they import only from service.engines."""
    assert not imported_modules(path) & {"fastapi", "starlette", "httpx", "uvicorn", "pydantic"}
    ours = {name for name in imported_names(path) if name.split(".")[0] == "service"}
    assert all(name.startswith("service.engines") for name in ours), ours


def test_every_layer_kind_has_its_contract_model() -> None:
    """A kind is one engine class and one contract model with the same options and defaults."""
    from service.engines.layers import KINDS
    from service.schemas.layers import LayerModel

    models = {model.model_fields["type"].annotation.__args__[0]: model
              for model in LayerModel.__origin__.__args__}  # fmt: skip
    assert set(models) == set(KINDS)
    for kind, layer in KINDS.items():
        engine_options = {f.name: f.default for f in dataclasses.fields(layer)}
        contract = {n: f.default for n, f in models[kind].model_fields.items() if n != "type"}
        assert set(engine_options) == set(contract), kind
        for name, default in engine_options.items():
            if default is not dataclasses.MISSING:
                assert contract[name] == default, (kind, name)


@pytest.mark.parametrize(
    "path", sorted((SERVICE / "api" / "routes").glob("*.py")), ids=lambda p: p.name
)
def test_routes_do_no_maths(path: Path) -> None:
    assert not imported_modules(path) & {"torch", "scipy"}


def test_openapi_spec_is_generated_from_the_app() -> None:
    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(app.openapi())), (
        "openapi/openapi.json differs from the app: run `make openapi` and commit it"
    )


# What each layer may import of the service: api → domain → engines, nothing upward; schemas (the
# wire contract) and core (settings, exceptions, logs) beside them; the client needs only the
# contract. The HTTP layer sees the engines' interface (their result types), never an engine.
ALLOWED = {
    "engines": ("service.engines",),
    "core": ("service.core",),
    "schemas": ("service.schemas", "service.core"),
    "domain": ("service.domain", "service.engines", "service.schemas", "service.core"),
    "api": ("service.api", "service.domain", "service.schemas", "service.core"),
    "client": ("service.client", "service.schemas", "service.core"),
}
LAYERED = [(layer, path) for layer in ALLOWED for path in sorted((SERVICE / layer).rglob("*.py"))]


@pytest.mark.parametrize(
    ("layer", "path"), LAYERED, ids=[str(path.relative_to(SERVICE)) for _, path in LAYERED]
)
def test_layers_import_only_downward(layer: str, path: Path) -> None:
    ours = {name for name in imported_names(path) if name.split(".")[0] == "service"}
    interface = {"service.engines"} if layer == "api" else set()  # and the version, anywhere
    interface.add("service")
    wrong = {
        name for name in ours - interface
        if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED[layer])
    }  # fmt: skip
    assert not wrong, f"{path.relative_to(SERVICE)} imports {sorted(wrong)}"


def test_routers_do_not_import_each_other() -> None:
    """What routers share lives in routes/common.py and routes/deps.py, not in a router."""
    routes = SERVICE / "api" / "routes"
    shared = {"service.api.routes.common", "service.api.routes.deps"}
    for path in sorted(routes.glob("*.py")):
        others = {
            name for name in imported_names(path)
            if name.startswith("service.api.routes.") and name not in shared
        }  # fmt: skip
        assert not others, f"{path.name} imports the routers {sorted(others)}"


def test_routers_hold_no_maths_and_no_serialisers() -> None:
    """Answers are built in service.domain.answers and written by service.api.http.dumps."""
    for path in sorted((SERVICE / "api" / "routes").glob("*.py")):
        names = imported_names(path)
        assert "numpy" not in names, f"{path.name} imports numpy"
        shapers = [
            node.name for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef) and node.name.endswith("_json")
        ]  # fmt: skip
        assert not shapers, f"{path.name} shapes answers by hand: {shapers}"


def test_every_module_sits_in_a_layer() -> None:
    loose = sorted(p.name for p in SERVICE.glob("*.py") if p.name not in ("__init__.py", "cli.py"))
    assert loose == [], "each module belongs in api/, domain/, engines/, schemas/, core/ or client/"


def test_every_layer_kind_has_a_trace_model() -> None:
    """A kind added to the engines has a place in the trace the response documents."""
    from service.engines.layers import KINDS
    from service.schemas.responses import TraceLayer

    kinds = {
        kind
        for model in TraceLayer.__origin__.__args__
        for kind in model.model_fields["type"].annotation.__args__
    }
    assert kinds == set(KINDS)


@pytest.mark.parametrize("module", ["service.client", "service.cli"])
def test_the_client_and_the_command_need_only_httpx_and_pydantic(module: str) -> None:
    """`pip install gradient-service` (no extra) gives the client and the command line: they
    must import nothing of the server's (its `server` extra)."""
    server = ["numpy", "torch", "scipy", "fastapi", "starlette", "uvicorn", "orjson",
              "pybase64", "pydantic_settings", "prometheus_client"]  # fmt: skip
    code = (
        f"import sys, {module}; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({server!r})))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=ROOT).stdout.strip()  # fmt: skip
    assert found == "[]", f"{module} imports {found}"
