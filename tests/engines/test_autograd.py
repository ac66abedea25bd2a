"""The reference engine's own pieces: seeded initial weights, equal to torch's, bit for bit."""

import numpy as np
import pytest
import torch

from service.core import seed
from service.engines.autograd import initial_weights
from tests.nets import ACTIVATIONS, layer_specs, mlp, torch_sequential

SEED_LAYERS = layer_specs(seed.LAYERS)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: str(a))
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_initial_weights_are_torchs(activation: dict, seed: int) -> None:
    layers = mlp(activation, (3, 7, 5, 2))
    layers[2] = {"type": "linear", "in_features": 7, "out_features": 5, "bias": False}
    torch.manual_seed(seed)
    expected = torch_sequential(layers).state_dict()
    got = initial_weights(layer_specs(layers), seed)
    assert list(got) == list(expected)
    for name, tensor in expected.items():
        assert got[name].dtype == np.float32
        assert np.array_equal(got[name], tensor.numpy()), name


def test_seed_network_weights_are_torchs() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 10),
        torch.nn.Sigmoid(),
        torch.nn.Linear(10, 10),
        torch.nn.Sigmoid(),
        torch.nn.Linear(10, 1),
    )
    got = initial_weights(SEED_LAYERS, 0)
    for name, tensor in net.state_dict().items():
        assert np.array_equal(got[name], tensor.numpy()), name


def test_initial_weights_leave_the_global_rng_alone() -> None:
    torch.manual_seed(42)
    state = torch.get_rng_state()
    initial_weights(SEED_LAYERS, 7)
    assert torch.equal(torch.get_rng_state(), state)
