"""The examples the README shows with their output, run against a live server: the output must
be the README's, to the last digit."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.live


def documented(marker: str) -> str:
    """The ```text block after `<!-- marker -->` in the README."""
    text = (ROOT / "README.md").read_text()
    found = re.search(rf"<!-- {re.escape(marker)} -->\n```text\n(.*?)```", text, re.S)
    assert found, f"README has no block marked {marker}"
    return found.group(1)


def test_the_diagnoses_example_prints_what_the_readme_shows(live_url: str) -> None:
    run = subprocess.run(
        [sys.executable, "examples/diagnoses.py"],
        cwd=ROOT,
        env={**os.environ, "GRADIENT_SERVICE_URL": live_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert run.stdout == documented("diagnoses-output: python examples/diagnoses.py")
