"""Each NumPy activation and its derivative against torch.nn's, in float64, kinks included."""

import numpy as np
import pytest
import torch

from service.engines.layers import Activation
from tests.nets import ACTIVATIONS, layer_specs, torch_module

# Points around every kink and threshold: 0 (relu, leaky_relu, elu), softplus's beta·z = 1.5,
# large magnitudes where naive exp would overflow.
Z = np.array([-800.0, -30.0, -3.0, -1.0, -1e-8, 0.0, 1e-8, 0.5, 0.75, 0.7500001, 1.0, 3.0, 30.0])

EXACT = {"rtol": 5e-14, "atol": 1e-300}  # float64: a few ulps, whatever the formula's order


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: str(a))
def test_forward_and_derivative_equal_torch(activation: dict) -> None:
    (layer,) = layer_specs([activation])
    assert isinstance(layer, Activation)
    z = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    a = torch_module(activation)(z)
    (derivative,) = torch.autograd.grad(a.sum(), z)

    ours = layer.f(Z)
    np.testing.assert_allclose(ours, a.detach().numpy(), **EXACT)
    np.testing.assert_allclose(layer.df(Z, ours), derivative.numpy(), **EXACT)
    torch_z = torch.from_numpy(Z)
    np.testing.assert_array_equal(layer.torch_f(torch_z).numpy(), a.detach().numpy())


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: str(a))
def test_float32_stays_float32(activation: dict) -> None:
    (layer,) = layer_specs([activation])
    assert isinstance(layer, Activation)
    z = Z.astype(np.float32)
    a = layer.f(z)
    assert a.dtype == np.float32
    assert layer.df(z, a).dtype == np.float32
    assert np.all(np.isfinite(a))
