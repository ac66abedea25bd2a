"""Run the examples in the docs against a live server, and check (or rewrite) their outputs.

    python -m scripts.docs            # check: print every example whose output differs, exit 1
    python -m scripts.docs --write    # rewrite the outputs from what the service prints now
    python -m scripts.docs --url http://127.0.0.1:8000   # a running server (else one is started)

What runs, in README.md and docs/*.md:

- a ```console block: each `$ command` (continued by a trailing backslash or an open quote) runs
  in bash from the repository's root, with the virtual environment's bin/ first on PATH and
  `localhost:8000` or `127.0.0.1:8000` pointed at the server; the lines after it, up to the next
  `$`, are what it prints, stdout and stderr together as a terminal shows them. A command that
  exits with an error status prints `(exit N)` first, which no doc shows: end one that should
  fail with `; echo "exit $?"`;
- a ```python block followed by an ```output block: the script runs with the same Python, the
  server's address put in the same way; the output block is what it prints.

Printed durations vary from run to run: `1.20 ms` is written `… ms` in both. Numbers are the
same when within 1e-12 + 1e-9·|number| of each other (another CPU's BLAS rounds the last digits
of a sum differently, another CPU's vector kernels a tanh), and so are runs of spaces
(a table's columns move with a number's width); everything else must match to the character.

Every other block must say what it is and is not run: json (a request or answer's shape), text
(an output from elsewhere, e.g. gradcheck's), sh (a command for another machine: a container, a
cluster), toml, yaml, ini, mermaid. A block without a language, an indented one (in a list), or
one the runner cannot run is an error: an example that does not run would drift.
"""

import argparse
import difflib
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS_URL = "127.0.0.1:8000"  # the address the docs show
NOT_RUN = {"json", "text", "sh", "toml", "yaml", "ini", "mermaid"}
ADDRESS = re.compile(r"(?:localhost|127\.0\.0\.1):8000")
DURATION = re.compile(r"\b\d+(?:\.\d+)? ms\b")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
SPACES = re.compile(r" +")  # a table's padding: a number of another width moves the next column
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


class DocsError(Exception):
    """A block the runner cannot run: the docs must be fixed."""


@dataclass
class Example:
    """One command and its documented output, by their place in a file's lines."""

    path: Path
    kind: str  # "console" or "python"
    code: str
    output: str
    start: int  # the output's first line
    end: int  # one past its last


def blocks(lines: list[str]) -> Iterator[tuple[str, int, int]]:
    """(language, first line of the body, one past its last) of every fenced block."""
    i = 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if opened is None:
            i += 1
            continue
        if opened.group(1):
            raise DocsError(f"an indented ``` at line {i + 1}: put the block at the left margin")
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        if end is None:
            raise DocsError(f"an unclosed ``` at line {i + 1}")
        yield opened.group(2), i + 1, end
        i = end + 1


def examples(path: Path) -> Iterator[Example]:
    lines = path.read_text(encoding="utf-8").split("\n")
    found = list(blocks(lines))
    for k, (language, start, end) in enumerate(found):
        where = f"{path.name}:{start}"
        if language == "console":
            yield from commands(path, lines, start, end)
        elif language == "python":
            following = found[k + 1] if k + 1 < len(found) else None
            if following is None or following[0] != "output" or following[1] - end != 3:
                raise DocsError(f"{where}: a python block must be followed by an output block")
            out_start, out_end = following[1], following[2]
            code = "\n".join(lines[start:end])
            yield Example(path, "python", code, "\n".join(lines[out_start:out_end]), out_start,
                          out_end)  # fmt: skip
        elif language not in NOT_RUN | {"output"}:
            raise DocsError(f"{where}: a ```{language} block: say what it is ({sorted(NOT_RUN)})")


def commands(path: Path, lines: list[str], start: int, end: int) -> Iterator[Example]:
    i = start
    while i < end:
        if not lines[i].startswith("$ "):
            raise DocsError(f"{path.name}:{i + 1}: expected a `$ command`")
        command = [lines[i][2:]]
        while incomplete("\n".join(command)):
            i += 1
            if i == end:
                raise DocsError(f"{path.name}:{i}: a command that never ends")
            command.append(lines[i])
        i += 1
        out_start = i
        while i < end and not lines[i].startswith("$ "):
            i += 1
        yield Example(path, "console", "\n".join(command), "\n".join(lines[out_start:i]),
                      out_start, i)  # fmt: skip


def incomplete(command: str) -> bool:
    """Whether a command goes on to the next line: a trailing backslash, or an open quote."""
    if command.endswith("\\"):
        return True
    try:
        shlex.split(command)
    except ValueError:  # "No closing quotation"
        return True
    return False


def run(example: Example, url: str) -> str:
    """What the example prints now."""
    address = url.removeprefix("http://")
    code = ADDRESS.sub(address, example.code)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "GRADIENT_SERVICE_URL": url, "PYTHONUNBUFFERED": "1"}
    if example.kind == "console":
        argv = ["bash", "-o", "pipefail", "-c", code]
    else:
        argv = [sys.executable, "-c", code]
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)  # fmt: skip
    printed = done.stdout.replace(address, DOCS_URL)
    if done.returncode != 0:  # never what the docs show: they end such a command with echo $?
        printed = f"(exit {done.returncode}) {printed}"
    return DURATION.sub("… ms", printed).rstrip("\n")


def same(documented: str, printed: str) -> bool:
    """The texts match but for numbers within rounding of each other, and the spaces that
    align a table's columns around them."""
    if [SPACES.sub(" ", t) for t in NUMBER.split(documented)] != [
        SPACES.sub(" ", t) for t in NUMBER.split(printed)
    ]:
        return False
    pairs = zip(NUMBER.findall(documented), NUMBER.findall(printed), strict=True)
    return all(abs(float(a) - float(b)) <= 1e-12 + 1e-9 * abs(float(a)) for a, b in pairs)


def check(url: str, write: bool, files: list[Path] = FILES) -> list[str]:
    """The differences between the docs and what the examples print; with `write`, the docs
    are rewritten to what they print."""
    differences = []
    for path in files:
        lines = path.read_text(encoding="utf-8").split("\n")
        found = list(examples(path))
        for example in reversed(found):  # from the end: line numbers stay right
            printed = run(example, url)
            if same(example.output, printed):
                continue
            where = f"{path.name}:{example.start + 1}"
            diff = difflib.unified_diff(example.output.split("\n"), printed.split("\n"),
                                        "documented", "printed", lineterm="")  # fmt: skip
            differences.append(f"{where}: {example.code.splitlines()[0]}\n" + "\n".join(diff))
            lines[example.start : example.end] = printed.split("\n") if printed else []
        if write:
            path.write_text("\n".join(lines), encoding="utf-8")
    return differences


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start within 60 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the documented outputs")
    parser.add_argument("--url", help="a running server (default: start one)")
    args = parser.parse_args()
    server = None
    url = args.url
    if url is None:
        server, url = serve()
    try:
        differences = check(url, args.write)
    except DocsError as error:
        print(error)
        return 2
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    for difference in differences:
        print(difference, end="\n\n")
    verb = "rewritten" if args.write else "differ"
    print(f"{len(differences)} examples {verb}" if differences else "every example as documented")
    return 1 if differences and not args.write else 0


if __name__ == "__main__":
    sys.exit(main())
