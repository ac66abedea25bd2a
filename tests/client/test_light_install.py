"""The client and the command line installed the light way — `pip install gradient-service`, no
extra: httpx and pydantic only, no torch or NumPy — in a fresh venv, against a live server."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

SERVER_ONLY = ["numpy", "torch", "scipy", "fastapi", "uvicorn", "orjson", "pydantic_settings"]


@pytest.fixture(scope="module")
def light(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv without system packages, with the project installed from constraints.txt."""
    venv = tmp_path_factory.mktemp("light") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    constraints = str(ROOT / "constraints.txt")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check", "-c", constraints, str(ROOT)]  # fmt: skip
    subprocess.run(pip, check=True, timeout=600)
    return venv / "bin"


def test_nothing_of_the_server_is_installed(light: Path) -> None:
    code = (
        "import importlib.util as u, json, sys; "
        "print(json.dumps([m for m in sys.argv[1:] if u.find_spec(m)]))"
    )
    found = subprocess.run([str(light / "python"), "-c", code, *SERVER_ONLY],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert json.loads(found) == []


def test_the_client_gets_gradients_and_a_check(light: Path, live_url: str) -> None:
    code = f"""
from service.client import GradientClient
with GradientClient({live_url!r}) as client:
    answer = client.gradients(client.example())
    graded = client.check({{**client.example(), "candidate": {{"gradients": answer.gradients}}}})
print(answer.loss, answer.agree, graded.report.verdict)
"""
    out = subprocess.run([str(light / "python"), "-c", code], capture_output=True, text=True,
                         check=True, cwd="/").stdout.split()  # fmt: skip
    assert out == ["0.9877350778792013", "True", "pass"]


def test_the_command_line_asks_a_server(light: Path, live_url: str, tmp_path: Path) -> None:
    command = str(light / "gradient-service")
    example = subprocess.run([command, "example"], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    request = tmp_path / "seed.json"
    request.write_text(example)
    run = subprocess.run([command, "gradients", str(request), "--url", live_url, "--json"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    answer = json.loads(run.stdout)
    assert (answer["loss"], answer["agree"]) == (0.9877350778792013, True)
    request.write_text(
        json.dumps({**json.loads(example), "candidate": {"gradients": answer["gradients"]}})
    )
    run = subprocess.run([command, "check", str(request), "--url", live_url, "--json"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(run.stdout)["report"]["verdict"] == "pass"


@pytest.mark.parametrize(
    ("args", "needed_by"),
    [
        (["serve"], "serve"),
        (["openapi"], "openapi"),
        (["gradients", "-"], "answering in this process (no --url)"),
        (["check", "-"], "answering in this process (no --url)"),
    ],
)
def test_what_needs_the_server_says_how_to_install_it(
    light: Path, args: list[str], needed_by: str
) -> None:
    run = subprocess.run([str(light / "gradient-service"), *args], input="{}",
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.startswith(f"gradient-service: {needed_by} needs the server (")
    assert run.stderr.rstrip().endswith("pip install 'gradient-service[server]'")
    assert "Traceback" not in run.stderr
