"""`linear`: z = x Wᵀ + b on the last axis, like `torch.nn.Linear`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from service.engines.layers.base import Array, Layer, Param, Shape, ShapeError, shape_text

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Linear(Layer):
    """W is (out_features, in_features); any leading axes are carried along."""

    kind = "linear"
    in_features: int
    out_features: int
    bias: bool = True

    def sample_ndim(self) -> int | None:
        return 1  # as a first layer, x is one point [x1, x2, …] or a batch of them

    def parameters(self) -> list[Param]:
        weight = Param("weight", (self.out_features, self.in_features))
        return [weight, Param("bias", (self.out_features,))] if self.bias else [weight]

    def output_shape(self, shape: Shape) -> Shape:
        if not shape or shape[-1] != self.in_features:
            raise ShapeError(
                f"takes {self.in_features} features on its last axis (in_features) but gets "
                f"an input of shape {shape_text(shape)}",
                "in_features",
            )
        return (*shape[:-1], self.out_features)

    def cost(self, shape: Shape) -> int:
        return math.prod(shape[:-1]) * self.in_features * self.out_features

    def init(self, generator: torch.Generator) -> dict[str, Array]:
        import torch  # nn.Linear.reset_parameters, in its order

        w = torch.empty(self.out_features, self.in_features)
        torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
        if not self.bias:
            return {"weight": w.numpy()}
        bound = 1 / math.sqrt(self.in_features)
        b = torch.empty(self.out_features)
        torch.nn.init.uniform_(b, -bound, bound, generator=generator)
        return {"weight": w.numpy(), "bias": b.numpy()}

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        import torch.nn.functional as F

        return F.linear(x, params["weight"], params.get("bias"))

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, tuple[Array, Array]]:
        w = params["weight"]
        z = np.dot(x.reshape(-1, self.in_features), w.T)  # z = x Wᵀ + b
        if self.bias:
            z += params["bias"]
        return z.reshape(*x.shape[:-1], self.out_features), (x, w)

    def backward(self, grad: Array, cache: tuple[Array, Array]) -> tuple[Array, dict[str, Array]]:
        x, w = cache
        g = grad.reshape(-1, self.out_features)  # dL/dz, one row per sample (and position)
        a = x.reshape(-1, self.in_features)
        gradients = {"weight": weight_gradient(g, a)}  # dL/dW = Σ dL/dz ⊗ x
        if self.bias:
            gradients["bias"] = g.sum(axis=0)  # dL/db = Σ dL/dz
        return np.dot(g, w).reshape(x.shape), gradients  # dL/dx = dL/dz · W


def weight_gradient(grad_z: Array, a: Array) -> Array:
    """(dL/dz)ᵀ · a, summed over the rows; an outer product for one row."""
    if grad_z.shape[0] == 1:
        return np.outer(grad_z[0], a[0])  # np.outer/np.dot: matmul is ~9× slower here
    return np.dot(grad_z.T, a)
