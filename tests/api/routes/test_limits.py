"""Size limits: each a 4xx naming the limit, its value and what was asked."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import torch

from service.api.app import create_app
from service.core.config import Settings
from tests.nets import mlp, torch_sequential


@pytest.fixture
def settings() -> Settings:
    return Settings(max_layers=8, max_width=64, max_parameters=2000, max_batch=16,
                    max_activations=1000, max_body_bytes=100_000, body_timeout=0.5)  # fmt: skip


LIMITS = [
    ("max_layers", {"network": {"layers": [{"type": "relu"}] * 9}, "x": [1.0], "y": [1.0]},
     ["body", "network", "layers"]),
    ("max_width", {"network": {"layers": [{"type": "linear", "in_features": 2,
     "out_features": 65}]}, "y": [0] * 65}, ["body", "network", "layers", 0, "out_features"]),
    ("max_parameters", {"network": {"layers": mlp({"type": "relu"}, (2, 50, 50, 1))}},
     ["body", "network"]),
    ("max_batch", {"x": [[1.0, 2.0]] * 17}, ["body", "x"]),
    ("max_activations", {"network": {"layers": mlp({"type": "relu"}, (2, 60, 1))},
     "x": [[1.0, 2.0]] * 16}, ["body", "x"]),
]  # fmt: skip


@pytest.mark.parametrize(("limit", "body", "loc"), LIMITS, ids=[x[0] for x in LIMITS])
async def test_limits_name_the_limit_its_value_and_the_ask(
    client: httpx.AsyncClient, settings: Settings, limit: str, body: Any, loc: list
) -> None:
    response = await client.post("/gradients", json=body)
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["type"] == "limit_exceeded"
    assert item["loc"] == loc
    assert item["ctx"]["limit"] == limit
    assert item["ctx"]["value"] == getattr(settings, limit)
    assert item["ctx"]["asked"] > item["ctx"]["value"]
    assert f"GRADIENT_SERVICE_{limit.upper()}" in item["msg"]


async def test_body_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    body = b'{"x": [' + b"1.0, " * 30_000 + b"1.0]}"
    response = await client.post(
        "/gradients", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    (item,) = response.json()["detail"]
    assert item["type"] == "body_too_large"
    assert "100,000 bytes" in item["msg"]


async def test_chunked_body_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # no Content-Length: the limit applies while reading
        yield b'{"x": ['
        for _ in range(1000):
            yield b"1.0, " * 100
        yield b"1.0]}"

    response = await client.post(
        "/gradients", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_a_body_that_stops_arriving_is_a_408(client: httpx.AsyncClient) -> None:
    async def stalls() -> AsyncIterator[
        bytes
    ]:  # 10 bytes, then nothing for longer than the timeout
        yield b'{"x": [0.1'
        await asyncio.sleep(5)
        yield b"]}"

    start = time.monotonic()
    response = await client.post(
        "/gradients", content=stalls(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 408
    assert response.headers["connection"] == "close"
    (item,) = response.json()["detail"]
    assert item["type"] == "body_timeout"
    assert "GRADIENT_SERVICE_BODY_TIMEOUT" in item["msg"]
    assert 0.4 < time.monotonic() - start < 3


async def test_a_slow_body_within_the_timeout_is_read(client: httpx.AsyncClient) -> None:
    async def trickles() -> AsyncIterator[bytes]:
        for part in (b'{"x": ', b"[0.1, ", b"0.2]}"):
            await asyncio.sleep(0.1)
            yield part

    response = await client.post(
        "/gradients", content=trickles(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


async def test_the_defaults_let_784_256_256_10_with_a_batch_of_512_through() -> None:
    """With its float64 weights in the body, as a torch user sends them: 13.7 of the 16 MiB."""
    settings = Settings()
    layers = mlp({"type": "relu"}, (784, 256, 256, 10))
    torch.manual_seed(0)
    net = torch_sequential(layers).double()
    body = orjson.dumps(
        {
            "network": {"layers": layers},
            "weights": {k: v.tolist() for k, v in net.state_dict().items()},
            "x": torch.randn(512, 784, dtype=torch.float64).tolist(),
            "y": torch.randn(512, 10, dtype=torch.float64).tolist(),
            "engines": ["autograd"],
        }
    )
    assert 12 * 2**20 < len(body) < settings.max_body_bytes
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/gradients", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 200, response.text[:300]
