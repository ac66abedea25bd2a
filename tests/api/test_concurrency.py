"""Many clients at once get exactly the answers one client gets one at a time.

200 mixed requests (float32 and float64, networks from 3-8-2 to 20-64-64-4, batches from
one point to 64, both endpoints, a few refused ones) go to the live server with two workers,
first one by one, then from 16 concurrent clients; every answer must be the same, timings aside.
"""

import asyncio
import random
from typing import Any

import httpx
import orjson
import pytest

from tests.answers import without
from tests.api.test_state import TIMINGS
from tests.nets import mlp

pytestmark = pytest.mark.live

ACTIVATIONS = [
    {"type": "sigmoid"},
    {"type": "tanh"},
    {"type": "relu"},
    {"type": "gelu"},
    {"type": "softplus", "beta": 2.0},
    {"type": "leaky_relu", "negative_slope": 0.1},
]
SIZES = [(2, 10, 10, 1), (3, 8, 2), (4, 16, 16, 3), (20, 64, 64, 4)]  # the last: thread pool


def mixed_requests(count: int, seed: int = 0) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    requests: list[tuple[str, dict[str, Any]]] = []
    for i in range(count):
        sizes = rng.choice(SIZES)
        batch = rng.choice([1, 2, 7, 32, 64])
        x = [[round(rng.uniform(-2, 2), 6) for _ in range(sizes[0])] for _ in range(batch)]
        y = [[round(rng.uniform(-1, 1), 6) for _ in range(sizes[-1])] for _ in range(batch)]
        body: dict[str, Any] = {
            "network": {"layers": mlp(rng.choice(ACTIVATIONS), sizes)},
            "init_seed": rng.randrange(1000),
            "x": x,
            "y": y,
            "loss": rng.choice(["sse", "mse"]),
            "dtype": rng.choice(["float32", "float64"]),
        }
        if i % 10 == 9:
            body["x"] = x[0] + [1.0]  # one feature too many: a 422, deterministic all the same
        if i % 7 == 3:
            del body["loss"]
            requests.append(("/gradients/check", {**body, "candidate": {"gradients": {}}}))
            continue
        if i % 5 == 1:
            body["learning_rate"] = 0.01
        requests.append(("/gradients", body))
    return requests


async def answers(
    url: str, requests: list[tuple[str, dict[str, Any]]], clients: int
) -> list[tuple[int, Any]]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    gate = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def one(path: str, body: dict[str, Any]) -> tuple[int, Any]:
            async with gate:
                response = await client.post(path, json=body)
            return response.status_code, without(orjson.loads(response.content), TIMINGS)

        return await asyncio.gather(*(one(path, body) for path, body in requests))


async def test_concurrent_answers_equal_the_serial_ones(live_url: str) -> None:
    requests = mixed_requests(200)
    serial = await answers(live_url, requests, 1)  # one at a time, in order
    concurrent = await answers(live_url, requests, 16)
    statuses = [status for status, _ in serial]
    assert set(statuses) == {200, 422}
    assert statuses.count(200) >= 150
    for i, (one_by_one, at_once) in enumerate(zip(serial, concurrent, strict=True)):
        assert at_once == one_by_one, f"request {i} ({requests[i][0]}) differs under concurrency"
