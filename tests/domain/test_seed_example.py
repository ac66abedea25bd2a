"""The assignment's worked example, computed by torch code written the way the assignment does it,
and by the service."""

import httpx
import numpy as np
import torch

from service.api import readiness
from service.schemas.responses import GradientsResponse


def assignment_gradients() -> tuple[float, list[float], dict[str, np.ndarray]]:
    torch.manual_seed(0)
    net1 = torch.nn.Sequential(
        torch.nn.Linear(2, 10),
        torch.nn.Sigmoid(),
        torch.nn.Linear(10, 10),
        torch.nn.Sigmoid(),
        torch.nn.Linear(10, 1),
    ).double()

    def L(predict: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # noqa: N802 - the assignment's name
        return torch.sum((predict - y) ** 2)

    x0 = torch.tensor([0.9861, 0.6680], dtype=torch.float64)
    y0 = torch.tensor(0.7093, dtype=torch.float64)
    optimizer = torch.optim.SGD(net1.parameters(), lr=0.05)
    optimizer.zero_grad()
    prediction = net1(x0)
    loss = L(prediction, y0)
    loss.backward()
    grads = {name: p.grad.numpy().copy() for name, p in net1.named_parameters()}
    return loss.item(), prediction.tolist(), grads


async def test_empty_body_is_the_assignments_example(client: httpx.AsyncClient) -> None:
    loss, prediction, grads = assignment_gradients()
    response = await client.post("/gradients", json={})
    assert response.status_code == 200
    body = GradientsResponse.model_validate_json(response.content)
    assert body.loss == loss
    assert body.prediction == prediction
    assert set(body.gradients) == set(grads)
    for name, expected in grads.items():
        np.testing.assert_array_equal(np.array(body.gradients[name]), expected)
    manual = body.engines["manual"]
    assert abs(manual.loss - loss) <= 1e-15
    assert body.deviations["manual"].max_abs <= 1e-15
    assert body.agree


async def test_example_endpoint_gives_the_same_answer(client: httpx.AsyncClient) -> None:
    example = (await client.get("/examples/seed")).json()
    assert example == {
        "network": {
            "layers": [
                {"type": "linear", "in_features": 2, "out_features": 10},
                {"type": "sigmoid"},
                {"type": "linear", "in_features": 10, "out_features": 10},
                {"type": "sigmoid"},
                {"type": "linear", "in_features": 10, "out_features": 1},
            ]
        },
        "init_seed": 0,
        "x": [0.9861, 0.668],
        "y": 0.7093,
        "loss": "sse",
    }
    explicit = (await client.post("/gradients", json=example)).json()
    default = (await client.post("/gradients", json={})).json()
    for body in (explicit, default):
        for engine in body["engines"].values():
            engine.pop("elapsed_ms")
    assert explicit == default


def test_the_readiness_self_check_expects_torchs_loss() -> None:
    assert assignment_gradients()[0] == readiness.SEED_LOSS
