"""The NumPy engine against values known independently of it: by hand, by finite differences
of a torch.nn.Sequential, and by the structure of the sse loss."""

import math

import numpy as np
import pytest

from service.engines import Problem, autograd, manual
from service.engines.losses import LOSSES, SSE
from tests.nets import (
    ACTIVATIONS,
    finite_difference_gradients,
    layer_specs,
    mlp,
    random_problem,
)

# manual vs autograd: |a − b| ≤ atol·max(1, max|b|) + rtol·|b| for every entry; atol scales
# with the tensor because an entry that cancels to near zero keeps the rounding of its terms.
FLOAT64_AGREEMENT = (1e-12, 1e-12)
FLOAT32_AGREEMENT = (1e-5, 1e-4)  # float32's ε is 1.2e-7
FD_RTOL = 1e-6  # central differences (step 1e-6) in float64 against exact gradients
FD_ATOL = 1e-7


def test_one_linear_layer_by_hand() -> None:
    # L = (w1·x1 + w2·x2 + b − y)², so dL/dw_i = 2(p − y)·x_i and dL/db = 2(p − y).
    w1, w2, b, x1, x2, y = 0.5, -1.25, 0.125, 2.0, 3.0, 1.0
    p = w1 * x1 + w2 * x2 + b  # −2.625
    problem = Problem(
        layer_specs([{"type": "linear", "in_features": 2, "out_features": 1}]),
        {"0.weight": np.array([[w1, w2]]), "0.bias": np.array([b])},
        np.array([[x1, x2]]),
        np.array([[y]]),
        SSE(),
    )
    result = manual.run(problem)
    assert result.loss == (p - y) ** 2 == 13.140625
    assert result.prediction.tolist() == [[p]]
    assert result.gradients["0.weight"].tolist() == [[2 * (p - y) * x1, 2 * (p - y) * x2]]
    assert result.gradients["0.bias"].tolist() == [2 * (p - y)] == [-7.25]


def test_linear_then_sigmoid_by_hand_with_mse_over_a_batch() -> None:
    # p_k = σ(w·x_k), L = ½ Σ_k (p_k − y_k)², dL/dw = Σ_k (p_k − y_k)·p_k(1 − p_k)·x_k
    w, xs, ys = 0.75, [1.0, -2.0], [0.25, 0.5]
    ps = [1 / (1 + math.exp(-w * x)) for x in xs]
    expected_loss = sum((p - y) ** 2 for p, y in zip(ps, ys, strict=True)) / 2
    expected_grad = sum((p - y) * p * (1 - p) * x for p, x, y in zip(ps, xs, ys, strict=True))
    problem = Problem(
        layer_specs(
            [
                {"type": "linear", "in_features": 1, "out_features": 1, "bias": False},
                {"type": "sigmoid"},
            ]
        ),
        {"0.weight": np.array([[w]])},
        np.array([[x] for x in xs]),
        np.array([[y] for y in ys]),
        LOSSES["mse"](),
    )
    result = manual.run(problem)
    assert result.loss == pytest.approx(expected_loss, rel=1e-15)
    assert result.gradients["0.weight"][0, 0] == pytest.approx(expected_grad, rel=1e-14)
    assert list(result.gradients) == ["0.weight"]


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: str(a))
@pytest.mark.parametrize("loss", ["sse", "mse"])
@pytest.mark.parametrize("batch", [1, 4])
def test_central_differences_agree_with_both_engines(
    activation: dict, loss: str, batch: int
) -> None:
    layers = mlp(activation)
    problem = random_problem(layers, batch, loss, seed=batch)
    numeric = finite_difference_gradients(layers, problem)
    for engine in (manual, autograd):
        gradients = engine.run(problem).gradients
        assert list(gradients) == list(numeric)
        for name, expected in numeric.items():
            np.testing.assert_allclose(gradients[name], expected, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: str(a))
@pytest.mark.parametrize("loss", ["sse", "mse"])
def test_float32_engines_near_float64_central_differences(activation: dict, loss: str) -> None:
    layers = mlp(activation)
    problem32 = random_problem(layers, 3, loss, dtype=np.float32, seed=7)
    numeric = finite_difference_gradients(layers, problem32)
    for engine in (manual, autograd):
        result = engine.run(problem32)
        assert result.prediction.dtype == np.float32
        for name, expected in numeric.items():
            assert result.gradients[name].dtype == np.float32
            np.testing.assert_allclose(result.gradients[name], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: str(a))
@pytest.mark.parametrize("loss", ["sse", "mse"])
@pytest.mark.parametrize("batch", [1, 16])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_engines_agree(activation: dict, loss: str, batch: int, dtype: type) -> None:
    problem = random_problem(mlp(activation, (6, 16, 16, 3)), batch, loss, dtype, seed=3)
    a, m = autograd.run(problem), manual.run(problem)
    atol, rtol = FLOAT64_AGREEMENT if dtype is np.float64 else FLOAT32_AGREEMENT
    pairs = [(m.loss, a.loss), (m.prediction, a.prediction)]
    pairs += [(m.gradients[k], a.gradients[k]) for k in a.gradients]
    for got, expected in pairs:
        scale = max(1.0, float(np.max(np.abs(expected))))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol * scale)


def test_sse_gradient_of_a_batch_is_the_sum_of_its_samples() -> None:
    layers = mlp({"type": "tanh"})
    problem = random_problem(layers, 5, "sse", seed=11)
    whole = manual.run(problem).gradients
    parts = [
        manual.run(
            Problem(
                problem.layers, problem.weights, problem.x[i : i + 1], problem.y[i : i + 1], SSE()
            )
        ).gradients
        for i in range(5)
    ]
    for name, gradient in whole.items():
        np.testing.assert_allclose(gradient, sum(p[name] for p in parts), rtol=1e-13, atol=1e-15)


def test_a_network_without_linear_layers_has_no_gradients() -> None:
    problem = Problem(
        layer_specs([{"type": "tanh"}]), {}, np.array([[0.5, -0.5]]), np.array([[0.0, 0.0]]), SSE()
    )
    result = manual.run(problem)
    assert result.gradients == {}
    assert result.loss == pytest.approx(2 * math.tanh(0.5) ** 2, rel=1e-15)
    # torch and NumPy may each round tanh differently in the last place (vector kernels differ by
    # CPU: AVX-512 against AVX2), so the engines agree to a few ulps, not bit for bit
    assert autograd.run(problem).loss == pytest.approx(result.loss, rel=1e-15)


def test_inputs_are_not_modified() -> None:
    problem = random_problem(mlp({"type": "relu"}), 4)
    copies = {k: v.copy() for k, v in problem.weights.items()}, problem.x.copy(), problem.y.copy()
    manual.run(problem)
    autograd.run(problem)
    for name, w in copies[0].items():
        assert np.array_equal(problem.weights[name], w)
    assert np.array_equal(problem.x, copies[1])
    assert np.array_equal(problem.y, copies[2])
