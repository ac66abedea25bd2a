"""`"return_weights": true`: the weights a request was computed with, for every endpoint that
takes `init_seed`, checked against torch's own initialisation built independently."""

import json
from typing import Any

import httpx
import numpy as np
import pytest
import torch

from service.core import seed
from tests.nets import mlp, torch_sequential


def torch_initial(layers: list[dict[str, Any]], init_seed: int) -> dict[str, np.ndarray]:
    torch.manual_seed(init_seed)
    return {k: v.double().numpy() for k, v in torch_sequential(layers).state_dict().items()}


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def assert_weights(got: dict[str, Any], expected: dict[str, np.ndarray], rtol: float = 0) -> None:
    assert list(got) == list(expected)  # state_dict's order
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=rtol, atol=0)


@pytest.mark.parametrize("init_seed", [0, 7])
async def test_gradients_returns_the_seeded_weights(
    client: httpx.AsyncClient, init_seed: int
) -> None:
    answer = await post(client, "/gradients", {"init_seed": init_seed, "return_weights": True})
    assert_weights(answer["weights"], torch_initial(seed.LAYERS, init_seed))
    assert (await post(client, "/gradients", {"init_seed": init_seed}))["weights"] is None


async def test_sent_weights_come_back_in_the_dtype(client: httpx.AsyncClient) -> None:
    layers = mlp({"type": "tanh"}, (2, 3, 1))
    sent = {"0.weight": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], "0.bias": [0.1, 0.2, 0.3],
            "2.weight": [[1.0, 2.0, 3.0]], "2.bias": [0.7]}  # fmt: skip
    body = {"network": {"layers": layers}, "weights": sent, "dtype": "float32",
            "return_weights": True}  # fmt: skip
    answer = await post(client, "/gradients", body)
    got = answer["weights"]
    assert list(got) == list(sent)
    for name, value in sent.items():  # float32 numbers, written as float32's shortest digits
        assert np.array_equal(np.array(got[name], np.float32), np.array(value, np.float32))
    assert '"0.weight":[[0.1,0.2],' in (await client.post("/gradients", json=body)).text


async def test_check_returns_the_weights_it_graded_with(client: httpx.AsyncClient) -> None:
    body = {"init_seed": 3, "return_weights": True, "candidate": {"gradients": {}}}
    answer = await post(client, "/gradients/check", body)
    assert_weights(answer["weights"], torch_initial(seed.LAYERS, 3))


async def test_train_returns_the_starting_weights(client: httpx.AsyncClient) -> None:
    body = {"epochs": 2, "init_seed": 5, "return_weights": True}
    answer = await post(client, "/train", body)
    start = torch_initial(seed.LAYERS, 5)
    assert_weights(answer["weights"], start)
    moved = np.array(answer["final_weights"]["autograd"]["0.weight"])
    assert not np.allclose(moved, start["0.weight"])  # the final weights are the trained ones
    lines = (
        await client.post("/train", json=body, headers={"accept": "application/x-ndjson"})
    ).text.splitlines()
    summary = json.loads(lines[-1])
    assert summary["type"] == "summary"
    assert_weights(summary["weights"], start)


async def test_return_weights_must_be_a_boolean(client: httpx.AsyncClient) -> None:
    response = await client.post("/gradients", json={"return_weights": "yes"})
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "return_weights"]
