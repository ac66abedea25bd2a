"""cross_entropy and bce_with_logits in both engines, against torch.nn's own loss modules."""

import numpy as np
import pytest
import torch

from service.engines import Problem, autograd, manual
from service.engines.losses import LOSSES
from tests.nets import layer_specs, mlp, torch_sequential

LAYERS = mlp({"type": "tanh"}, (3, 6, 4))


def problem_and_torch(loss: str, batch: int, scale: float = 1.0) -> tuple[Problem, dict, float]:
    """The problem for our engines, and torch's loss and gradients from nn's loss modules."""
    torch.manual_seed(batch)
    net = torch_sequential(LAYERS).double()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(scale)
    x = torch.randn(batch, 3, dtype=torch.float64)
    if loss == "cross_entropy":
        y = torch.randint(0, 4, (batch,))
        value = torch.nn.CrossEntropyLoss()(net(x), y)
    else:
        y = torch.rand(batch, 4, dtype=torch.float64)
        value = torch.nn.BCEWithLogitsLoss()(net(x), y)
    value.backward()
    grads = {name: p.grad.numpy() for name, p in net.named_parameters()}
    weights = {k: v.numpy() for k, v in net.state_dict().items()}
    problem = Problem(layer_specs(LAYERS), weights, x.numpy(), y.double().numpy(), LOSSES[loss]())
    return problem, grads, value.item()


@pytest.mark.parametrize("loss", ["cross_entropy", "bce_with_logits"])
@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("engine", [manual, autograd], ids=["manual", "autograd"])
def test_equal_torch_loss_modules(loss: str, batch: int, engine: object) -> None:
    problem, grads, value = problem_and_torch(loss, batch)
    result = engine.run(problem)  # type: ignore[attr-defined]
    assert float(result.loss) == pytest.approx(value, rel=1e-14)
    for name, expected in grads.items():
        np.testing.assert_allclose(result.gradients[name], expected, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("loss", ["cross_entropy", "bce_with_logits"])
def test_stable_for_huge_logits(loss: str) -> None:
    # weights × 300 give logits in the thousands: naive exp would overflow to inf
    problem, grads, value = problem_and_torch(loss, 5, scale=300.0)
    result = manual.run(problem)
    assert np.isfinite(result.loss)
    assert float(result.loss) == pytest.approx(value, rel=1e-12)
    for name, expected in grads.items():
        np.testing.assert_allclose(result.gradients[name], expected, rtol=1e-9, atol=1e-12)


def test_cross_entropy_by_hand() -> None:
    # logits z = [0, ln 3] for class 1: softmax = [1/4, 3/4], L = −ln(3/4), dL/dz = [1/4, −1/4]
    layers = layer_specs([{"type": "identity"}])
    x, y = np.array([[0.0, np.log(3.0)]]), np.array([1.0])
    problem = Problem(layers, {}, x, y, LOSSES["cross_entropy"]())
    result = manual.run(problem)
    assert float(result.loss) == pytest.approx(-np.log(0.75), rel=1e-15)
    np.testing.assert_allclose(result.input_gradient, [[0.25, -0.25]], rtol=1e-15)
