import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from service import __version__
from service.api import readiness
from service.core.config import Settings
from service.domain import compute
from service.engines import EngineResult, Problem, manual


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": __version__,
        "engines": ["autograd", "manual", "numeric"],
    }


async def test_unknown_route_and_method_keep_the_error_format(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"detail": [{"type": "http_error", "loc": [], "msg": "Not Found"}]}
    wrong = await client.get("/gradients")
    assert wrong.status_code == 405
    assert wrong.json()["detail"][0]["msg"] == "Method Not Allowed"


# --- readiness: 503 until the start-up self-check has passed ----------------------------------


async def wait_for_readiness(client: httpx.AsyncClient) -> httpx.Response:
    deadline = time.monotonic() + 30
    while (response := await client.get("/readyz")).json()["status"] == "starting":
        assert time.monotonic() < deadline, "the self-check did not finish within 30 s"
        await asyncio.sleep(0.02)
    return response


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan started, as uvicorn runs it."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_not_ready_before_the_lifespan_has_run(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "starting",
        "reason": "the start-up self-check has not finished",
        "version": __version__,
    }
    assert (await client.get("/healthz")).status_code == 200  # alive all the same


async def test_ready_once_the_self_check_has_passed(app: FastAPI) -> None:
    async with running(app) as client:
        response = await wait_for_readiness(client)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "reason": None, "version": __version__}


async def test_a_failed_self_check_keeps_it_unready_and_says_why(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(settings: Settings) -> None:
        raise readiness.SelfCheckFailed("the engines disagree on the seed example")

    monkeypatch.setattr(readiness, "self_check", broken)
    async with running(app) as client:
        response = await wait_for_readiness(client)
        assert (await client.get("/healthz")).status_code == 200
    assert response.status_code == 503
    assert response.json()["status"] == "failed"
    assert "the engines disagree on the seed example" in response.json()["reason"]


def test_the_self_check_catches_an_engine_that_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    readiness.self_check(Settings())  # passes as the engines are

    def off_by_a_little(problem: Problem) -> EngineResult:
        result = manual.run(problem)
        return dataclasses.replace(result, loss=result.loss * (1 + 1e-6))

    monkeypatch.setitem(compute.ENGINES, "manual", off_by_a_little)
    with pytest.raises(readiness.SelfCheckFailed, match="the engines disagree"):
        readiness.self_check(Settings())
