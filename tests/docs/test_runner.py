"""scripts/docs.py's convention: what runs, what it is compared with, and what is refused. The
commands here need no server (echo, printf), so a made-up address stands for it."""

import re
from pathlib import Path

import pytest

from scripts import docs

URL = "http://127.0.0.1:9"  # never called: the commands only print their address


def page(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_wrong_number_is_a_difference_and_write_rewrites_it(tmp_path: Path) -> None:
    path = page(tmp_path, "Text.\n\n```console\n$ echo 3.01\n3.0\n```\n\nMore.\n")
    differences = docs.check(URL, write=False, files=[path])
    assert len(differences) == 1
    assert "-3.0\n+3.01" in differences[0]
    docs.check(URL, write=True, files=[path])
    rewritten = "Text.\n\n```console\n$ echo 3.01\n3.01\n```\n\nMore.\n"
    assert path.read_text() == rewritten
    assert docs.check(URL, write=False, files=[path]) == []


def test_a_last_digit_rounded_otherwise_is_not(tmp_path: Path) -> None:
    """Another CPU's kernels may round a last place apart: within 1e-12 + 1e-9·|number|."""
    path = page(tmp_path, "```console\n$ echo 3.0000000000001\n3.0\n```\n")
    assert docs.check(URL, write=False, files=[path]) == []


def test_a_console_block_shows_stderr_durations_and_the_docs_address(tmp_path: Path) -> None:
    path = page(
        tmp_path,
        "```console\n"
        "$ echo 'took 1.25 ms'; echo oops >&2\n"
        "took … ms\n"
        "oops\n"
        "$ echo localhost:8000/gradients\n"
        "127.0.0.1:8000/gradients\n"
        "$ printf '%s\\n' 'one,\n"
        "    two'\n"
        "one,\n"
        "    two\n"
        "```\n",
    )
    found = list(docs.examples(path))
    assert [example.code.split()[1] for example in found] == ["'took", "localhost:8000/gradients",
                                                              "'%s\\n'"]  # fmt: skip
    assert docs.check(URL, write=False, files=[path]) == []


def test_a_failing_command_says_so(tmp_path: Path) -> None:
    path = page(tmp_path, '```console\n$ false\n$ false; echo "exit $?"\nexit 1\n```\n')
    [difference] = docs.check(URL, write=False, files=[path])
    assert "+(exit 1)" in difference


def test_a_python_block_is_compared_with_its_output_block(tmp_path: Path) -> None:
    path = page(tmp_path, "```python\nprint(6 * 7)\n```\n\n```output\n42\n```\n")
    [example] = docs.examples(path)
    assert (example.kind, example.output) == ("python", "42")
    assert docs.check(URL, write=False, files=[path]) == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("```\ncurl localhost:8000\n```\n", "page.md:1: a ``` block: say what it is"),
        ("```bash\ncurl localhost:8000\n```\n", "page.md:1: a ```bash block"),
        ("```python\nprint(1)\n```\n\nIt prints 1.\n", "must be followed by an output block"),
        ("```console\ncurl localhost:8000\n```\n", "page.md:2: expected a `$ command`"),
        ("```console\n$ echo 'never closed\n```\n", "a command that never ends"),
        ("```console\n$ echo\n", "an unclosed ``` at line 1"),
        ("- a list\n\n  ```console\n  $ echo\n  ```\n", "an indented ``` at line 3"),
    ],
)
def test_a_block_the_runner_cannot_run_is_an_error(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(docs.DocsError, match=re.escape(error)):
        list(docs.examples(page(tmp_path, text)))


def test_blocks_that_say_what_they_are_are_not_run(tmp_path: Path) -> None:
    text = "".join(f"```{language}\nnot run\n```\n\n" for language in sorted(docs.NOT_RUN))
    assert list(docs.examples(page(tmp_path, text))) == []
