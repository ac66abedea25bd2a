"""`softmax` and `log_softmax` along one axis, like `torch.nn.Softmax(dim)` and `LogSoftmax`.

`dim` counts the batched tensor's axes, the batch being axis 0, as in torch; the batch axis
itself is refused (each sample is normalised on its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from service.engines.layers.base import Array, Layer, Shape, ShapeError, shape_text

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Normalise(Layer):
    """What both share: the axis, checked against one sample's shape."""

    dim: int = -1

    def axis(self, ndim: int) -> int:
        """The axis of a batched array of `ndim` axes."""
        return self.dim % ndim

    def output_shape(self, shape: Shape) -> Shape:
        ndim = len(shape) + 1  # with the batch axis
        if not -ndim <= self.dim < ndim:
            raise ShapeError(
                f"dim {self.dim} is out of range for a batch of samples {shape_text(shape)} "
                f"({ndim} axes, the batch's first)",
                "dim",
            )
        if self.axis(ndim) == 0:
            raise ShapeError(
                f"dim {self.dim} is the batch axis; {self.kind} normalises each sample on its "
                "own: use a dim from 1 (or negative, from the end)",
                "dim",
            )
        return shape

    def cost(self, shape: Shape) -> int:
        return 3 * int(np.prod(shape))  # exp, sum, divide


def log_softmax(x: Array, axis: int) -> Array:
    shifted = x - x.max(axis=axis, keepdims=True)  # log-sum-exp without overflow
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@dataclass(frozen=True)
class Softmax(Normalise):
    """s = exp(x) / Σ exp(x); backward: dL/dx = s ⊙ (g − Σ g ⊙ s)."""

    kind = "softmax"

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return x.softmax(self.dim)

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, tuple[Array, int]]:
        axis = self.axis(x.ndim)
        s = np.exp(log_softmax(x, axis))
        return s, (s, axis)

    def backward(self, grad: Array, cache: tuple[Array, int]) -> tuple[Array, dict[str, Array]]:
        s, axis = cache
        return s * (grad - (grad * s).sum(axis=axis, keepdims=True)), {}


@dataclass(frozen=True)
class LogSoftmax(Normalise):
    """l = x − log Σ exp(x); backward: dL/dx = g − softmax(x) · Σ g."""

    kind = "log_softmax"

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return x.log_softmax(self.dim)

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, tuple[Array, int]]:
        axis = self.axis(x.ndim)
        out = log_softmax(x, axis)
        return out, (out, axis)

    def backward(self, grad: Array, cache: tuple[Array, int]) -> tuple[Array, dict[str, Array]]:
        out, axis = cache
        return grad - np.exp(out) * grad.sum(axis=axis, keepdims=True), {}
