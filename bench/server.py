"""The benchmark's HTTP side: bench.app under uvicorn on 127.0.0.1, and wrk to load it.

With two CPUs or more (and `taskset`), the server is pinned to CPU 0 and wrk to CPU 1, so the
load generator never takes the server's core. Every load is bounded in time and stays on the
loopback interface.

The service runs as in production, writing its JSON access-log line per request (level info) to
its stderr, a pipe, as a container's is; a thread of the benchmark reads it, counts the access
lines and copies every other line (warnings, errors) to the benchmark's stderr.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
WRK_SCRIPT = Path(__file__).with_name("wrk.lua")
CONNECTIONS = 4
PINNED = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
SERVER_CPU, LOAD_CPU = 0, 1
SERVER_ENV = {
    "LOG_LEVEL": "info",  # the access log on, as in production
    # bench/cost.py's 2M-parameter answers in JSON are larger than the default 64 MB
    "GRADIENT_SERVICE_MAX_RESPONSE_BYTES": str(512 * 1024 * 1024),
}


def pinned(command: list[str], cpu: int) -> list[str]:
    return ["taskset", "--cpu-list", str(cpu), *command] if PINNED else command


@contextmanager
def on_load_cpu() -> Iterator[None]:
    """Run the calling thread on the client's CPU, as wrk is, while the block runs."""
    with on_cpu(LOAD_CPU):
        yield


@contextmanager
def on_cpu(cpu: int) -> Iterator[None]:
    """Run the calling thread on `cpu` while the block runs (when pinning is possible)."""
    if not PINNED:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def placement() -> str:
    if PINNED:
        return f"server pinned to CPU {SERVER_CPU}, client to CPU {LOAD_CPU}"
    return "server and client not pinned (needs taskset and two CPUs): expect more noise"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def healthy(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@dataclass
class ServerLog:
    """What the server wrote on stderr: access lines are counted once it has stopped."""

    access_lines: int = 0


@contextmanager
def server(log: ServerLog | None = None) -> Iterator[int]:
    """A port where bench.app answers: uvicorn, 1 worker, uvloop and httptools, uvicorn's access
    log off (the service writes its own, read from a pipe; see the module's docstring)."""
    log = log if log is not None else ServerLog()
    port = free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", "bench.app:app", "--host", HOST, "--port", str(port)),
        *("--workers", "1", "--loop", "uvloop", "--http", "httptools"),
        *("--no-access-log", "--log-level", "warning"),
    ]
    env = os.environ | SERVER_ENV
    process = subprocess.Popen(
        pinned(command, SERVER_CPU), cwd=ROOT, env=env, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    reader = threading.Thread(target=read_log, args=(process.stderr, log), daemon=True)
    reader.start()
    try:
        yield from serving(process, port)
    finally:
        reader.join(timeout=20)


def serving(process: subprocess.Popen[bytes], port: int) -> Iterator[int]:
    """`port` once the server answers /healthz; the server stopped when done."""
    try:
        deadline = time.monotonic() + 60
        while not healthy(port):
            if process.poll() is not None:
                raise RuntimeError(f"the benchmark server exited with status {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the benchmark server did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def read_log(stderr: IO[bytes], log: ServerLog) -> None:
    """Until the server exits: count the access lines, copy every other line to the
    benchmark's stderr. On the client's CPU, as the load is, never the server's."""
    if PINNED:
        os.sched_setaffinity(0, {LOAD_CPU})  # this thread only
    for line in stderr:
        if b'"logger":"gradient_service.access"' in line and b'"level":"info"' in line:
            log.access_lines += 1
        else:
            sys.stderr.write(line.decode(errors="replace"))


@dataclass(frozen=True)
class Load:
    """What wrk measured on one endpoint."""

    requests: int
    seconds: float
    p50_s: float
    p99_s: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk(port: int, path: str, body: str | None, seconds: int) -> Load:
    """POST `body` (GET if None) to `path` for `seconds` from CONNECTIONS keep-alive
    connections, one thread."""
    command = [
        *("wrk", "--threads", "1", "--connections", str(CONNECTIONS)),
        *("--duration", f"{seconds}s", "--timeout", "10s", "--script", str(WRK_SCRIPT)),
        *(f"http://{HOST}:{port}{path}", "--", *(("GET",) if body is None else ("POST", body))),
    ]
    run = subprocess.run(
        pinned(command, LOAD_CPU), capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    result = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("{")))
    if result["errors"]:
        raise RuntimeError(f"wrk on {path}: {result['errors']} errors or non-2xx answers")
    return Load(
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_s=result["p50_us"] / 1e6,
        p99_s=result["p99_us"] / 1e6,
    )
