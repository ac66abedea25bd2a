"""The `gradient-service` command: example, gradients and check, in-process and against a server."""

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from service.core import seed
from tests.conftest import free_port

ONE_LINEAR = {
    "network": {"layers": [{"type": "linear", "in_features": 2, "out_features": 1}]},
    "weights": {"0.weight": [[0.5, -1.25]], "0.bias": [0.125]},
    "x": [2.0, 3.0],
    "y": 1.0,
}
RIGHT = {"0.weight": [[-14.5, -21.75]], "0.bias": [-7.25]}


def write(tmp_path: Path, request: Any) -> str:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_example_prints_the_seed_request(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "example")
    assert status == 0
    assert json.loads(out) == seed.request_body()


def test_gradients_prints_a_table_and_exits_0_when_the_engines_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "gradients", write(tmp_path, ONE_LINEAR))
    assert status == 0
    assert err == ""  # no access log in-process
    lines = out.splitlines()
    assert lines[0] == "loss        13.140625"
    assert lines[1] == "prediction  [-2.625]"
    assert "manual against autograd (atol 1e-12, rtol 1e-09):" in lines
    assert "  0.bias          0        0        yes" in lines
    assert lines[-1] == "agree: yes (every engine agrees with the reference, autograd)"


def test_gradients_exits_1_when_the_engines_disagree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_tolerance = {"tolerance": {"atol": 0, "rtol": 0}}  # the seed's engines differ by ~1e-16
    status, out, _ = run(capsys, "gradients", write(tmp_path, no_tolerance))
    assert status == 1
    assert out.splitlines()[-1] == "agree: NO (an engine DISAGREES with the reference, autograd)"


def test_gradients_json_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(ONE_LINEAR)))
    status, out, _ = run(capsys, "gradients", "-", "--json")
    assert status == 0
    answer = json.loads(out)
    assert answer["gradients"] == RIGHT
    assert answer["engines"]["manual"]["loss"] == 13.140625
    assert answer["trace"] is None  # the response as the service sent it


def test_check_exits_0_when_the_candidate_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = {**ONE_LINEAR, "candidate": {"gradients": RIGHT, "loss": 13.140625}}
    status, out, _ = run(capsys, "check", write(tmp_path, request))
    assert status == 0
    assert out.splitlines()[:2] == ["verdict  PASS", "score    1 (4 of 4 entries correct)"]


def test_check_shows_the_worst_entries_and_hints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = {"0.weight": [[-14.5], [-21.75]], "0.bias": [-14.5]}  # a transpose, twice the bias
    request = {**ONE_LINEAR, "candidate": {"gradients": wrong}}
    status, out, _ = run(capsys, "check", write(tmp_path, request))
    assert status == 1
    lines = out.splitlines()
    assert lines[:2] == ["verdict  FAIL", "score    0 (0 of 3 entries correct)"]
    assert "  0.weight  wrong_shape  0/2      -        -" in lines
    assert "0.weight: wrong_shape, 0 of 2 entries correct" in lines
    assert any(line.startswith("  hint: this is the transpose") for line in lines)
    assert any(line.startswith("  hint: off by a factor of 2") for line in lines)
    assert "    [0]    -7.25     -14.5  7.25       0.5" in lines


@pytest.mark.parametrize(
    ("command", "request_", "message"),
    [
        ("gradients", {"x": [1.0, 2.0, 3.0]}, "  body.x: "),
        ("gradients", {"x": [1.0, float("nan")]}, "  body.x[1]: Input should be a finite number"),
        ("check", {"candidate": {}}, "  body.candidate.gradients: Field required [missing]"),
    ],
)
def test_a_refused_request_exits_2_with_the_detail_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, request_: Any, message: str
) -> None:
    status, out, err = run(capsys, command, write(tmp_path, request_))
    assert (status, out) == (2, "")
    assert err.startswith("POST http://in-process/gradients")
    assert " answered 422:\n" in err
    assert message in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("{", "is not JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_an_unreadable_request_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "request.json"
    if content is not None:
        path.write_text(content)
    status, _, err = run(capsys, "gradients", str(path))
    assert status == 2
    assert err.startswith("gradient-service: ")
    assert message in err


def test_no_server_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    status, _, err = run(capsys, "gradients", write(tmp_path, {}), "--url", url)
    assert status == 3
    assert "no answer" in err


@pytest.mark.live
def test_against_a_server(
    live_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "gradients", write(tmp_path, ONE_LINEAR), "--url", live_url)
    assert status == 0
    assert out.splitlines()[0] == "loss        13.140625"


def test_the_console_script_pipes_example_into_gradients() -> None:
    script = Path(sys.executable).with_name("gradient-service")
    example = subprocess.run([script, "example"], capture_output=True, check=True, text=True)
    result = subprocess.run(
        [script, "gradients", "-"],
        input=example.stdout,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("loss        0.9877350778792013\n")
    assert result.stderr == ""
