"""Fixtures: an in-process client over the ASGI transport, and live uvicorns on 127.0.0.1."""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from service.api.app import create_app
from service.core import logs
from service.core.config import Settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test against a live server is a slow one: `-m "not slow"` leaves them all out."""
    for item in items:
        if item.get_closest_marker("live"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def written_logs() -> Iterator[None]:
    """Access-log lines still waiting to be written (service.core.logs.pending) are written
    when the test ends, to its own stderr, not the next test's."""
    yield
    logs.flush()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """`gradient-service serve` in a subprocess: its URL, its master process and its log."""

    def __init__(self, workers: int, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "service.cli", "serve", "--port", str(self.port),
                   "--workers", str(workers)]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)

    def wait_until_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                self._reader.join(5)
                pytest.fail("the server exited early:\n" + "".join(self.log))
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer /healthz within {timeout} s")
            time.sleep(0.2)

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 60) -> None:
        """Until `text` is in `count` lines of the log (each worker logs its own start-up)."""
        deadline = time.monotonic() + timeout
        while sum(text in line for line in list(self.log)) < count:
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"{text!r} not logged {count} times:\n" + "".join(self.log))
            time.sleep(0.05)

    def workers(self) -> list[int]:
        """The pids of the worker processes (uvicorn spawns them from the master)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(c) for c in children if "spawn_main" in cmdline(int(c))]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        if self.process.stdout:
            self.process.stdout.close()


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


@contextmanager
def live_server(workers: int = 2, **env: str) -> Iterator[LiveServer]:
    """A server with `workers` processes and `env` (e.g. GRADIENT_SERVICE_BODY_TIMEOUT="2")."""
    server = LiveServer(workers, env)
    try:
        server.wait_until_healthy()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def shared_server() -> Iterator[LiveServer]:
    """A real server started by the `gradient-service serve` command, with two workers, shared
    by the session's tests."""
    with live_server() as server:
        yield server


@pytest.fixture(scope="session")
def live_url(shared_server: LiveServer) -> str:
    return shared_server.url
