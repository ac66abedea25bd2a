"""engines/kinks.py by hand: which entries depend on a kink the input sits on, the range of their
valid one-sided values, and where a step crosses one."""

import numpy as np

from service.engines import Problem, kinks
from service.engines.layers import KINDS
from service.engines.losses import L1, SSE

LAYERS = (
    KINDS["linear"](in_features=2, out_features=2),
    KINDS["relu"](),
    KINDS["linear"](in_features=2, out_features=1),
)
# x = [1, −1]: z₀ = 0.5 − 0.5 = 0 sits on relu's kink, z₁ = 1 − 0.5 = 0.5 does not.
WEIGHTS = {
    "0.weight": np.array([[0.5, 0.5], [1.0, 0.5]]),
    "0.bias": np.zeros(2),
    "2.weight": np.array([[2.0, -1.0]]),
    "2.bias": np.array([0.0]),
}


def problem(x: list[float], loss: object = None) -> Problem:
    return Problem(LAYERS, WEIGHTS, np.array([x]), np.array([[0.0]]), loss or SSE())


def test_the_entries_of_a_unit_on_its_kink_range_over_both_sides() -> None:
    found = kinks.sitting(problem([1.0, -1.0]))
    assert found is not None
    assert set(found.why) == {1}
    bias = found.quantities["0.bias"]
    assert bias.layer == {(0,): 1}  # unit 1 is off its kink: compared as usual
    # p = 2·relu(0) − relu(0.5) = −0.5, dL/dp = 2p = −1; dL/dz₀ = −1·2·relu'(0) ∈ {0, −2}
    np.testing.assert_array_equal(bias.low, [-2.0, 1.0])
    np.testing.assert_array_equal(bias.high, [0.0, 1.0])
    weight = found.quantities["0.weight"]
    assert set(weight.layer) == {(0, 0), (0, 1)}
    np.testing.assert_array_equal(weight.low[0], [-2.0, 0.0])  # dL/dz₀·x = ±…
    np.testing.assert_array_equal(weight.high[0], [0.0, 2.0])
    assert found.quantities["2.weight"].layer == {}  # downstream of the relu: no kink in it


def test_off_every_kink_nothing_is_run_twice() -> None:
    assert kinks.sitting(problem([1.0, -0.9])) is None


def test_the_loss_has_its_own_kinks() -> None:
    """l1 at p = y = 0 (x = [0, 0]): dL/dp ∈ [−1, 1], so dL/d(2.bias) too."""
    found = kinks.sitting(Problem(LAYERS, WEIGHTS, np.array([[0.0, 0.0]]),
                                  np.array([[0.0]]), L1()))  # fmt: skip
    assert found is not None
    assert kinks.LOSS in found.why
    bias = found.quantities["2.bias"]
    assert bias.layer == {(0,): kinks.LOSS}
    np.testing.assert_array_equal([bias.low[0], bias.high[0]], [-1.0, 1.0])


def test_a_step_crosses_a_kink_only_within_its_reach() -> None:
    near = problem([1.0, -1.0 + 1e-7])  # z₀ = 5e-8: within a step of 6e-6·x of 0
    crossed = kinks.crossings(near, "0.bias", np.arange(2), 6e-6)
    assert crossed == {(0,): (1, "relu is not differentiable at z = 0; torch takes relu'(0) = 0")}
    far = problem([1.0, -0.9])  # z₀ = 0.05
    assert kinks.crossings(far, "0.bias", np.arange(2), 6e-6) == {}
    assert set(kinks.crossings(near, "input_gradient", np.arange(2), 6e-6)) == {(0, 0), (0, 1)}
