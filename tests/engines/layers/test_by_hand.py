"""One tiny case per layer kind and loss, worked out by hand in the test: the numbers a learner
would write on paper. And every parameterised kind's init, bit for bit torch's."""

import math

import numpy as np
import pytest
import torch

from service.engines.layers import KINDS, Layer, sequence
from service.engines.layers.dropout import Dropout
from service.engines.layers.linear import Linear
from service.engines.layers.normalization import BatchNorm1d, LayerNorm
from service.engines.layers.residual import Residual
from service.engines.layers.softmax import LogSoftmax, Softmax
from service.engines.losses import L1, NLL, Huber, MultiMargin, SmoothL1
from tests.nets import layer_specs, torch_module

EXACT = {"rtol": 1e-15, "atol": 1e-15}


def test_batch_norm_by_hand() -> None:
    # two samples of one channel, x = 1 and 3: mean 2, var 1; with eps ¼, s = √1.25
    layer = BatchNorm1d(num_features=1, eps=0.25)
    s = math.sqrt(1.25)
    x = np.array([[1.0], [3.0]])
    out, cache = layer.forward(x, {"weight": np.array([2.0]), "bias": np.array([0.5])})
    np.testing.assert_allclose(out, [[2 * -1 / s + 0.5], [2 * 1 / s + 0.5]], **EXACT)
    grad_x, grads = layer.backward(np.array([[1.0], [0.0]]), cache)
    # dγ = Σ g·x̂ = −1/s; dβ = Σ g = 1; dx = (1 − 1/s²)·[1, −1]/s (the three terms)
    np.testing.assert_allclose(grads["weight"], [-1 / s], **EXACT)
    np.testing.assert_allclose(grads["bias"], [1.0], **EXACT)
    np.testing.assert_allclose(grad_x, np.array([[1.0], [-1.0]]) * (1 - 1 / s**2) / s, **EXACT)
    np.testing.assert_allclose(layer.trace(cache)["mean"], [2.0], **EXACT)
    np.testing.assert_allclose(layer.trace(cache)["var"], [1.0], **EXACT)


def test_layer_norm_by_hand() -> None:
    # one sample [1, 3]: the same numbers as batch norm's, normalised within the sample
    layer = LayerNorm(normalized_shape=(2,), eps=0.25)
    s = math.sqrt(1.25)
    params = {"weight": np.array([2.0, 1.0]), "bias": np.array([0.5, 0.0])}
    out, cache = layer.forward(np.array([[1.0, 3.0]]), params)
    np.testing.assert_allclose(out, [[-2 / s + 0.5, 1 / s]], **EXACT)
    _, grads = layer.backward(np.array([[1.0, 1.0]]), cache)
    np.testing.assert_allclose(grads["weight"], [-1 / s, 1 / s], **EXACT)
    np.testing.assert_allclose(grads["bias"], [1.0, 1.0], **EXACT)


def test_dropout_by_hand() -> None:
    layer = Dropout(p=0.5)
    out, cache = layer.forward(np.array([[2.0, 3.0, 4.0]]), {"mask": np.array([[1.0, 0.0, 1.0]])})
    np.testing.assert_array_equal(out, [[4.0, 0.0, 8.0]])  # kept entries × 1/(1 − p)
    grad_x, _ = layer.backward(np.ones((1, 3)), cache)
    np.testing.assert_array_equal(grad_x, [[2.0, 0.0, 2.0]])


def test_softmax_and_log_softmax_by_hand() -> None:
    x = np.array([[0.0, math.log(3.0)]])  # softmax [1/4, 3/4]
    out, cache = Softmax().forward(x, {})
    np.testing.assert_allclose(out, [[0.25, 0.75]], **EXACT)
    grad_x, _ = Softmax().backward(np.array([[1.0, 0.0]]), cache)
    np.testing.assert_allclose(grad_x, [[3 / 16, -3 / 16]], **EXACT)  # s ⊙ (g − Σ g s)
    out, cache = LogSoftmax().forward(x, {})
    np.testing.assert_allclose(out, [[math.log(0.25), math.log(0.75)]], **EXACT)
    grad_x, _ = LogSoftmax().backward(np.array([[1.0, 0.0]]), cache)
    np.testing.assert_allclose(grad_x, [[0.75, -0.75]], **EXACT)  # g − softmax · Σ g


def test_residual_by_hand() -> None:
    # x + (2x + 1) at x = 3 is 10; dL/dx = 1 + 2, dL/dW = x = 3, dL/db = 1
    block = Residual(layers=(Linear(in_features=1, out_features=1),))
    params = {"0.weight": np.array([[2.0]]), "0.bias": np.array([1.0])}
    out, cache = block.forward(np.array([[3.0]]), params)
    assert out.tolist() == [[10.0]]
    grad_x, grads = block.backward(np.array([[1.0]]), cache)
    assert grad_x.tolist() == [[3.0]]
    assert grads["0.weight"].tolist() == [[3.0]]
    assert grads["0.bias"].tolist() == [1.0]


@pytest.mark.parametrize(
    ("loss", "p", "y", "value", "gradient"),
    [
        (NLL(), [[-1.0, -2.0]], [1.0], 2.0, [[0.0, -1.0]]),
        (L1(), [[1.0, 3.0]], [[2.0, 2.0]], 1.0, [[-0.5, 0.5]]),
        # d = [0.5, 2]: ½d²/β inside, |d| − ½β outside; the mean of [0.125, 1.5]
        (SmoothL1(beta=1.0), [[0.5, 2.0]], [[0.0, 0.0]], 0.8125, [[0.25, 0.5]]),
        # d = [0.25, 2]: ½d² inside, δ(|d| − ½δ) outside; the mean of [0.03125, 0.875]
        (Huber(delta=0.5), [[0.25, 2.0]], [[0.0, 0.0]], 0.453125, [[0.125, 0.25]]),
        # class 0 of [1, 0, 2]: hinges 1 − 1 + 0 = 0 (off) and 1 − 1 + 2 = 2, over 3 classes
        (MultiMargin(), [[1.0, 0.0, 2.0]], [0.0], 2 / 3, [[-1 / 3, 0.0, 1 / 3]]),
    ],
    ids=["nll", "l1", "smooth_l1", "huber", "multi_margin"],
)
def test_losses_by_hand(loss: object, p: list, y: list, value: float, gradient: list) -> None:
    got, grad = loss.value_and_gradient(np.array(p), np.array(y))  # type: ignore[attr-defined]
    assert float(got) == pytest.approx(value, rel=1e-15)
    np.testing.assert_allclose(grad, gradient, **EXACT)


def test_l1_kinks_sit_at_zero_residuals_only() -> None:
    kinks = L1().kinks(np.array([[1.0, 2.5]]), np.array([[1.0, 2.0]]))
    assert kinks is not None
    assert kinks.distance.tolist() == [[0.0, 0.5]]
    assert SmoothL1(beta=1.0).kinks(np.zeros((1, 2)), np.zeros((1, 2))) is None  # smooth


PARAMETERISED = [
    {"type": "linear", "in_features": 3, "out_features": 2},
    {"type": "conv2d", "in_channels": 2, "out_channels": 3, "kernel_size": [2, 3]},
    {"type": "batch_norm1d", "num_features": 4},
    {"type": "batch_norm2d", "num_features": 2, "affine": False},
    {"type": "layer_norm", "normalized_shape": [2, 3]},
    {"type": "residual", "layers": [
        {"type": "linear", "in_features": 2, "out_features": 2},
        {"type": "residual", "layers": [{"type": "linear", "in_features": 2, "out_features": 2}]},
    ]},
]  # fmt: skip


def test_every_parameterised_kind_is_covered() -> None:
    declared = {name for name, kind in KINDS.items() if kind.parameters is not Layer.parameters}
    assert {layer["type"] for layer in PARAMETERISED} == declared


@pytest.mark.parametrize("layer", PARAMETERISED, ids=lambda layer: layer["type"])
@pytest.mark.parametrize("seed", [0, 7])
def test_init_is_torchs_bit_for_bit(layer: dict, seed: int) -> None:
    torch.manual_seed(seed)
    expected = torch_module(layer).state_dict()
    state = torch.get_rng_state()
    got = sequence.init(layer_specs([layer]), torch.Generator().manual_seed(seed))
    assert torch.equal(torch.get_rng_state(), state)  # the global generator untouched
    names = [name for name in expected if "running" not in name and "num_batches" not in name]
    assert list(got) == [f"0.{name}" for name in names]
    for name in names:
        assert np.array_equal(got[f"0.{name}"], expected[name].numpy()), name
