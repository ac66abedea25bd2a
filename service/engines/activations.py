"""NumPy activations and their derivatives, side by side, with torch.nn's maths.

Each activation is a pair: `forward(z) -> a` and `derivative(z, a) -> da/dz` (elementwise).
Where torch picks a side at a kink (relu at 0, leaky_relu at 0, elu at 0), we pick the same.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import erf, expit

from service.models import (
    ELU,
    GELU,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Tanh,
)

Array = np.ndarray


@dataclass(frozen=True)
class Elementwise:
    forward: Callable[[Array], Array]  # z -> a
    derivative: Callable[[Array, Array], Array]  # (z, a) -> da/dz


# Python floats, so float32 arrays stay float32 (NumPy scalars would promote them).
SQRT_2 = math.sqrt(2.0)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
GELU_KAPPA = 0.044715


def identity() -> Elementwise:
    return Elementwise(
        forward=lambda z: z,
        derivative=lambda z, a: np.ones_like(z),
    )


def sigmoid() -> Elementwise:
    return Elementwise(
        forward=expit,  # 1 / (1 + e^-z), without overflow
        derivative=lambda z, a: a * (1 - a),
    )


def tanh() -> Elementwise:
    return Elementwise(
        forward=np.tanh,
        derivative=lambda z, a: 1 - a * a,
    )


def relu() -> Elementwise:
    return Elementwise(
        forward=lambda z: np.maximum(z, 0),
        derivative=lambda z, a: (z > 0).astype(z.dtype),  # 0 at z = 0, as torch
    )


def leaky_relu(slope: float) -> Elementwise:
    return Elementwise(
        forward=lambda z: np.where(z > 0, z, z * slope),
        derivative=lambda z, a: np.where(z > 0, 1, slope).astype(z.dtype),  # slope at 0
    )


def elu(alpha: float) -> Elementwise:
    return Elementwise(
        forward=lambda z: np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))),
        derivative=lambda z, a: np.where(z > 0, 1, alpha * np.exp(np.minimum(z, 0))).astype(
            z.dtype
        ),  # alpha at 0, as torch
    )


def softplus(beta: float, threshold: float) -> Elementwise:
    # linear where beta·z > threshold; exp is clipped there so it never overflows
    def forward(z: Array) -> Array:
        bz = z * beta
        return np.where(bz > threshold, z, np.log1p(np.exp(np.minimum(bz, threshold))) / beta)

    def derivative(z: Array, a: Array) -> Array:
        bz = z * beta
        return np.where(bz > threshold, 1, expit(np.minimum(bz, threshold))).astype(z.dtype)

    return Elementwise(forward, derivative)


def gelu() -> Elementwise:
    # z·Φ(z), Φ the standard normal CDF
    def forward(z: Array) -> Array:
        return 0.5 * z * (1 + erf(z / SQRT_2))

    def derivative(z: Array, a: Array) -> Array:
        return 0.5 * (1 + erf(z / SQRT_2)) + z * np.exp(-0.5 * z * z) * INV_SQRT_2PI

    return Elementwise(forward, derivative)


def gelu_tanh() -> Elementwise:
    # ½z(1 + tanh(√(2/π)(z + κz³)))
    def inner(z: Array) -> Array:
        return SQRT_2_OVER_PI * (z + GELU_KAPPA * z * z * z)

    def forward(z: Array) -> Array:
        return 0.5 * z * (1 + np.tanh(inner(z)))

    def derivative(z: Array, a: Array) -> Array:
        t = np.tanh(inner(z))
        return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_KAPPA * z * z)

    return Elementwise(forward, derivative)


def silu() -> Elementwise:
    # z·σ(z)
    def derivative(z: Array, a: Array) -> Array:
        s = expit(z)
        return s * (1 + z * (1 - s))

    return Elementwise(forward=lambda z: z * expit(z), derivative=derivative)


@lru_cache(maxsize=256)
def elementwise(layer: Activation) -> Elementwise:
    """The NumPy pair for an activation layer of the contract (layers are frozen: cached)."""
    match layer:
        case Identity():
            return identity()
        case Sigmoid():
            return sigmoid()
        case Tanh():
            return tanh()
        case ReLU():
            return relu()
        case LeakyReLU(negative_slope=slope):
            return leaky_relu(slope)
        case ELU(alpha=alpha):
            return elu(alpha)
        case Softplus(beta=beta, threshold=threshold):
            return softplus(beta, threshold)
        case GELU(approximate="none"):
            return gelu()
        case GELU(approximate="tanh"):
            return gelu_tanh()
        case SiLU():
            return silu()
    raise TypeError(f"not an activation: {layer!r}")
