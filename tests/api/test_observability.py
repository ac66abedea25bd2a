"""Metrics, JSON access logs and request IDs, in-process and on the live two-worker server."""

import asyncio
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from service.core import logs
from service.core.logs import JSONFormatter, configure_logging, write
from tests.conftest import LiveServer

Sample = Callable[[], float]


def sample(name: str, **labels: str) -> Sample:
    """A metric's current value in this process (0 before it exists), read when called."""
    return lambda: REGISTRY.get_sample_value(name, labels) or 0.0


def requests(route: str, status: str, method: str = "POST") -> Sample:
    labels = {"method": method, "route": route, "status": status}
    return sample("gradient_service_http_requests_total", **labels)


def access_lines(stderr: str) -> list[dict]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "gradient_service.access"]


# --- metrics -----------------------------------------------------------------------------------


async def test_metrics_are_prometheus_text_and_not_in_the_schema(client: httpx.AsyncClient) -> None:
    await client.post("/gradients", json={})
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "gradient_service_http_requests",
        "gradient_service_http_request_duration_seconds",
        "gradient_service_engine_duration_seconds",
        "gradient_service_engine_disagreements",
    } <= names
    assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    counters = {
        "ok": requests("/gradients", "200"),
        "invalid": requests("/gradients", "422"),
        "wrong method": requests("/gradients", "405", method="GET"),
        "static": requests("/static/{path}", "200", method="GET"),
        "unknown": requests("unmatched", "404", method="GET"),
    }
    latency = sample(
        "gradient_service_http_request_duration_seconds_count",
        method="POST",
        route="/gradients",
        status="200",
    )
    before = {name: counter() for name, counter in counters.items()}
    latency_before = latency()

    await client.post("/gradients", json={})
    await client.post("/gradients", json={"x": "no"})
    await client.get("/gradients")
    await client.get("/static/favicon-32x32.png")
    await client.get("/no/such/path/123")

    assert {name: counter() - before[name] for name, counter in counters.items()} == dict.fromkeys(
        counters, 1.0
    )
    assert latency() == latency_before + 1


async def test_engine_times_are_observed_per_engine(client: httpx.AsyncClient) -> None:
    autograd = sample("gradient_service_engine_duration_seconds_count", engine="autograd")
    manual = sample("gradient_service_engine_duration_seconds_count", engine="manual")
    before = autograd(), manual()
    await client.post("/gradients", json={})
    assert (autograd(), manual()) == (before[0] + 1, before[1] + 1)
    candidate = {"gradients": {"0.weight": [[0.0]]}}
    await client.post("/gradients/check", json={"candidate": candidate})
    assert (autograd(), manual()) == (before[0] + 2, before[1] + 1)  # check runs the reference


async def test_a_disagreement_is_counted_for_its_engine(client: httpx.AsyncClient) -> None:
    disagreements = sample("gradient_service_engine_disagreements_total", engine="manual")
    before = disagreements()
    await client.post("/gradients", json={})
    assert disagreements() == before  # they agree
    # the engines differ by ~1e-16 on the seed: with no tolerance at all, they disagree
    response = await client.post("/gradients", json={"tolerance": {"atol": 0, "rtol": 0}})
    assert response.json()["agree"] is False
    assert disagreements() == before + 1


# --- request IDs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given", ["abc-123", "x" * 128, "7f2c1d9e-0b4a-4c55-9d3e-2a1b3c4d5e6f", "~!@#$%^&*()_+"]
)
async def test_a_valid_request_id_is_echoed(client: httpx.AsyncClient, given: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", [None, "", "x" * 129, "has space", "tab\there", "é"])
async def test_an_invalid_or_missing_request_id_is_replaced(
    client: httpx.AsyncClient, given: str | None
) -> None:
    headers = {} if given is None else {"X-Request-ID": given.encode()}
    response = await client.get("/healthz", headers=headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    made = uuid.UUID(response.headers["X-Request-ID"])
    assert (made.version, made.variant) == (4, uuid.RFC_4122)  # a uuid4's hex


async def test_errors_and_413s_carry_the_request_id(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    too_large = b" " * (app.state.settings.max_body_bytes + 1)
    is_json = {"Content-Type": "application/json"}
    cases = [
        await client.post("/gradients", content=too_large, headers={"X-Request-ID": "big"}),
        await client.post("/gradients", content=b"{", headers={"X-Request-ID": "bad", **is_json}),
        await client.get("/nowhere", headers={"X-Request-ID": "lost"}),
    ]
    assert [(r.status_code, r.headers["X-Request-ID"]) for r in cases] == [
        (413, "big"),
        (400, "bad"),
        (404, "lost"),
    ]


async def test_an_unexpected_error_is_a_json_500_with_the_request_id(
    app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/broken", headers={"X-Request-ID": "oops"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "oops"
    assert response.json()["detail"][0]["type"] == "internal_error"
    assert "oops" in response.json()["detail"][0]["msg"]
    logs.flush()
    [line] = access_lines(capsys.readouterr().err)
    assert (line["level"], line["status"], line["route"]) == ("error", 500, "/broken")


# --- access logs -------------------------------------------------------------------------------


async def test_one_json_access_line_per_request(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    await client.post("/gradients", json={}, headers={"X-Request-ID": "req-1"})
    await client.get("/healthz")
    logs.flush()
    first, second = access_lines(capsys.readouterr().err)
    assert first["message"] == "POST /gradients 200"
    assert first["level"] == "info"
    assert {k: first[k] for k in ("method", "route", "path", "status", "request_id")} == {
        "method": "POST",
        "route": "/gradients",
        "path": "/gradients",
        "status": 200,
        "request_id": "req-1",
    }
    assert first["duration_ms"] > 0
    assert first["client"] == "127.0.0.1:123"  # httpx's ASGITransport's
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert (second["path"], second["status"]) == ("/healthz", 200)


async def test_log_level_from_the_environment(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "warning")
    configure_logging()
    try:
        await client.get("/healthz")
        logs.flush()
        assert access_lines(capsys.readouterr().err) == []
    finally:
        monkeypatch.delenv("LOG_LEVEL")
        configure_logging()
    assert logging.getLogger("gradient_service").level == logging.INFO


def test_a_line_written_directly_is_the_line_logging_writes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`write` skips the LogRecord when nothing but the service's handler would see it; when a
    filter would, the record goes through logging, and the filter sees it."""
    configure_logging("info")
    logger = logging.getLogger("gradient_service.access")
    fields = {"status": 200, "path": "/x", "client": None}
    write(logger, logging.INFO, "GET /x 200", fields)
    logger.log(logging.INFO, "%s", "GET /x 200", extra={"fields": fields})
    direct, through_logging = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    written = [datetime.fromisoformat(line.pop("time")) for line in (direct, through_logging)]
    assert abs(written[1] - written[0]).total_seconds() < 5
    assert direct == through_logging
    seen: list[logging.LogRecord] = []

    def keep(record: logging.LogRecord) -> bool:
        seen.append(record)
        return False  # dropped: nothing written

    logger.addFilter(keep)
    try:
        write(logger, logging.INFO, "GET /x 200", fields)
    finally:
        logger.removeFilter(keep)
    assert [record.getMessage() for record in seen] == ["GET /x 200"]
    assert capsys.readouterr().err == ""


async def test_lines_written_in_an_event_loop_go_out_together(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Info lines wait for at most FLUSH_SECONDS (or MAX_PENDING lines); a warning goes out at
    once, after the lines that wait, in order."""
    configure_logging("info")
    logger = logging.getLogger("gradient_service.access")
    for n in range(3):
        write(logger, logging.INFO, f"line {n}", {})
    assert capsys.readouterr().err == ""
    await asyncio.sleep(2 * logs.FLUSH_SECONDS)
    assert [json.loads(line)["message"] for line in capsys.readouterr().err.splitlines()] == [
        "line 0", "line 1", "line 2"
    ]  # fmt: skip
    write(logger, logging.INFO, "waits", {})
    write(logger, logging.WARNING, "at once", {})
    assert [json.loads(line)["message"] for line in capsys.readouterr().err.splitlines()] == [
        "waits", "at once"
    ]  # fmt: skip
    for n in range(logs.MAX_PENDING):
        write(logger, logging.INFO, f"line {n}", {})
    assert len(capsys.readouterr().err.splitlines()) == logs.MAX_PENDING
    assert logs.pending == []


def test_times_are_datetime_s_own_to_the_millisecond() -> None:
    """utc_time formats the date and time once per second; to the millisecond it must be what
    datetime writes, rounding to the microsecond first (…44.45199984 is .452), before 1970 too."""
    edges = [0.0, 1.9999, 1700000000.0005, 1700000000.9999996, 261786824.45199984, -1.5, -1e-7]
    for created in [*edges, *np.random.default_rng(0).uniform(-1e9, 4e9, 20_000).tolist()]:
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert logs.utc_time(created) == expected, created


def test_the_formatter_adds_fields_and_the_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "a %s", ("b",), exc_info)
    record.fields = {"n": 1}
    entry = json.loads(JSONFormatter().format(record))
    assert (entry["message"], entry["level"], entry["logger"], entry["n"]) == (
        "a b",
        "error",
        "x",
        1,
    )
    assert "ValueError: boom" in entry["exception"]


# --- the live server: two workers, one set of metrics ------------------------------------------


def live_count(url: str, route: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        if family.name == "gradient_service_http_requests":
            return sum(
                s.value
                for s in family.samples
                if s.name.endswith("_total") and s.labels["route"] == route
            )
    return 0.0


def eventually(read: Callable[[], object], expected: object, seconds: float = 10) -> None:
    """A server counts and logs a request just after answering it: wait a moment for it."""
    deadline = time.monotonic() + seconds
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert value == expected


@pytest.mark.live
def test_live_metrics_add_up_every_worker(live_url: str) -> None:
    before = live_count(live_url, "/healthz")
    for _ in range(12):  # a new connection each: the kernel spreads them over the workers
        assert httpx.get(f"{live_url}/healthz", timeout=30).status_code == 200
    eventually(lambda: live_count(live_url, "/healthz"), before + 12)
    # whichever worker answers the scrape, it reports every worker's requests
    assert [live_count(live_url, "/healthz") for _ in range(6)] == [before + 12] * 6


@pytest.mark.live
def test_live_logs_are_json_lines_without_uvicorns_access_log(shared_server: LiveServer) -> None:
    response = httpx.get(f"{shared_server.url}/healthz", headers={"X-Request-ID": "live-1"})
    assert response.headers["X-Request-ID"] == "live-1"

    def entries() -> list[dict]:
        return [json.loads(line) for line in list(shared_server.log)]

    def mine() -> list[tuple[str, int]]:
        return [(e["route"], e["status"]) for e in entries() if e.get("request_id") == "live-1"]

    eventually(mine, [("/healthz", 200)])
    loggers = {e["logger"] for e in entries()}  # every line is JSON, uvicorn's own too
    assert {"uvicorn.error", "gradient_service.access"} <= loggers
    assert "uvicorn.access" not in loggers
