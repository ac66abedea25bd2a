"""The `gradient-service` command: `serve` the app, write its `openapi` spec, or use it.

`example` prints the worked example's request. `gradients FILE` and `check FILE` send a request
(a JSON file, or - for stdin) to the service, in this process unless --url names a server, and
print a readable report, or the response itself with --json.

Exit status: 0 the engines agree (check: the candidate passes); 1 they do not (check: it fails);
2 the request was refused (a 4xx, its detail on stderr) or could not be read, or the command
needs the server and it is not installed; 3 no answer or a server error.

`pip install gradient-service` gives the commands that ask a server (--url); `serve`, `openapi`
and requests answered in this process need the server: `pip install 'gradient-service[server]'`.
"""

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from service.client import AsyncGradientClient, GradientServiceError, RequestRejected, render
from service.core import seed
from service.core.levels import LEVELS

IN_PROCESS = "http://in-process"
EXIT_DISAGREE, EXIT_REQUEST, EXIT_SERVICE = 1, 2, 3
Answer = TypeVar("Answer")


class UnreadableRequest(Exception):
    """The request file is missing, not JSON, or not a JSON object."""


class ServerNotInstalled(Exception):
    """A command that runs the app in this process, in an install without the `server` extra."""


@contextlib.contextmanager
def the_server(needed_by: str) -> Iterator[None]:
    """Imports of the server's packages, which a light install (the client and the command
    line only) lacks: their absence becomes a message saying what to install."""
    try:
        yield
    except ModuleNotFoundError as missing:
        raise ServerNotInstalled(
            f"gradient-service: {needed_by} needs the server ({missing.name} is not installed): "
            "pip install 'gradient-service[server]'"
        ) from None


# --- serve, openapi ----------------------------------------------------------------------------


@contextlib.contextmanager
def shared_metrics_dir(workers: int) -> Iterator[None]:
    """Several workers add their metrics up in one directory: a fresh one unless
    PROMETHEUS_MULTIPROC_DIR already names one (see service.api.observability)."""
    if workers == 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="gradient-service-metrics-") as path:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        try:
            yield
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


# glibc gives freed memory back to the system only from allocations of at least its mmap
# threshold, which it raises as large arrays are freed: a worker's RSS crept up with every heavy
# request (278 → 459 MiB over seven). Fixed at 4 MiB, arrays that large are mapped and unmapped,
# and the RSS goes back to ~300 MiB after each. glibc reads it from the environment at start.
MMAP_THRESHOLD = ("MALLOC_MMAP_THRESHOLD_", str(4 * 2**20))


def serve(args: argparse.Namespace) -> int:
    """uvicorn with the service's protocol (service.api.protocol: bounded headers, dropped
    non-readers, streams told of shutdown), and a graceful shutdown of at most SHUTDOWN_GRACE
    seconds: what is still running then is cancelled. Started again at once if the C library
    has not been given its mmap threshold (the workers inherit it)."""
    name, value = MMAP_THRESHOLD
    if name not in os.environ:
        os.environ[name] = value
        again = ["serve", "--host", args.host, "--port", str(args.port),
                 "--workers", str(args.workers), "--log-level", args.log_level]  # fmt: skip
        os.execv(sys.executable, [sys.executable, "-m", "service.cli", *again])

    with the_server("serve"):
        import uvicorn

        from service.core.config import get_settings
        from service.core.logs import uvicorn_log_config

    os.environ["LOG_LEVEL"] = args.log_level  # the workers' access log level
    for blas in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(blas, "1")  # one thread per worker, as torch: workers = cores
    with shared_metrics_dir(args.workers):
        uvicorn.run(
            "service.api.app:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            http="service.api.protocol:GuardedHttpToolsProtocol",
            timeout_graceful_shutdown=get_settings().shutdown_grace,  # type: ignore[arg-type]
            log_level=args.log_level,
            log_config=uvicorn_log_config(),
            access_log=False,  # the service writes its own, as JSON
        )
    return 0


def openapi(args: argparse.Namespace) -> int:
    with the_server("openapi"):
        from service.api.app import create_app
        from service.core.config import Settings

    app = create_app(Settings(api_key=None))  # the published spec is the one without a key
    text = json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


# --- example, gradients, check -----------------------------------------------------------------


def example(args: argparse.Namespace) -> int:
    print(json.dumps(seed.request_body(), indent=2))
    return 0


def read_request(source: str) -> dict[str, Any]:
    name = "stdin" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        request = json.loads(text)  # NaN and Infinity pass: the service names their field
    except OSError as exc:
        raise UnreadableRequest(f"cannot read {name}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UnreadableRequest(f"{name} is not JSON: {exc}") from exc
    if not isinstance(request, dict):
        raise UnreadableRequest(f"the request in {name} must be a JSON object, {{...}}")
    return request


def connect(args: argparse.Namespace) -> AsyncGradientClient:
    """A client of the server at --url, or of the app itself, in this process."""
    if args.url:
        return AsyncGradientClient(args.url, timeout=args.timeout, api_key=args.api_key)
    with the_server("answering in this process (no --url)"):  # only this path needs them
        from service.api.app import app
        from service.core.logs import configure_logging

    configure_logging("warning")  # no access-log lines in the command's output
    transport = httpx.ASGITransport(app=app)
    return AsyncGradientClient(IN_PROCESS, api_key=args.api_key, transport=transport)


def ask(
    args: argparse.Namespace, call: Callable[[AsyncGradientClient], Awaitable[Answer]]
) -> Answer:
    async def run() -> Answer:
        async with connect(args) as client:
            return await call(client)

    return asyncio.run(run())


def as_json(answer: BaseModel) -> str:
    """The response as the service sent it: the fields it holds, none added as null."""
    return answer.model_dump_json(indent=2, exclude_unset=True)


def gradients(args: argparse.Namespace) -> int:
    request = read_request(args.file)
    answer = ask(args, lambda client: client.gradients(request))
    print(as_json(answer) if args.json else render.gradients(answer))
    return 0 if answer.agree else EXIT_DISAGREE


def check(args: argparse.Namespace) -> int:
    request = read_request(args.file)
    answer = ask(args, lambda client: client.check(request))
    print(as_json(answer) if args.json else render.check(answer))
    return 0 if answer.report.verdict == "pass" else EXIT_DISAGREE


# --- the parser --------------------------------------------------------------------------------


def client_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("file", help="the request as JSON: a file, or - for stdin")
    options.add_argument("--url", help="a server, e.g. http://127.0.0.1:8000 (default: in-process)")
    options.add_argument(
        "--api-key",
        default=os.environ.get("GRADIENT_SERVICE_API_KEY"),
        help="sent as X-API-Key (env GRADIENT_SERVICE_API_KEY)",
    )
    options.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    options.add_argument("--json", action="store_true", help="print the response as JSON")
    return options


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="gradient-service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="serve the HTTP API with uvicorn")
    p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"), help="env HOST")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")), help="env PORT")
    p.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WORKERS", "1")),
        help="processes, one per core (env WORKERS)",
    )
    p.add_argument(
        "--log-level",
        choices=LEVELS,
        default=os.environ.get("LOG_LEVEL", "info").lower(),
        help="env LOG_LEVEL (default info)",
    )
    p.set_defaults(run=serve)

    p = commands.add_parser("openapi", help="write the OpenAPI spec generated from the app")
    p.add_argument("output", nargs="?", default="-", help="a file, or - for stdout (default)")
    p.set_defaults(run=openapi)

    p = commands.add_parser("example", help="print the worked example's request as JSON")
    p.set_defaults(run=example)

    client = [client_options()]
    p = commands.add_parser("gradients", parents=client, help="compute and compare the engines")
    p.set_defaults(run=gradients)
    p = commands.add_parser("check", parents=client, help="grade a candidate's gradients")
    p.set_defaults(run=check)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except UnreadableRequest as exc:
        print(f"gradient-service: {exc}", file=sys.stderr)
        return EXIT_REQUEST
    except ServerNotInstalled as exc:
        print(exc, file=sys.stderr)
        return EXIT_REQUEST
    except RequestRejected as exc:
        print(exc, file=sys.stderr)
        return EXIT_REQUEST
    except GradientServiceError as exc:
        print(exc, file=sys.stderr)
        return EXIT_SERVICE


if __name__ == "__main__":
    sys.exit(main())
