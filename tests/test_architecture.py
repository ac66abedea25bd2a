"""Rules of the code base that a test keeps: what imports what, and the spec never drifts."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.app import app

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


@pytest.mark.parametrize("path", sorted((SERVICE / "engines").glob("*.py")), ids=lambda p: p.name)
def test_engines_know_nothing_of_http(path: Path) -> None:
    assert not imported_modules(path) & {"fastapi", "starlette", "httpx", "uvicorn"}


@pytest.mark.parametrize("path", sorted((SERVICE / "routes").glob("*.py")), ids=lambda p: p.name)
def test_routes_do_no_maths(path: Path) -> None:
    assert not imported_modules(path) & {"torch", "scipy"}


def test_openapi_spec_is_generated_from_the_app() -> None:
    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(app.openapi())), (
        "openapi/openapi.json differs from the app: run `make openapi` and commit it"
    )
