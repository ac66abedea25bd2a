"""A small CNN of the new kinds with `Linear` and `ReLU`, run through `sequence` as the engines
run it, against torch's `nn.Sequential`; and the NumPy side never loading torch."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from service.engines.layers import sequence
from service.engines.layers.activations import ReLU
from service.engines.layers.base import Layer
from service.engines.layers.conv import Conv2d
from service.engines.layers.flatten import Flatten
from service.engines.layers.linear import Linear
from service.engines.layers.pooling import AvgPool2d, MaxPool2d
from service.engines.losses import SSE
from tests.engines.layers.support import TOLERANCE, TORCH_DTYPE

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = (2, 9, 8)


def layers() -> list[Layer]:
    return [
        Conv2d(in_channels=2, out_channels=4, kernel_size=(3, 3), padding=(1, 1)),
        ReLU(),
        MaxPool2d(kernel_size=(2, 2)),  # 9×8 → 4×4
        Conv2d(in_channels=4, out_channels=3, kernel_size=(2, 3), stride=(1, 2), bias=False),
        AvgPool2d(kernel_size=(2, 1), stride=(1, 1)),  # 3×1 → 2×1
        Flatten(),
        Linear(in_features=3 * 2 * 1, out_features=5),
    ]


def torch_layers() -> list[torch.nn.Module]:
    return [
        torch.nn.Conv2d(2, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 3, (2, 3), stride=(1, 2), bias=False),
        torch.nn.AvgPool2d((2, 1), stride=1),
        torch.nn.Flatten(),
        torch.nn.Linear(6, 5),
    ]


@pytest.mark.parametrize("seed", [0, 3])
def test_init_is_nn_sequentials_bit_for_bit(seed: int) -> None:
    torch.manual_seed(seed)
    expected = torch.nn.Sequential(*torch_layers()).state_dict()
    found = sequence.init(layers(), torch.Generator().manual_seed(seed))
    assert found.keys() == expected.keys()
    assert [p.name for p in sequence.parameters(layers())] == list(expected)
    for name, w in found.items():
        np.testing.assert_array_equal(w, expected[name].numpy())


def test_shapes_and_cost() -> None:
    shapes = sequence.output_shapes(layers(), SAMPLE, batch=2)
    assert shapes == [(4, 9, 8), (4, 9, 8), (4, 4, 4), (3, 3, 1), (3, 2, 1), (6,), (5,)]
    assert sequence.cost(layers(), SAMPLE) == (
        4 * 9 * 8 * 2 * 3 * 3  # conv
        + 4 * 9 * 8  # relu
        + 4 * 4 * 4 * 2 * 2  # max pool
        + 3 * 3 * 1 * 4 * 2 * 3  # conv
        + 3 * 2 * 1 * 2  # avg pool
        + 0  # flatten
        + 6 * 5  # linear
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 4])
def test_gradients_equal_nn_sequentials(batch: int, dtype: type[np.floating]) -> None:
    torch.manual_seed(batch)
    net = torch.nn.Sequential(*torch_layers()).to(TORCH_DTYPE[dtype])
    params = {name: w.detach().numpy().copy() for name, w in net.state_dict().items()}
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, *SAMPLE)).astype(dtype)
    y = rng.standard_normal((batch, 5)).astype(dtype)

    tape = sequence.forward(layers(), params, x)
    prediction = tape[-1].output
    loss, grad = SSE().value_and_gradient(prediction, y)
    gradients, flowing = sequence.backward(tape, grad)

    xt = torch.tensor(x, requires_grad=True)
    t_prediction = net(xt)
    t_loss = torch.nn.functional.mse_loss(t_prediction, torch.from_numpy(y), reduction="sum")
    t_loss.backward()
    assert xt.grad is not None

    tolerance = TOLERANCE[dtype]
    np.testing.assert_allclose(prediction, t_prediction.detach().numpy(), **tolerance)
    np.testing.assert_allclose(loss, t_loss.item(), **tolerance)
    np.testing.assert_allclose(flowing[0], xt.grad.numpy(), **tolerance)
    assert gradients.keys() == dict(net.named_parameters()).keys()
    for name, p in net.named_parameters():
        assert p.grad is not None
        assert gradients[name].dtype == dtype
        np.testing.assert_allclose(gradients[name], p.grad.numpy(), **tolerance)
    t_params = {name: torch.from_numpy(w) for name, w in params.items()}
    assert torch.equal(sequence.torch_forward(layers(), xt, t_params), t_prediction)


def test_numpy_side_never_loads_torch() -> None:
    """The manual engine shares these classes: building, shaping, running forward, backward,
    kinks and trace must not import torch."""
    code = """
import sys
import numpy as np
from service.engines.layers import sequence
from service.engines.layers.activations import ReLU
from service.engines.layers.conv import Conv2d
from service.engines.layers.flatten import Flatten
from service.engines.layers.linear import Linear
from service.engines.layers.pooling import AvgPool2d, MaxPool2d

layers = [Conv2d(1, 2, (3, 3)), ReLU(), MaxPool2d((2, 2)), AvgPool2d((1, 1)), Flatten(),
          Linear(18, 1)]
sequence.output_shapes(layers, (1, 8, 8), 2)
params = {p.name: np.ones(p.shape) for p in sequence.parameters(layers)}
tape = sequence.forward(layers, params, np.ones((2, 1, 8, 8)))
sequence.backward(tape, np.ones((2, 1)))
tape[2].layer.kinks(tape[2].input, tape[2].cache)
tape[2].layer.trace(tape[2].cache)
assert "torch" not in sys.modules, "torch was imported"
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
