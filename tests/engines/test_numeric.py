"""The central-difference engine against autograd, against a case where the difference quotient is
exact, and against itself: chunked or not, with a loss it has no fast path for."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.core import seed
from service.domain.compare import Tolerance
from service.engines import Problem, autograd, manual, numeric
from service.engines.losses import LOSSES, SSE, Loss
from tests.nets import ACTIVATIONS, layer_specs, mlp, random_problem

NUMERIC = Tolerance(numeric.ATOL, numeric.RTOL)  # for |L| ≤ numeric.LOSS_SCALE
FLOAT32_AGREEMENT = (1e-5, 1e-4)  # atol (times max(1, max|reference|)), rtol: float32 engines


def assert_within(got: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> None:
    np.testing.assert_allclose(got, expected, rtol=tolerance.rtol, atol=tolerance.atol)


def assert_gradients_within(got: Any, expected: Any, tolerance: Tolerance) -> None:
    assert list(got.gradients) == list(expected.gradients)
    for name, gradient in expected.gradients.items():
        assert got.gradients[name].shape == gradient.shape
        assert_within(got.gradients[name], gradient, tolerance)
    assert_within(got.input_gradient, expected.input_gradient, tolerance)


def as_float64(problem: Problem) -> Problem:
    weights = {k: w.astype(np.float64) for k, w in problem.weights.items()}
    x, y = problem.x.astype(np.float64), problem.y.astype(np.float64)
    return Problem(problem.layers, weights, x, y, problem.loss)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: str(a))
@pytest.mark.parametrize("loss", ["sse", "mse"])
@pytest.mark.parametrize("batch", [1, 5])
def test_agrees_with_autograd_in_float64(activation: dict, loss: str, batch: int) -> None:
    problem = random_problem(mlp(activation), batch, loss, seed=batch)
    result, reference = numeric.run(problem), autograd.run(problem)
    assert_gradients_within(result, reference, Tolerance(*numeric.tolerance(reference.loss)))
    # loss and prediction are the manual engine's forward, untouched
    exact = manual.run(problem)
    assert result.loss == exact.loss
    np.testing.assert_array_equal(result.prediction, exact.prediction)


@pytest.mark.parametrize("loss", ["cross_entropy", "bce_with_logits"])
@pytest.mark.parametrize("batch", [1, 5])
def test_classification_losses_agree_with_autograd(loss: str, batch: int) -> None:
    base = random_problem(mlp({"type": "tanh"}), batch, seed=batch)
    y = targets_for(loss, np.random.default_rng(batch), batch, base.y.shape[1])
    problem = Problem(base.layers, base.weights, base.x, y, LOSSES[loss]())
    result, reference = numeric.run(problem), autograd.run(problem)
    assert_gradients_within(result, reference, Tolerance(*numeric.tolerance(reference.loss)))


def test_learning_rate_steps_with_the_numeric_gradients() -> None:
    base = random_problem(mlp({"type": "relu"}), 2)
    problem = Problem(base.layers, base.weights, base.x, base.y, SSE(), 0.05)
    result = numeric.run(problem)
    assert result.updated_weights is not None
    for name, w in problem.weights.items():
        np.testing.assert_array_equal(
            result.updated_weights[name], w - 0.05 * result.gradients[name]
        )


def test_the_seed_problem() -> None:
    layers = layer_specs(seed.LAYERS)
    weights = {k: w.astype(np.float64) for k, w in autograd.initial_weights(layers, 0).items()}
    problem = Problem(layers, weights, np.array([seed.X]), np.array([[seed.Y]]), SSE())
    result, reference = numeric.run(problem), autograd.run(problem)
    assert sum(g.size for g in result.gradients.values()) == 151
    assert_gradients_within(result, reference, NUMERIC)


def test_tolerance_grows_with_the_loss_past_its_scale() -> None:
    assert numeric.tolerance(0.0) == numeric.tolerance(-10.0) == (1e-7, 1e-6)
    atol, rtol = numeric.tolerance(1000.0)
    assert atol == pytest.approx(100 * 1e-7)
    assert rtol == 1e-6


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: str(a))
@pytest.mark.parametrize("loss", ["sse", "mse"])
def test_float32_problem_is_differenced_in_float64(activation: dict, loss: str) -> None:
    problem = random_problem(mlp(activation), 3, loss, dtype=np.float32, seed=7)
    result = numeric.run(problem)
    assert isinstance(result.loss, np.float32)
    assert result.prediction.dtype == result.input_gradient.dtype == np.float32
    assert all(g.dtype == np.float32 for g in result.gradients.values())
    # as close to the exact gradients of the same float32 numbers as float64 differences get ...
    upcast = autograd.run(as_float64(problem))
    assert_gradients_within(result, upcast, Tolerance(*numeric.tolerance(upcast.loss)))
    # ... so within float32 agreement of autograd's own float32 run
    reference = autograd.run(problem)
    atol, rtol = FLOAT32_AGREEMENT
    pairs = [(result.loss, reference.loss), (result.prediction, reference.prediction)]
    pairs += [(result.gradients[k], reference.gradients[k]) for k in reference.gradients]
    pairs += [(result.input_gradient, reference.input_gradient)]
    for got, expected in pairs:
        scale = max(1.0, float(np.max(np.abs(expected))))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol * scale)


def test_one_linear_layer_by_hand() -> None:
    # L = (w1·x1 + w2·x2 + b − y)² is quadratic in every parameter and input, so its central
    # difference is exact but for rounding: dL/dw_i = 2(p − y)·x_i, dL/db = 2(p − y),
    # dL/dx_i = 2(p − y)·w_i.
    w1, w2, b, x1, x2, y = 0.5, -1.25, 0.125, 2.0, 3.0, 1.0
    p = w1 * x1 + w2 * x2 + b  # −2.625
    problem = Problem(
        layer_specs([{"type": "linear", "in_features": 2, "out_features": 1}]),
        {"0.weight": np.array([[w1, w2]]), "0.bias": np.array([b])},
        np.array([[x1, x2]]),
        np.array([[y]]),
        SSE(),
    )
    result = numeric.run(problem)
    assert result.loss == (p - y) ** 2 == 13.140625
    assert result.prediction.tolist() == [[p]]
    rounding = 1e-9  # ε·|L|/h ≈ 5e-10; truncation is zero
    np.testing.assert_allclose(
        result.gradients["0.weight"], [[2 * (p - y) * x1, 2 * (p - y) * x2]], rtol=0, atol=rounding
    )
    np.testing.assert_allclose(result.gradients["0.bias"], [-7.25], rtol=0, atol=rounding)
    np.testing.assert_allclose(
        result.input_gradient, [[2 * (p - y) * w1, 2 * (p - y) * w2]], rtol=0, atol=rounding
    )


@pytest.mark.parametrize("batch", [1, 4])
def test_input_gradient_of_every_sample_matches_autograd(batch: int) -> None:
    problem = random_problem(mlp({"type": "tanh"}, (4, 6, 3)), batch, "mse", seed=5)
    result, reference = numeric.run(problem), autograd.run(problem)
    assert result.input_gradient.shape == problem.x.shape
    assert_within(result.input_gradient, reference.input_gradient, NUMERIC)


UNUSUAL_LAYERS = [
    {"type": "tanh"},  # an activation before the first linear layer
    {"type": "linear", "in_features": 3, "out_features": 4, "bias": False},
    {"type": "linear", "in_features": 4, "out_features": 5},  # linear after linear
    {"type": "silu"},
    {"type": "elu", "alpha": 0.5},  # two activations in a row
    {"type": "linear", "in_features": 5, "out_features": 2, "bias": False},
    {"type": "sigmoid"},  # an activation after the last linear layer
]


@pytest.mark.parametrize("batch", [1, 3])
def test_any_order_of_layers(batch: int) -> None:
    problem = random_problem(UNUSUAL_LAYERS, batch, "sse", seed=2)
    result, reference = numeric.run(problem), autograd.run(problem)
    assert list(result.gradients) == ["1.weight", "2.weight", "2.bias", "5.weight"]
    assert_gradients_within(result, reference, NUMERIC)


def test_a_network_without_linear_layers_has_only_an_input_gradient() -> None:
    problem = Problem(
        layer_specs([{"type": "tanh"}]), {}, np.array([[0.5, -0.5]]), np.array([[0.0, 1.0]]), SSE()
    )
    result, reference = numeric.run(problem), autograd.run(problem)
    assert result.gradients == {}
    assert_within(result.input_gradient, reference.input_gradient, NUMERIC)


@pytest.mark.parametrize(
    ("layers", "batch"),
    [(mlp({"type": "gelu"}, (3, 7, 6, 2)), 4), (UNUSUAL_LAYERS, 3), (UNUSUAL_LAYERS, 1)],
)
def test_chunking_does_not_change_the_answer(layers: list, batch: int) -> None:
    problem = random_problem(layers, batch, "sse", seed=4)
    whole = numeric.run(problem)
    for chunk_floats in (1, 50, 500):  # 1: one entry (+h and −h) per chunk
        chunked = numeric.run(problem, chunk_floats=chunk_floats)
        # the same copies in other groupings: only BLAS's rounding may differ
        same = Tolerance(atol=1e-9 * max(1.0, float(whole.loss)), rtol=1e-9)
        assert_gradients_within(chunked, whole, same)
        assert chunked.loss == whole.loss


def targets_for(loss: str, rng: np.random.Generator, batch: int, out: int) -> np.ndarray:
    targets = LOSSES[loss].targets
    if targets == "classes":
        return rng.integers(0, out, size=batch).astype(np.float64)  # class indices
    if targets == "probabilities":
        return rng.uniform(0, 1, size=(batch, out))
    return rng.normal(size=(batch, out))


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_per_copy_loss_is_its_loss_copy_by_copy(name: str) -> None:
    rng = np.random.default_rng(0)
    predictions = rng.normal(size=(6, 4, 3))
    loss = LOSSES[name]()
    y = targets_for(name, rng, 4, 3)
    expected = [loss.value_and_gradient(p, y)[0] for p in predictions]
    np.testing.assert_allclose(loss.per_copy(predictions, y), expected, rtol=1e-14, atol=0)


class Quartic(Loss):
    """Σ (p − y)⁴: a loss with no `per_copy` of its own."""

    name = "quartic"

    def value_and_gradient(self, p: np.ndarray, y: np.ndarray) -> tuple[np.floating, np.ndarray]:
        d = p - y
        return np.sum(d**4), 4 * d**3

    def torch_value(self, p: Any, y: Any) -> Any:
        return ((p - y) ** 4).sum()


def test_a_loss_without_a_per_copy_shortcut_works_here() -> None:
    layers = mlp({"type": "sigmoid"})
    base = random_problem(layers, 3, seed=9)
    problem = Problem(base.layers, base.weights, base.x, base.y, Quartic())
    result, exact = numeric.run(problem), manual.run(problem)
    assert result.loss == exact.loss
    assert_gradients_within(result, exact, Tolerance(*numeric.tolerance(exact.loss)))


def test_a_perturbation_across_relus_kink_sees_the_mean_slope() -> None:
    # L = (relu(w·x) + 1)² at x = 0: autograd takes relu'(0) = 0, so dL/dx = 0; the central
    # difference straddles the kink and sees (slope 2 + slope 0) / 2 = 1. See the module doc.
    problem = Problem(
        layer_specs(
            [
                {"type": "linear", "in_features": 1, "out_features": 1, "bias": False},
                {"type": "relu"},
            ]
        ),
        {"0.weight": np.array([[1.0]])},
        np.array([[0.0]]),
        np.array([[-1.0]]),
        SSE(),
    )
    assert autograd.run(problem).input_gradient[0, 0] == 0
    assert numeric.run(problem).input_gradient[0, 0] == pytest.approx(1.0, abs=1e-5)


def test_inputs_are_not_modified() -> None:
    for dtype in (np.float64, np.float32):
        problem = random_problem(UNUSUAL_LAYERS, 3, dtype=dtype)
        weights = {k: v.copy() for k, v in problem.weights.items()}
        x, y = problem.x.copy(), problem.y.copy()
        numeric.run(problem, chunk_floats=64)
        for name, w in weights.items():
            np.testing.assert_array_equal(problem.weights[name], w)
        np.testing.assert_array_equal(problem.x, x)
        np.testing.assert_array_equal(problem.y, y)


def problem_of(sizes: tuple[int, ...], batch: int) -> Problem:
    return random_problem(mlp({"type": "tanh"}, sizes), batch)


def test_cost_of_one_linear_layer_by_hand() -> None:
    # Linear(2, 1), one sample: forward 2; 3 parameters × 2 copies × (nothing downstream + a
    # 1-number loss) = 6; 2 inputs × 2 copies × (rank-1 update of 1 + loss 1) = 8.
    assert numeric.cost(problem_of((2, 1), 1)) == 16


def test_cost_grows_as_the_work_does() -> None:
    seed_like = numeric.cost(problem_of((2, 10, 10, 1), 1))
    assert seed_like < 10_000
    # parameters dominate, and each costs a pass over the batch: linear in the batch
    ratio = numeric.cost(problem_of((2, 10, 10, 1), 16)) / numeric.cost(
        problem_of((2, 10, 10, 1), 8)
    )
    assert 2 <= ratio < 2.2
    # 2-n-n-1: n² entries of the middle layer cost O(1) each (rank-1 update of one output), the
    # 2n of the first O(n) each: quadratic in n, where a full forward per entry would be cubic
    ratio = numeric.cost(problem_of((2, 200, 200, 1), 1)) / numeric.cost(
        problem_of((2, 100, 100, 1), 1)
    )
    assert 3.5 < ratio < 4.5
    # the input gradient: B·in entries, each a loss over the whole batch, so B² eventually
    one_input = numeric.cost(problem_of((1, 1), 4000)) / numeric.cost(problem_of((1, 1), 2000))
    assert 3.5 < one_input <= 4
    assert numeric.cost(problem_of((784, 256, 256, 10), 1)) > 1e9


def test_never_imports_torch() -> None:
    code = "import service.engines.numeric, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
