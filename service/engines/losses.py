"""Losses, torch.nn.functional's maths: each one's value and its gradient by hand, side by side,
with the torch call that autograd differentiates.

`value_and_gradient(p, y)` gives L and dL/dp for a prediction p (batch first); `per_copy` gives
the loss of each of K predictions at once, for the numeric engine. `targets` says what y holds:
`values` (the prediction's shape), `classes` (one class index per sample) or `probabilities`
(the prediction's shape, each in [0, 1]).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from scipy.special import expit

from service.engines.layers.base import Array, Kinks

if TYPE_CHECKING:
    import torch

Targets = Literal["values", "classes", "probabilities"]


@dataclass(frozen=True)
class Loss(ABC):
    name: ClassVar[str]
    targets: ClassVar[Targets] = "values"

    @abstractmethod
    def value_and_gradient(self, p: Array, y: Array) -> tuple[np.floating, Array]:
        """L, and dL/dp in p's shape."""

    @abstractmethod
    def torch_value(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...

    def per_copy(self, predictions: Array, y: Array) -> Array:
        """The loss of each of K predictions (K, *p.shape) against the same y: (K,)."""
        return np.array([self.value_and_gradient(p, y)[0] for p in predictions])

    def kinks(self, p: Array, y: Array) -> Kinks | None:
        """Where dL/dp is not defined, entry by entry of p; None for a smooth loss."""
        return None


def flat_copies(predictions: Array) -> Array:
    return predictions.reshape(len(predictions), -1)


@dataclass(frozen=True)
class SSE(Loss):
    """Σ (p − y)²: the seed's loss."""

    name = "sse"

    def value_and_gradient(self, p: Array, y: Array) -> tuple[np.floating, Array]:
        d = p - y
        return np.vdot(d, d), 2 * d  # L = Σ d², dL/dp = 2d

    def torch_value(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.mse_loss(p, y, reduction="sum")

    def per_copy(self, predictions: Array, y: Array) -> Array:
        d = flat_copies(predictions - y)
        return (d * d).sum(axis=1)


@dataclass(frozen=True)
class MSE(Loss):
    """Σ (p − y)² / n, n the number of entries: `nn.MSELoss`."""

    name = "mse"

    def value_and_gradient(self, p: Array, y: Array) -> tuple[np.floating, Array]:
        d = p - y
        return np.vdot(d, d) / d.size, (2 / d.size) * d  # L = Σ d² / n, dL/dp = 2d / n

    def torch_value(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.mse_loss(p, y)

    def per_copy(self, predictions: Array, y: Array) -> Array:
        d = flat_copies(predictions - y)
        return (d * d).mean(axis=1)


def log_softmax(z: Array) -> Array:
    shifted = z - z.max(axis=-1, keepdims=True)  # log-sum-exp without overflow
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class CrossEntropy(Loss):
    """The mean over the batch of −log softmax(z)[y]: `nn.CrossEntropyLoss` on logits z."""

    name = "cross_entropy"
    targets = "classes"

    def value_and_gradient(self, p: Array, y: Array) -> tuple[np.floating, Array]:
        log_probabilities = log_softmax(p)
        rows, classes = np.arange(len(y)), y.astype(np.intp)
        batch = len(y)
        grad = np.exp(log_probabilities)
        grad[rows, classes] -= 1  # dL/dz = (softmax − onehot) / batch
        return -log_probabilities[rows, classes].sum() / batch, grad / batch

    def torch_value(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.cross_entropy(p, y.long())

    def per_copy(self, predictions: Array, y: Array) -> Array:
        picked = np.take_along_axis(
            log_softmax(predictions), y.astype(np.intp)[None, :, None], axis=-1
        )
        return -picked[..., 0].mean(axis=1)


@dataclass(frozen=True)
class BCEWithLogits(Loss):
    """The mean of −[y log σ(z) + (1 − y) log(1 − σ(z))]: `nn.BCEWithLogitsLoss`."""

    name = "bce_with_logits"
    targets = "probabilities"

    def value_and_gradient(self, p: Array, y: Array) -> tuple[np.floating, Array]:
        losses = bce_terms(p, y)
        return losses.mean(), (expit(p) - y) / p.size  # dL/dz = (σ(z) − y) / n

    def torch_value(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(p, y)

    def per_copy(self, predictions: Array, y: Array) -> Array:
        return flat_copies(bce_terms(predictions, y)).mean(axis=1)


def bce_terms(z: Array, y: Array) -> Array:
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))  # exp never overflows


LOSSES: dict[str, type[Loss]] = {
    loss.name: loss for loss in (SSE, MSE, CrossEntropy, BCEWithLogits)
}
