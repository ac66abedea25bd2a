"""GET /datasets/seed: the seed's data set, from a local NumPy generator, reproducible."""

import httpx
import numpy as np
import pytest

from service.core.config import Settings
from service.schemas.responses import SeedDataset


async def test_default_is_100_points_in_the_unit_square_labelled_half_sum_of_squares(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/datasets/seed")
    assert response.status_code == 200
    body = SeedDataset.model_validate_json(response.content)
    assert (body.n, body.seed, body.low, body.high) == (100, 0, 0.0, 1.0)
    x, y = np.array(body.x), np.array(body.y)
    assert x.shape == (100, 2)
    assert y.shape == (100, 1)
    np.testing.assert_array_equal(x, np.random.default_rng(0).uniform(0.0, 1.0, (100, 2)))
    np.testing.assert_array_equal(y, 0.5 * (x * x).sum(axis=1, keepdims=True))


async def test_same_parameters_same_points_other_seed_other_points(
    client: httpx.AsyncClient,
) -> None:
    params = {"n": 20, "seed": 7, "low": -2.0, "high": 3.0}
    first = (await client.get("/datasets/seed", params=params)).json()
    again = (await client.get("/datasets/seed", params=params)).json()
    other = (await client.get("/datasets/seed", params={**params, "seed": 8})).json()
    assert first == again
    assert first["x"] != other["x"]
    x = np.array(first["x"])
    assert x.min() >= -2.0
    assert x.max() < 3.0


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"n": 0}, ["query", "n"]),
        ({"n": "many"}, ["query", "n"]),
        ({"seed": -1}, ["query", "seed"]),
        ({"low": "nan"}, ["query", "low"]),
        ({"high": "inf"}, ["query", "high"]),
        ({"high": 1e200}, ["query", "high"]),
        ({"low": 1.0, "high": 1.0}, ["query", "high"]),
    ],
)
async def test_bad_parameters_are_a_422_naming_them(
    client: httpx.AsyncClient, params: dict, loc: list
) -> None:
    response = await client.get("/datasets/seed", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


async def test_n_is_limited_by_max_batch(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.get("/datasets/seed", params={"n": settings.max_batch + 1})
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["type"] == "limit_exceeded"
    assert item["loc"] == ["query", "n"]
    assert item["ctx"] == {
        "limit": "max_batch",
        "value": settings.max_batch,
        "asked": settings.max_batch + 1,
    }
