"""One SGD step equals torch.optim.SGD's; the trace recomposes into the gradients."""

import numpy as np
import pytest
import torch

from service.engines import Problem, autograd, manual
from service.engines.layers.linear import Linear
from service.engines.losses import SSE
from tests.nets import ACTIVATIONS, mlp, random_problem, torch_sequential


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sgd_step_equals_torch_optim_sgd(dtype: type) -> None:
    layers = mlp({"type": "sigmoid"}, (2, 10, 10, 1))
    problem = random_problem(layers, 1, dtype=dtype)
    problem = Problem(problem.layers, problem.weights, problem.x, problem.y, SSE(), 0.05)

    net = torch_sequential(layers).to(torch.float64 if dtype is np.float64 else torch.float32)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in problem.weights.items()})
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    optimizer.zero_grad()
    torch.sum((net(torch.from_numpy(problem.x)) - torch.from_numpy(problem.y)) ** 2).backward()
    optimizer.step()

    ours = autograd.run(problem).updated_weights
    theirs = manual.run(problem).updated_weights
    assert ours is not None
    assert theirs is not None
    for name, p in net.state_dict().items():
        assert np.array_equal(ours[name], p.numpy()), name  # exactly
        np.testing.assert_allclose(
            theirs[name], p.numpy(), rtol=1e-6 if dtype is np.float32 else 1e-15
        )


def test_no_learning_rate_no_update() -> None:
    problem = random_problem(mlp({"type": "relu"}), 2)
    assert autograd.run(problem).updated_weights is None
    assert manual.run(problem).updated_weights is None


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: str(a))
def test_trace_recomposes_into_the_gradients(activation: dict) -> None:
    problem = random_problem(mlp(activation), 3, seed=4)
    result = manual.run(problem)
    assert result.trace is not None
    assert [step.index for step in result.trace] == list(range(len(problem.layers)))
    np.testing.assert_array_equal(result.trace[0].input, problem.x)
    np.testing.assert_array_equal(result.trace[-1].output, result.prediction)
    np.testing.assert_array_equal(result.trace[0].grad_input, result.input_gradient)
    net = torch_sequential(mlp(activation)).double()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in problem.weights.items()})
    for step, module in zip(result.trace, net, strict=True):  # each step is its torch layer's
        z = torch.from_numpy(step.input.copy()).requires_grad_()
        out = module(z)
        np.testing.assert_allclose(step.output, out.detach().numpy(), rtol=1e-13, atol=1e-15)
        (grad_input,) = torch.autograd.grad(out, z, torch.from_numpy(step.grad_output))
        np.testing.assert_allclose(step.grad_input, grad_input.numpy(), rtol=1e-12, atol=1e-15)
    for step in result.trace:
        if isinstance(step.layer, Linear):
            w = problem.weights[f"{step.index}.weight"]
            # dL/dW = Σ_batch dL/dz ⊗ input;  dL/d(input) = dL/dz · W
            dw = sum(np.outer(g, a) for g, a in zip(step.grad_output, step.input, strict=True))
            np.testing.assert_allclose(result.gradients[f"{step.index}.weight"], dw, rtol=1e-13)
            np.testing.assert_allclose(step.grad_input, step.grad_output @ w, rtol=1e-13)
            np.testing.assert_allclose(
                step.output, step.input @ w.T + problem.weights[f"{step.index}.bias"], rtol=1e-13
            )


def test_input_gradient_matches_torch() -> None:
    layers = mlp({"type": "gelu"})
    problem = random_problem(layers, 4, seed=9)
    net = torch_sequential(layers).double()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in problem.weights.items()})
    x = torch.from_numpy(problem.x.copy()).requires_grad_()
    torch.sum((net(x) - torch.from_numpy(problem.y)) ** 2).backward()
    for engine in (manual, autograd):
        np.testing.assert_allclose(engine.run(problem).input_gradient, x.grad.numpy(), rtol=1e-12)
