"""What the layer tests share: tolerances, a layer's NumPy pass, the same pass through a torch
module built independently, and central differences of the NumPy forward."""

from collections.abc import Callable, Mapping

import numpy as np
import torch

from service.engines.layers.base import Array, Layer

# float64: sums of a few dozen products in another order differ by a few ulps of the terms.
FLOAT64 = {"rtol": 1e-12, "atol": 1e-12}
# float32: the same, at float32's eps (1.2e-7) on values up to ~10.
FLOAT32 = {"rtol": 1e-5, "atol": 1e-5}
TOLERANCE = {np.float64: FLOAT64, np.float32: FLOAT32}
# Central differences: the step, and what the step's rounding (eps·|L|/h ~ 1e-9) leaves.
STEP = 1e-6
CENTRAL = {"rtol": 1e-7, "atol": 1e-7}

TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def ours(
    layer: Layer, params: Mapping[str, Array], x: Array, grad: Array
) -> tuple[Array, Array, dict[str, Array]]:
    """The layer's NumPy forward and backward: output, dL/dx and dL/d(parameter) for an
    upstream dL/d(output) `grad`."""
    out, cache = layer.forward(x, params)
    grad_x, grad_params = layer.backward(grad, cache)
    return out, grad_x, grad_params


def theirs(module: torch.nn.Module, x: Array, grad: Array) -> tuple[Array, Array, dict[str, Array]]:
    """The same through torch's module and autograd (the module already in x's dtype)."""
    xt = torch.tensor(x, requires_grad=True)
    out = module(xt)
    out.backward(torch.from_numpy(grad))
    assert xt.grad is not None
    grad_params = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return out.detach().numpy(), xt.grad.numpy(), grad_params


def copied_params(module: torch.nn.Module) -> dict[str, Array]:
    """The module's parameters as NumPy arrays (copies), keyed by its state_dict names."""
    return {name: p.detach().numpy().copy() for name, p in module.state_dict().items()}


def central_differences(f: Callable[[], float], a: Array) -> Array:
    """dF/da, entry by entry: (F(a + h) − F(a − h)) / 2h; `a` is changed in place, restored."""
    grad = np.empty_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + STEP
        up = f()
        a[i] = old - STEP
        down = f()
        a[i] = old
        grad[i] = (up - down) / (2 * STEP)
    return grad


def numeric_gradients(
    layer: Layer, params: dict[str, Array], x: Array, grad: Array
) -> tuple[Array, dict[str, Array]]:
    """Central differences of L = Σ grad · forward(x, params): dL/dx and dL/d(parameter)."""

    def loss() -> float:
        return float(np.vdot(grad, layer.forward(x, params)[0]))

    return central_differences(loss, x), {
        name: central_differences(loss, p) for name, p in params.items()
    }
