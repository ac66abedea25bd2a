"""Normalisation: `batch_norm1d` and `batch_norm2d` in train mode (batch statistics), and
`layer_norm`, like `torch.nn.BatchNorm1d/2d` and `torch.nn.LayerNorm`.

Both normalise x̂ = (x − mean) / √(var + eps) over some axes (biased variance), then scale and
shift: y = γ·x̂ + β. Batch norm takes the statistics per channel over the batch (and positions);
layer norm per sample over its last axes. Backward is the same three terms for both, over the
m entries that share a mean:

    dL/dx = (m·dx̂ − Σ dx̂ − x̂·Σ(dx̂·x̂)) / (m·√(var + eps)),  dx̂ = dL/dy·γ
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from service.engines.layers.base import Array, Layer, Param, Shape, ShapeError, shape_text

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Normalised:
    """What forward keeps for backward and the trace."""

    x_hat: Array
    inv_std: Array  # 1 / √(var + eps), broadcastable to x
    mean: Array
    var: Array
    gamma: Array | None
    axes: tuple[int, ...]  # the axes each mean is taken over


def normalise(x: Array, axes: tuple[int, ...], eps: float) -> tuple[Array, Array, Array, Array]:
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)  # biased, as torch normalises
    inv_std = 1 / np.sqrt(var + eps)
    return (x - mean) * inv_std, inv_std, mean, var


def backward_terms(grad: Array, cache: Normalised) -> tuple[Array, Array, Array, int]:
    """d = γ·dL/dy, its sum Σd (the mean's term) and Σ(d·x̂) (the variance's) over the m
    entries that share each mean, and m."""
    d_hat = grad if cache.gamma is None else grad * cache.gamma
    m = math.prod(grad.shape[axis] for axis in cache.axes)
    total = d_hat.sum(axis=cache.axes, keepdims=True)
    along = (d_hat * cache.x_hat).sum(axis=cache.axes, keepdims=True)
    return d_hat, total, along, m


def normalise_backward(grad: Array, cache: Normalised) -> Array:
    """dL/dx from dL/dx̂, over the m entries that share each mean."""
    d_hat, total, along, m = backward_terms(grad, cache)
    return (m * d_hat - total - cache.x_hat * along) * cache.inv_std / m


@dataclass(frozen=True)
class BatchNorm(Layer):
    """Per channel (axis 1) over the batch and every position."""

    mixes_batch = True
    ranks: ClassVar[tuple[int, ...]]  # how many axes one sample may have
    forms: ClassVar[str]  # those samples, as an error names them
    num_features: int
    eps: float = 1e-5
    affine: bool = True

    def parameters(self) -> list[Param]:
        c = (self.num_features,)
        return [Param("weight", c), Param("bias", c)] if self.affine else []

    def buffers(self) -> list[Param]:
        c = (self.num_features,)
        return [Param("running_mean", c), Param("running_var", c), Param("num_batches_tracked", ())]

    def check_batch(self, batch: int, shape: Shape) -> None:
        if batch * math.prod(shape[1:]) <= 1:
            raise ShapeError(
                f"{self.kind} in train mode needs more than one value per channel (torch's "
                f"rule); a batch of {batch} sample(s) {shape_text(shape)} has one: send a "
                "batch of two or more samples"
            )

    def output_shape(self, shape: Shape) -> Shape:
        """The same shape, of a sample form the kind takes, with C = num_features channels."""
        if len(shape) not in self.ranks or shape[0] != self.num_features:
            raise ShapeError(
                f"{self.kind} takes samples {self.forms} with C = num_features = "
                f"{self.num_features} but gets {shape_text(shape)}",
                "num_features",
            )
        return shape

    def cost(self, shape: Shape) -> int:
        return 4 * math.prod(shape)

    def init(self, generator: torch.Generator) -> dict[str, Array]:
        if not self.affine:
            return {}  # ones and zeros: torch's constructor draws nothing
        c = self.num_features
        return {"weight": np.ones(c, np.float32), "bias": np.zeros(c, np.float32)}

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        import torch.nn.functional as F

        weight, bias = params.get("weight"), params.get("bias")
        return F.batch_norm(x, None, None, weight, bias, training=True, eps=self.eps)

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, Normalised]:
        axes = (0, *range(2, x.ndim))  # all but the channels
        per_channel = (1, -1) + (1,) * (x.ndim - 2)
        x_hat, inv_std, mean, var = normalise(x, axes, self.eps)
        gamma = params["weight"].reshape(per_channel) if self.affine else None
        out = x_hat if gamma is None else gamma * x_hat + params["bias"].reshape(per_channel)
        return out, Normalised(x_hat, inv_std, mean, var, gamma, axes)

    def backward(self, grad: Array, cache: Normalised) -> tuple[Array, dict[str, Array]]:
        gradients = {}
        if self.affine:
            gradients["weight"] = (grad * cache.x_hat).sum(axis=cache.axes)  # dL/dγ = Σ g·x̂
            gradients["bias"] = grad.sum(axis=cache.axes)  # dL/dβ = Σ g
        return normalise_backward(grad, cache), gradients

    def trace(self, cache: Normalised) -> dict[str, Array]:
        return {"mean": cache.mean.reshape(-1), "var": cache.var.reshape(-1)}


@dataclass(frozen=True)
class BatchNorm1d(BatchNorm):
    kind = "batch_norm1d"
    ranks = (1, 2)
    forms = "[C] or [C, L]"


@dataclass(frozen=True)
class BatchNorm2d(BatchNorm):
    kind = "batch_norm2d"
    ranks = (3,)
    forms = "[C, H, W]"

    def sample_ndim(self) -> int | None:
        return 3


@dataclass(frozen=True)
class LayerNorm(Layer):
    """Each sample over its last axes, normalized_shape; γ and β of that shape."""

    kind = "layer_norm"
    normalized_shape: tuple[int, ...]
    eps: float = 1e-5
    elementwise_affine: bool = True

    def parameters(self) -> list[Param]:
        shape = self.normalized_shape
        return [Param("weight", shape), Param("bias", shape)] if self.elementwise_affine else []

    def output_shape(self, shape: Shape) -> Shape:
        k = len(self.normalized_shape)
        if shape[len(shape) - k :] != self.normalized_shape or len(shape) < k:
            raise ShapeError(
                f"layer_norm normalises the last axes {shape_text(self.normalized_shape)} "
                f"(normalized_shape) but gets samples {shape_text(shape)}",
                "normalized_shape",
            )
        return shape

    def cost(self, shape: Shape) -> int:
        return 4 * math.prod(shape)

    def init(self, generator: torch.Generator) -> dict[str, Array]:
        if not self.elementwise_affine:
            return {}
        shape = self.normalized_shape
        return {"weight": np.ones(shape, np.float32), "bias": np.zeros(shape, np.float32)}

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        import torch.nn.functional as F

        weight, bias = params.get("weight"), params.get("bias")
        return F.layer_norm(x, self.normalized_shape, weight, bias, self.eps)

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, Normalised]:
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        x_hat, inv_std, mean, var = normalise(x, axes, self.eps)
        gamma = params["weight"] if self.elementwise_affine else None
        out = x_hat if gamma is None else gamma * x_hat + params["bias"]
        return out, Normalised(x_hat, inv_std, mean, var, gamma, axes)

    def backward(self, grad: Array, cache: Normalised) -> tuple[Array, dict[str, Array]]:
        gradients = {}
        if self.elementwise_affine:
            leading = tuple(range(grad.ndim - len(self.normalized_shape)))
            gradients["weight"] = (grad * cache.x_hat).sum(axis=leading)  # dL/dγ = Σ g·x̂
            gradients["bias"] = grad.sum(axis=leading)  # dL/dβ = Σ g
        return normalise_backward(grad, cache), gradients

    def trace(self, cache: Normalised) -> dict[str, Array]:
        k = len(cache.axes)
        return {"mean": cache.mean.reshape(cache.mean.shape[:-k]),
                "var": cache.var.reshape(cache.var.shape[:-k])}  # fmt: skip
