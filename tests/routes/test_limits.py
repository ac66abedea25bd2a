"""Size limits: each a 4xx naming the limit, its value and what was asked."""

from typing import Any

import httpx
import pytest

from service.config import Settings
from tests.nets import mlp


@pytest.fixture
def settings() -> Settings:
    return Settings(max_layers=8, max_width=64, max_parameters=2000, max_batch=16,
                    max_activations=1000, max_body_bytes=100_000)  # fmt: skip


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
