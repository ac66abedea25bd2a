"""Test helpers: random problems, and the same network built the torch way, independently."""

import itertools
from typing import Any

import numpy as np
import torch

from service.domain.network import specs
from service.engines import Problem
from service.engines.layers import Layer, sequence
from service.engines.losses import LOSSES
from service.schemas.models import Network

# Every activation of the contract, with non-default parameters where it has any.
ACTIVATIONS: list[dict[str, Any]] = [
    {"type": "identity"},
    {"type": "sigmoid"},
    {"type": "tanh"},
    {"type": "relu"},
    {"type": "leaky_relu", "negative_slope": 0.2},
    {"type": "elu", "alpha": 0.7},
    {"type": "softplus", "beta": 2.0, "threshold": 1.5},
    {"type": "gelu"},
    {"type": "gelu", "approximate": "tanh"},
    {"type": "silu"},
    {"type": "mish"},
]


def mlp(activation: dict[str, Any], sizes: tuple[int, ...] = (3, 5, 4, 2)) -> list[dict[str, Any]]:
    """Linear, activation, Linear, activation, …, Linear."""
    layers: list[dict[str, Any]] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(dict(activation))
        layers.append({"type": "linear", "in_features": n_in, "out_features": n_out})
    return layers


def layer_specs(layers: list[dict[str, Any]]) -> tuple[Layer, ...]:
    """The engines' layers for layers written as in a request."""
    return specs(Network.model_validate({"layers": layers}).layers)


def random_problem(
    layers: list[dict[str, Any]],
    batch: int,
    loss: str = "sse",
    dtype: type = np.float64,
    seed: int = 0,
) -> Problem:
    rng = np.random.default_rng(seed)
    network = layer_specs(layers)
    parameters = sequence.parameters(network)
    weights = {p.name: rng.normal(0, 0.8, p.shape).astype(dtype) for p in parameters}
    n_in = next(p.shape[1] for p in parameters)
    n_out = [p.shape[0] for p in parameters][-1]
    x = rng.normal(0, 1, (batch, n_in)).astype(dtype)
    y = rng.normal(0, 1, (batch, n_out)).astype(dtype)
    return Problem(network, weights, x, y, LOSSES[loss]())


class Residual(torch.nn.Sequential):
    """x + f(x): a residual block as a torch user writes one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


TORCH_MODULES: dict[str, type[torch.nn.Module]] = {
    "linear": torch.nn.Linear,
    "identity": torch.nn.Identity,
    "sigmoid": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
    "leaky_relu": torch.nn.LeakyReLU,
    "elu": torch.nn.ELU,
    "softplus": torch.nn.Softplus,
    "gelu": torch.nn.GELU,
    "silu": torch.nn.SiLU,
    "mish": torch.nn.Mish,
    "conv2d": torch.nn.Conv2d,
    "max_pool2d": torch.nn.MaxPool2d,
    "avg_pool2d": torch.nn.AvgPool2d,
    "flatten": torch.nn.Flatten,
    "batch_norm1d": torch.nn.BatchNorm1d,
    "batch_norm2d": torch.nn.BatchNorm2d,
    "layer_norm": torch.nn.LayerNorm,
    "dropout": torch.nn.Dropout,
    "softmax": torch.nn.Softmax,
    "log_softmax": torch.nn.LogSoftmax,
}


def torch_module(layer: dict[str, Any]) -> torch.nn.Module:
    """The torch.nn module a layer of the contract names, built the way a torch user would."""
    kind = layer["type"]
    args = {k: v for k, v in layer.items() if k != "type"}
    if kind == "residual":
        return Residual(*(torch_module(inner) for inner in args["layers"]))
    if kind in ("softmax", "log_softmax"):
        args.setdefault("dim", -1)  # the contract's default; torch's is a deprecated guess
    return TORCH_MODULES[kind](**args)


def torch_sequential(layers: list[dict[str, Any]]) -> torch.nn.Sequential:
    return torch.nn.Sequential(*(torch_module(layer) for layer in layers))


def finite_difference_gradients(
    layers: list[dict[str, Any]], problem: Problem, step: float = 1e-6
) -> dict[str, np.ndarray]:
    """Central differences of the loss of a torch.nn.Sequential, in float64, entry by entry."""
    net = torch_sequential(layers).double()
    x = torch.from_numpy(problem.x.astype(np.float64))
    y = torch.from_numpy(problem.y.astype(np.float64))
    reduction = {"sse": "sum", "mse": "mean"}[problem.loss.name]
    state = {k: torch.from_numpy(v.astype(np.float64)) for k, v in problem.weights.items()}

    def loss() -> float:
        net.load_state_dict(state)
        with torch.no_grad():
            return float(torch.nn.functional.mse_loss(net(x), y, reduction=reduction))

    gradients = {}
    for name, w in state.items():
        g = np.zeros(w.shape)
        flat = w.view(-1)
        for i in range(flat.numel()):
            original = float(flat[i])
            flat[i] = original + step
            up = loss()
            flat[i] = original - step
            down = loss()
            flat[i] = original
            g.reshape(-1)[i] = (up - down) / (2 * step)
        gradients[name] = g
    return gradients
