"""Faults against live servers with two workers: stalled and oversized uploads on the wire, a
worker killed under load, and a graceful stop that lets requests in flight finish.

uvicorn (≥ 0.30; 0.54 pinned) supervises its workers: its master pings each every half second
and starts a new one for any that died. It has no timeout for a request body, so the service
has its own (GRADIENT_SERVICE_BODY_TIMEOUT, 3 s here, 30 s by default).
"""

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from service.schemas.responses import GradientsResponse
from tests.conftest import LiveServer, live_server
from tests.nets import mlp

pytestmark = pytest.mark.live

STARTED = "Application startup complete."
BODY_TIMEOUT = 3.0


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(GRADIENT_SERVICE_BODY_TIMEOUT=str(BODY_TIMEOUT)) as running:
        running.wait_for_log(STARTED, count=2)
        yield running


def request_head(length: int) -> bytes:
    return (
        f"POST /gradients HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Everything until the server closes the connection: status, headers, body."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


def connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


# --- hostile uploads ---------------------------------------------------------------------------


def test_stalled_uploads_get_a_408_and_hold_up_no_one(server: LiveServer) -> None:
    stalled = [connect(server) for _ in range(20)]
    for sock in stalled:  # 10 of the 1000 bytes promised, then nothing
        sock.sendall(request_head(1000) + b'{"x": [0.1')
    start = time.monotonic()
    no_keep_alive = httpx.Limits(max_keepalive_connections=0)  # spread over both workers
    with httpx.Client(base_url=server.url, timeout=10, limits=no_keep_alive) as client:
        for _ in range(10):
            assert client.post("/gradients", json={}).status_code == 200
    served = time.monotonic() - start
    assert served < BODY_TIMEOUT, "the others waited for the stalled uploads"

    for sock in stalled:
        with sock:
            status, headers, body = read_response(sock)  # the server closes after answering
            assert status == 408
            assert headers["connection"] == "close"
            (item,) = orjson.loads(body)["detail"]
            assert item["type"] == "body_timeout"
    waited = time.monotonic() - start
    assert BODY_TIMEOUT - 0.5 < waited < BODY_TIMEOUT + 10


@pytest.mark.parametrize("expect", [False, True], ids=["body follows", "expect 100-continue"])
def test_a_50_mb_upload_is_refused_on_its_headers(server: LiveServer, expect: bool) -> None:
    head = request_head(50 * 10**6)
    if expect:  # what curl sends for a large body: no byte of it goes out before a 100
        head = head.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
    with connect(server) as sock:
        sock.sendall(head if expect else head + b"[" * 1024)  # and then nothing more
        status, headers, body = read_response(sock)
    assert status == 413
    assert headers["connection"] == "close"
    assert orjson.loads(body)["detail"][0]["type"] == "body_too_large"


# --- a worker killed under load ----------------------------------------------------------------

# A few ms each, in the thread pool (64 × 4,353 multiply-adds): with 6 clients, several are in
# flight on each worker at any time.
LOAD_BODY = {"network": {"layers": mlp({"type": "tanh"}, (2, 64, 64, 1))},
             "x": [[0.01 * i, -0.02 * i] for i in range(64)], "engines": ["autograd"]}  # fmt: skip


@dataclass(frozen=True)
class Sent:
    start: float
    end: float
    ok: bool


async def load(url: str, clients: int, stop: asyncio.Event, sent: list[Sent]) -> None:
    """`clients` loops, a new connection per request (so each lands on either worker)."""

    async def one_client() -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
            while not stop.is_set():
                start = time.monotonic()
                try:
                    ok = (await client.post("/gradients", json=LOAD_BODY)).status_code == 200
                except httpx.TransportError:
                    ok = False
                sent.append(Sent(start, time.monotonic(), ok))
                await asyncio.sleep(0.02)  # steady traffic that leaves the replacement CPU to start

    await asyncio.gather(*(one_client() for _ in range(clients)))


def bytes_written(pid: int) -> int:
    """What the process has written to sockets, pipes and files: its responses and access log."""
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(io["wchar"])


async def wait_for(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_a_killed_worker_is_replaced_and_only_its_requests_fail(
    server: LiveServer,
) -> None:
    survivor, victim = server.workers()
    started = sum(STARTED in line for line in server.log)
    stop, sent = asyncio.Event(), []
    traffic = asyncio.create_task(load(server.url, 6, stop, sent))
    await wait_for(lambda: sum(s.ok for s in sent) >= 12, timeout=30)  # both workers serving

    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    await wait_for(lambda: len(set(server.workers()) - {survivor, victim}) == 1, timeout=20)
    (replacement,) = set(server.workers()) - {survivor}
    await wait_for(lambda: sum(STARTED in line for line in server.log) > started, timeout=60)
    up_at = time.monotonic()
    written = bytes_written(replacement)
    # It serves: it writes responses (each ~100 kB) under the same steady traffic.
    await wait_for(lambda: bytes_written(replacement) - written > 10**6, timeout=30)
    stop.set()
    await traffic

    failed = [s for s in sent if not s.ok]
    in_flight = [s for s in sent if s.start <= killed_at <= s.end]
    after_kill = [s for s in sent if s.start > killed_at]
    after_up = [s for s in sent if s.start > up_at]
    print(
        f"\n{len(sent)} requests; {len(in_flight)} in flight at the kill, {len(failed)} failed; "
        f"{len(after_kill)} sent after it and {len(after_up)} after the replacement was up, "
        f"all answered; replacement up {up_at - killed_at:.1f} s after the kill"
    )
    assert all(s.start <= killed_at for s in failed), "a request sent after the kill failed"
    assert len(failed) <= len(in_flight)
    assert after_kill
    assert after_up
    assert all(s.ok for s in after_kill)
    assert sorted(server.workers()) == sorted([survivor, replacement])


# --- a graceful stop ---------------------------------------------------------------------------


def held_by_a_worker(server: LiveServer, sock: socket.socket) -> bool:
    """Whether a worker has accepted this connection: the server's end of it (local port the
    server's, remote port ours, in /proc/net/tcp) is among a worker's open files."""
    ours = sock.getsockname()[1]
    inodes = {
        fields[9]
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if int(fields[1].split(":")[1], 16) == server.port
        and int(fields[2].split(":")[1], 16) == ours
    }
    return any(
        f"socket:[{inode}]" in open_files(pid) for pid in server.workers() for inode in inodes
    )


def open_files(pid: int) -> set[str]:
    """What a process's file descriptors point to (one may close while we look)."""
    targets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            targets.add(os.readlink(fd))
        except FileNotFoundError:
            continue
    return targets


def test_sigterm_lets_a_request_in_flight_finish() -> None:
    body = orjson.dumps({"x": [[0.25, 0.5]] * 100})
    half = len(body) // 2
    with live_server() as stopping:
        stopping.wait_for_log(STARTED, count=2)
        with connect(stopping) as sock:
            sock.sendall(request_head(len(body)) + body[:half])  # in flight: half uploaded
            deadline = time.monotonic() + 20
            while not held_by_a_worker(stopping, sock):
                assert time.monotonic() < deadline, "no worker accepted the connection in 20 s"
                time.sleep(0.01)
            stopping.process.send_signal(signal.SIGTERM)
            stopping.wait_for_log("Waiting for connections to close", timeout=20)
            sock.sendall(body[half:])
            status, _, answer = read_response(sock)
        assert status == 200
        assert GradientsResponse.model_validate_json(answer).agree
        assert stopping.process.wait(timeout=20) == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", stopping.port), timeout=5)
