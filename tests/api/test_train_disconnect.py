"""A client that goes away stops the training: against a real uvicorn on 127.0.0.1.

The server runs in this process (in a thread) so that its log can be read: each run that stops
early logs "training stopped after K of N epochs" (a handler on that logger collects the lines,
whatever handlers and propagation the service's logging set up). A run of 1000 epochs takes
about a minute; the test closes the connection after the first epoch and expects that line
within a few seconds of leaving, with K well short of N, then nothing more. How many epochs ran
before the server noticed depends on the machine's speed, so K itself is not bounded tighter.
"""

import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from service.api.app import create_app
from service.core.config import Settings
from tests.conftest import free_port

pytestmark = pytest.mark.live

EPOCHS = 1000
LOGGER = "gradient_service.training"


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log() -> Iterator[Lines]:
    logger = logging.getLogger(LOGGER)
    handler, level = Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


# Once the client has gone, the epoch in progress (~0.1 s) finishes and no other starts: the stop
# is logged well within this, and a whole run of EPOCHS takes ten times longer or more.
STOP_WITHIN = 5.0


class Server:
    def __init__(self, server: uvicorn.Server, url: str) -> None:
        self.server, self.url = server, url

    def wait_until_idle(self, within: float = STOP_WITHIN) -> None:
        """Until no request is being handled: the training's handler has returned."""
        deadline = time.monotonic() + within
        while self.server.server_state.tasks:
            assert time.monotonic() < deadline, f"a request still ran {within} s later"
            time.sleep(0.01)


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="off",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.05)
    yield Server(server, f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=30)


def stops(log: Lines, within: float = STOP_WITHIN) -> list[str]:
    """The log's lines, once the stop has been logged: at most `within` s after the client left."""
    deadline = time.monotonic() + within
    while not log.lines:
        if time.monotonic() > deadline:
            pytest.fail(f"nothing logged by {LOGGER} within {within} s: the training went on")
        time.sleep(0.05)
    return list(log.lines)


def stopped_after(message: str) -> int:
    words = message.split()
    assert words[:3] == ["training", "stopped", "after"], message
    assert f"of {EPOCHS} epochs" in message
    epochs = int(words[3])
    assert 1 <= epochs < EPOCHS // 2, message  # stopped early, however fast the machine
    return epochs


def test_closing_the_stream_stops_the_training(server: Server, log: Lines) -> None:
    body = {"epochs": EPOCHS}
    headers = {"accept": "application/x-ndjson"}
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream("POST", "/train", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        first = next(response.iter_lines())
        assert '"epoch":1,' in first
    # Leaving the block closed the connection with the body unread.
    (message,) = stops(log)
    stopped_after(message)
    server.wait_until_idle()
    assert log.lines == [message]  # and nothing after, once the handler has returned


def test_a_client_that_gives_up_on_the_json_answer_stops_it_too(server: Server, log: Lines) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/train", json={"epochs": EPOCHS}, timeout=0.5)
    (message,) = stops(log)
    stopped_after(message)
    server.wait_until_idle()
    assert log.lines == [message]
