"""JSONRoute's direct call (service.api.http.DirectCall): the endpoints that take only their body,
the request and the settings are called without FastAPI's dependency solving, and answer as
FastAPI's own handler does."""

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from service.api.http import JSONRoute
from service.api.routes.deps import get_settings
from service.core.config import Settings
from tests.answers import without

DURATIONS = {"elapsed_ms", "engine_ms", "duration_ms"}
DIRECT = ["/gradients", "/gradients/check", "/train", "/healthz", "/readyz"]
BODIES = {
    "/gradients": {"engines": ["autograd", "manual", "numeric"], "learning_rate": 0.05},
    "/gradients/check": {"candidate": {"loss": 1.0, "gradients": {"0.bias": [0.5] * 10}}},
    "/train": {"epochs": 2},
}


def route(app: FastAPI, path: str) -> JSONRoute:
    found = [c.original_route for c in iter_route_contexts(app.routes) if c.path == path]
    assert len(found) == 1
    assert isinstance(found[0], JSONRoute)
    return found[0]


@pytest.mark.parametrize("path", DIRECT)
def test_the_computing_routes_and_the_probes_are_called_directly(app: FastAPI, path: str) -> None:
    assert route(app, path).direct is not None


def test_a_route_with_a_query_or_header_parameter_is_left_to_fastapi(app: FastAPI) -> None:
    assert route(app, "/datasets/seed").direct is None  # it takes query parameters


@pytest.mark.parametrize("path", list(BODIES))
async def test_fastapi_s_handler_answers_the_same(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    direct = await client.post(path, json=BODIES[path])
    app.dependency_overrides[get_settings] = lambda: settings  # FastAPI's handler serves now
    through_fastapi = await client.post(path, json=BODIES[path])
    assert direct.status_code == through_fastapi.status_code == 200
    assert direct.headers["content-type"] == through_fastapi.headers["content-type"]
    assert without(direct.json(), DURATIONS) == without(through_fastapi.json(), DURATIONS)


async def test_an_overridden_settings_dependency_is_honoured(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = {"engines": ["numeric"]}
    assert (await client.post("/gradients", json=body)).status_code == 200
    app.dependency_overrides[get_settings] = lambda: Settings(max_numeric_cost=1)
    refused = await client.post("/gradients", json=body)
    assert refused.status_code == 422, refused.text
    assert "max_numeric_cost" in refused.text


@pytest.mark.parametrize("path", list(BODIES))
async def test_an_empty_body_is_a_missing_body_as_fastapi_has_it(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    headers = {"Content-Type": "application/json"}
    direct = await client.post(path, content=b"", headers=headers)
    app.dependency_overrides[get_settings] = lambda: settings
    through_fastapi = await client.post(path, content=b"", headers=headers)
    assert direct.status_code == through_fastapi.status_code == 422
    assert direct.json() == through_fastapi.json()
    [error] = direct.json()["detail"]
    assert error["type"] == "missing"
    assert error["loc"] == ["body"]
