"""The reference engine: the same network in PyTorch, differentiated by autograd.

Layers map to `torch.nn.functional` calls on leaf tensors that share memory with the NumPy
weights; nothing global is changed per request (grad mode is thread-local and set here).
"""

import math
import time
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from service.engines import EngineResult, LayerSpec, Problem
from service.models import (
    ELU,
    GELU,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Tanh,
)


def layer_forward(
    index: int, layer: LayerSpec, a: torch.Tensor, params: dict[str, torch.Tensor]
) -> torch.Tensor:
    match layer:
        case Linear(bias=bias):
            return F.linear(a, params[f"{index}.weight"], params[f"{index}.bias"] if bias else None)
        case Identity():
            return a
        case Sigmoid():
            return torch.sigmoid(a)
        case Tanh():
            return torch.tanh(a)
        case ReLU():
            return F.relu(a)
        case LeakyReLU(negative_slope=slope):
            return F.leaky_relu(a, slope)
        case ELU(alpha=alpha):
            return F.elu(a, alpha)
        case Softplus(beta=beta, threshold=threshold):
            return F.softplus(a, beta, threshold)
        case GELU(approximate=approximate):
            return F.gelu(a, approximate=approximate)
        case SiLU():
            return F.silu(a)
    raise TypeError(f"not a layer: {layer!r}")


def loss_value(name: str, prediction: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    match name:
        case "sse":
            return F.mse_loss(prediction, y, reduction="sum")
        case "mse":
            return F.mse_loss(prediction, y)
        case "cross_entropy":
            return F.cross_entropy(prediction, y.long())
        case "bce_with_logits":
            return F.binary_cross_entropy_with_logits(prediction, y)
    raise ValueError(f"unknown loss {name!r}")


def run(problem: Problem) -> EngineResult:
    start = time.perf_counter()
    params = {name: torch.from_numpy(w).requires_grad_() for name, w in problem.weights.items()}
    x = torch.from_numpy(problem.x).requires_grad_()
    with torch.enable_grad():
        out = x
        for index, layer in enumerate(problem.layers):
            out = layer_forward(index, layer, out, params)
        loss = loss_value(problem.loss, out, torch.from_numpy(problem.y))
        *grads, input_gradient = torch.autograd.grad(loss, [*params.values(), x])
    gradients = {name: g.numpy() for name, g in zip(params, grads, strict=True)}
    updated = (
        None
        if problem.learning_rate is None
        else sgd_step(problem.weights, gradients, problem.learning_rate)
    )
    prediction = out.detach().numpy()
    loss_number = loss.detach().numpy()[()]
    elapsed_ms = (time.perf_counter() - start) * 1e3
    return EngineResult(
        loss_number, prediction, gradients, input_gradient.numpy(), elapsed_ms, updated
    )


def sgd_step(
    weights: Mapping[str, np.ndarray], gradients: dict[str, np.ndarray], lr: float
) -> dict[str, np.ndarray]:
    """The update `torch.optim.SGD(lr).step()` makes (`param.add_(grad, alpha=-lr)`, its
    single-tensor path), on copies of the weights; a test pins it to the optimizer itself."""
    updated = {}
    for name, w in weights.items():
        p = torch.tensor(w)
        p.add_(torch.from_numpy(gradients[name]), alpha=-lr)
        updated[name] = p.numpy()
    return updated


def initial_weights(layers: tuple[LayerSpec, ...], seed: int) -> dict[str, np.ndarray]:
    """The float32 state_dict of `torch.manual_seed(seed); nn.Sequential(*layers)`.

    Drawn from a local generator in the order `nn.Linear.reset_parameters` draws, so the global
    RNG is never touched.
    """
    generator = torch.Generator().manual_seed(seed)
    weights: dict[str, np.ndarray] = {}
    for index, layer in enumerate(layers):
        if not isinstance(layer, Linear):
            continue
        w = torch.empty(layer.out_features, layer.in_features)
        torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
        weights[f"{index}.weight"] = w.numpy()
        if layer.bias:
            bound = 1 / math.sqrt(layer.in_features)
            b = torch.empty(layer.out_features)
            torch.nn.init.uniform_(b, -bound, bound, generator=generator)
            weights[f"{index}.bias"] = b.numpy()
    return weights
