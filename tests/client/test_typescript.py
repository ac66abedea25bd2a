"""The spec serves other languages: a TypeScript client generated from openapi/openapi.json
(openapi-typescript's types, openapi-fetch's calls; clients/typescript, exact versions in its
package-lock.json) type-checks and calls POST /gradients and /gradients/check on a live server."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "clients" / "typescript"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed"),
]


def npm(*args: str, env: dict[str, str] | None = None) -> str:
    run = subprocess.run(["npm", *args], cwd=PROJECT, capture_output=True, text=True,
                         timeout=600, env={**os.environ, **(env or {})})  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_a_generated_typescript_client_calls_the_service(live_url: str) -> None:
    npm("ci", "--no-audit", "--no-fund")
    npm("run", "-s", "generate")  # from the spec the app generates (test_architecture pins it)
    npm("run", "-s", "check")  # tsc: the program agrees with the spec's types
    out = npm("run", "-s", "smoke", env={"GRADIENT_SERVICE_URL": live_url})
    assert json.loads(out.strip().splitlines()[-1]) == {
        "loss": 0.9877350778792013,
        "agree": True,
        "verdict": "fail",
        "wrong": [[3, 1]],
        "diagnosis": "entries",
        "refused": 422,
        "loc": ["body", "x"],
    }
