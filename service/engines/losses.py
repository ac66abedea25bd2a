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


def class_scores(p: Array, y: Array) -> tuple[Array, Array]:
    """The rows and the target class of each sample, for indexing p[rows, classes]."""
    return np.arange(len(y)), y.astype(np.intp)


@dataclass(frozen=True)
class NLL(Loss):
    """The mean over the batch of −p[y]: `nn.NLLLoss`, meant for log-probabilities (not
    checked, as in torch)."""

    name = "nll"
    targets = "classes"

    def value_and_gradient(self, p: Array, y: Array) -> tuple[np.floating, Array]:
        rows, classes = class_scores(p, y)
        grad = np.zeros_like(p)
        grad[rows, classes] = -1 / len(y)  # dL/dp = −onehot / batch
        return -p[rows, classes].sum() / len(y), grad

    def torch_value(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.nll_loss(p, y.long())

    def per_copy(self, predictions: Array, y: Array) -> Array:
        picked = np.take_along_axis(predictions, y.astype(np.intp)[None, :, None], axis=-1)
        return -picked[..., 0].mean(axis=1)


def zero_residual(p: Array, y: Array, why: str) -> Kinks:
    d = p.astype(np.float64) - y
    return Kinks(np.abs(d), np.sign(d), why)


@dataclass(frozen=True)
class L1(Loss):
    """The mean of |p − y|: `nn.L1Loss`."""

    name = "l1"

    def value_and_gradient(self, p: Array, y: Array) -> tuple[np.floating, Array]:
        d = p - y
        return np.abs(d).mean(), np.sign(d) / d.size  # sign(0) = 0, as torch

    def torch_value(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.l1_loss(p, y)

    def per_copy(self, predictions: Array, y: Array) -> Array:
        return flat_copies(np.abs(predictions - y)).mean(axis=1)

    def kinks(self, p: Array, y: Array) -> Kinks | None:
        return zero_residual(p, y, "l1 at a zero residual: torch takes sign(0) = 0")


@dataclass(frozen=True)
class SmoothL1(Loss):
    """½d²/beta where |d| < beta, |d| − ½beta elsewhere, the mean: `nn.SmoothL1Loss`; with
    beta 0 it is l1."""

    name = "smooth_l1"
    beta: float = 1.0

    def terms(self, d: Array) -> Array:
        if self.beta == 0:
            return np.abs(d)
        a = np.abs(d)
        return np.where(a < self.beta, 0.5 * d * d / self.beta, a - 0.5 * self.beta)

    def value_and_gradient(self, p: Array, y: Array) -> tuple[np.floating, Array]:
        d = p - y
        if self.beta == 0:
            slope = np.sign(d)  # l1's: sign(0) = 0
        else:
            slope = np.where(np.abs(d) < self.beta, d / self.beta, np.sign(d))  # d/beta inside
        return self.terms(d).mean(), slope / d.size

    def torch_value(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.smooth_l1_loss(p, y, beta=self.beta)

    def per_copy(self, predictions: Array, y: Array) -> Array:
        return flat_copies(self.terms(predictions - y)).mean(axis=1)

    def kinks(self, p: Array, y: Array) -> Kinks | None:
        if self.beta > 0:
            return None  # d/beta meets sign(d) at |d| = beta: the slope is continuous
        return zero_residual(p, y, "smooth_l1 with beta 0 (l1) at a zero residual: torch takes 0")


@dataclass(frozen=True)
class Huber(Loss):
    """½d² where |d| < delta, delta(|d| − ½delta) elsewhere, the mean: `nn.HuberLoss`."""

    name = "huber"
    delta: float = 1.0

    def terms(self, d: Array) -> Array:
        a = np.abs(d)
        return np.where(a < self.delta, 0.5 * d * d, self.delta * (a - 0.5 * self.delta))

    def value_and_gradient(self, p: Array, y: Array) -> tuple[np.floating, Array]:
        d = p - y
        slope = np.where(np.abs(d) < self.delta, d, self.delta * np.sign(d))  # d, then ±delta
        return self.terms(d).mean(), slope / d.size

    def torch_value(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.huber_loss(p, y, delta=self.delta)

    def per_copy(self, predictions: Array, y: Array) -> Array:
        return flat_copies(self.terms(predictions - y)).mean(axis=1)


@dataclass(frozen=True)
class MultiMargin(Loss):
    """The multiclass hinge, `nn.MultiMarginLoss`: per sample Σ_{i≠y} max(0, margin − p[y] +
    p[i])^power / classes, the mean over the batch."""

    name = "multi_margin"
    targets = "classes"
    margin: float = 1.0
    p: int = 1  # torch's name for the power

    def hinges(self, scores: Array, y: Array) -> Array:
        """margin − p[y] + p[i] for every class i, the target's own set to −inf (left out);
        scores may carry leading copy axes before the batch."""
        target = np.broadcast_to(y.astype(np.intp), scores.shape[:-1])[..., None]
        h = self.margin - np.take_along_axis(scores, target, axis=-1) + scores
        np.put_along_axis(h, target, -np.inf, axis=-1)
        return h

    def value_and_gradient(self, p: Array, y: Array) -> tuple[np.floating, Array]:
        batch, classes = p.shape
        h = self.hinges(p, y)
        active = h > 0  # torch: 0 at the hinge itself
        if self.p == 1:
            terms, slope = np.where(active, h, 0), active.astype(p.dtype)
        else:
            terms, slope = np.where(active, h * h, 0), np.where(active, 2 * h, 0)
        grad = slope / (classes * batch)  # d/dp[i] of each active term
        rows, target = class_scores(p, y)
        grad[rows, target] = -grad.sum(axis=1)  # and −the same for p[y]
        return terms.sum() / (classes * batch), grad.astype(p.dtype)

    def torch_value(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.multi_margin_loss(p, y.long(), p=self.p, margin=self.margin)

    def per_copy(self, predictions: Array, y: Array) -> Array:
        h = self.hinges(predictions, y)
        terms = np.maximum(h, 0) ** self.p
        return terms.sum(axis=(1, 2)) / (predictions.shape[1] * predictions.shape[2])

    def kinks(self, p: Array, y: Array) -> Kinks | None:
        if self.p == 2:
            return None  # 2·max(0, h) is continuous at the hinge
        h = self.hinges(p.astype(np.float64), y)
        distance = np.abs(h)  # per score p[i]: how far its hinge is from 0
        rows, target = class_scores(p, y)
        distance[rows, target] = distance.min(axis=1)  # p[y] is in every hinge of its row
        why = "multi_margin at a hinge (margin − p[y] + p[i] = 0): torch takes the slope 0"
        return Kinks(distance, np.sign(h), why)


LOSSES: dict[str, type[Loss]] = {
    loss.name: loss
    for loss in (SSE, MSE, CrossEntropy, BCEWithLogits, NLL, L1, SmoothL1, Huber, MultiMargin)
}
