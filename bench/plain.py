"""The plain code a user would write for an MLP (linear layers, sigmoid or relu between them) and
the `sse` loss, in torch and in NumPy: the baselines the engines and training are held to.

Neither knows anything of the service: torch's is an `nn.Sequential` in float64 with
`loss.backward()` (and `torch.optim.SGD` for training); NumPy's is the textbook loop over the
layers, forward then backward. Both compute what the engines return: the loss, the prediction,
every parameter's gradient and the input's.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from service.engines import Problem

Array = np.ndarray
TORCH_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}


def torch_net(layers: list[dict[str, Any]], weights: dict[str, Array]) -> nn.Sequential:
    """`nn.Sequential` of the layers, in the weights' dtype, holding copies of the weights."""
    modules: list[nn.Module] = []
    for layer in layers:
        if layer["type"] == "linear":
            modules.append(nn.Linear(layer["in_features"], layer["out_features"]))
        else:
            modules.append(TORCH_ACTIVATIONS[layer["type"]]())
    net = nn.Sequential(*modules).to(torch.from_numpy(next(iter(weights.values()))).dtype)
    net.load_state_dict({name: torch.tensor(w) for name, w in weights.items()})
    return net


def torch_step(
    layers: list[dict[str, Any]], p: Problem
) -> Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One forward and `loss.backward()` through `nn.Sequential`, the input's gradient too."""
    net = torch_net(layers, dict(p.weights))
    x, y = torch.from_numpy(p.x), torch.from_numpy(p.y)

    def step() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        net.zero_grad()
        xg = x.detach().requires_grad_()
        prediction = net(xg)
        loss = F.mse_loss(prediction, y, reduction="sum")
        loss.backward()
        return loss, prediction, xg.grad  # type: ignore[return-value]

    return step


class NumpyMLP:
    """The textbook NumPy backprop: W, b per linear layer, one activation between them."""

    def __init__(self, layers: list[dict[str, Any]], weights: dict[str, Array]) -> None:
        linear = [i for i, layer in enumerate(layers) if layer["type"] == "linear"]
        self.w = [weights[f"{i}.weight"].copy() for i in linear]
        self.b = [weights[f"{i}.bias"].copy() for i in linear]
        self.activation = next(layer["type"] for layer in layers if layer["type"] != "linear")

    def f(self, z: Array) -> Array:
        return 1 / (1 + np.exp(-z)) if self.activation == "sigmoid" else np.maximum(z, 0)

    def df(self, a: Array) -> Array:
        return a * (1 - a) if self.activation == "sigmoid" else (a > 0).astype(a.dtype)

    def gradients(self, x: Array, y: Array) -> tuple[Any, Array, list[Array], list[Array], Array]:
        """Loss, prediction, dL/dW and dL/db per linear layer, dL/dx."""
        activations = [x]
        a = x
        last = len(self.w) - 1
        for i, (w, b) in enumerate(zip(self.w, self.b, strict=True)):
            z = a @ w.T + b
            a = z if i == last else self.f(z)
            activations.append(a)
        d = a - y
        loss = (d * d).sum()
        g = 2 * d
        dw, db = [np.empty(0)] * len(self.w), [np.empty(0)] * len(self.w)
        for i in range(last, -1, -1):
            dw[i], db[i] = g.T @ activations[i], g.sum(axis=0)
            g = g @ self.w[i]
            if i > 0:
                g = g * self.df(activations[i])
        return loss, a, dw, db, g

    def sgd_step(self, x: Array, y: Array, lr: float) -> Any:
        loss, _, dw, db, _ = self.gradients(x, y)
        for i in range(len(self.w)):
            self.w[i] -= lr * dw[i]
            self.b[i] -= lr * db[i]
        return loss


def numpy_step(layers: list[dict[str, Any]], p: Problem) -> Callable[[], object]:
    mlp = NumpyMLP(layers, dict(p.weights))
    return lambda: mlp.gradients(p.x, p.y)


def train_torch(
    layers: list[dict[str, Any]],
    weights: dict[str, Array],
    x: Array,
    y: Array,
    lr: float,
    batch_size: int,
    epochs: int,
) -> list[float]:
    """The plain torch loop: `torch.optim.SGD`, `loss.item()` per step; each epoch's mean loss."""
    net = torch_net(layers, weights)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    curve = []
    for _ in range(epochs):
        total, steps = 0.0, 0
        for begin in range(0, len(x), batch_size):
            optimizer.zero_grad()
            end = begin + batch_size
            loss = F.mse_loss(net(xt[begin:end]), yt[begin:end], reduction="sum")
            loss.backward()
            optimizer.step()
            total += loss.item()
            steps += 1
        curve.append(total / steps)
    return curve


def train_numpy(
    layers: list[dict[str, Any]],
    weights: dict[str, Array],
    x: Array,
    y: Array,
    lr: float,
    batch_size: int,
    epochs: int,
) -> list[float]:
    """The plain NumPy loop: the same steps, W ← W − lr·g in place; each epoch's mean loss."""
    mlp = NumpyMLP(layers, weights)
    curve = []
    for _ in range(epochs):
        total, steps = 0.0, 0
        for begin in range(0, len(x), batch_size):
            end = begin + batch_size
            total += float(mlp.sgd_step(x[begin:end], y[begin:end], lr))
            steps += 1
        curve.append(total / steps)
    return curve
