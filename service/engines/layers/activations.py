"""Elementwise activations, torch.nn's maths: each one's function and derivative side by side.

An activation is `f(z) -> a` and `df(z, a) -> da/dz`, entry by entry; forward keeps z and a, and
backward multiplies dL/da by f'(z). Where torch picks a side at a kink (relu at 0, leaky_relu at
0, elu at 0), we pick the same; `kink_points` lists where f' jumps.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy.special import erf, expit

from service.engines.layers.base import Array, Kinks, Layer, Shape

if TYPE_CHECKING:
    import torch

# Python floats, so float32 arrays stay float32 (NumPy scalars would promote them).
SQRT_2 = math.sqrt(2.0)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
GELU_KAPPA = 0.044715


@dataclass(frozen=True)
class Activation(Layer):
    """a = f(z) entry by entry; backward: dL/dz = dL/da · f'(z)."""

    elementwise = True

    @abstractmethod
    def f(self, z: Array) -> Array: ...

    @abstractmethod
    def df(self, z: Array, a: Array) -> Array:
        """da/dz, given z and a = f(z)."""

    @abstractmethod
    def torch_f(self, z: torch.Tensor) -> torch.Tensor: ...

    def kink_points(self) -> tuple[float, ...]:
        """The values of z where f' jumps."""
        return ()

    @property
    def convention(self) -> str:
        """What torch takes at the kink, e.g. "; torch takes relu'(0) = 0"."""
        return ""

    def output_shape(self, shape: Shape) -> Shape:
        return shape

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.torch_f(x)

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, tuple[Array, Array]]:
        a = self.f(x)
        return a, (x, a)

    def backward(self, grad: Array, cache: tuple[Array, Array]) -> tuple[Array, dict[str, Array]]:
        z, a = cache
        return grad * self.df(z, a), {}

    def kinks(self, x: Array, cache: tuple[Array, Array]) -> Kinks | None:
        points = self.kink_points()
        if not points:
            return None
        z = x.astype(np.float64)
        distance = np.min([np.abs(z - p) for p in points], axis=0)
        side = np.sum([np.sign(z - p) for p in points], axis=0)
        where = " and ".join(f"{p:g}" for p in points)
        return Kinks(
            distance, side, f"{self.kind} is not differentiable at z = {where}{self.convention}"
        )


@dataclass(frozen=True)
class Identity(Activation):
    kind = "identity"

    def f(self, z: Array) -> Array:
        return z

    def df(self, z: Array, a: Array) -> Array:
        return np.ones_like(z)

    def torch_f(self, z: torch.Tensor) -> torch.Tensor:
        return z


@dataclass(frozen=True)
class Sigmoid(Activation):
    kind = "sigmoid"

    def f(self, z: Array) -> Array:
        return expit(z)  # 1 / (1 + e^-z), without overflow

    def df(self, z: Array, a: Array) -> Array:
        return a * (1 - a)

    def torch_f(self, z: torch.Tensor) -> torch.Tensor:
        return z.sigmoid()


@dataclass(frozen=True)
class Tanh(Activation):
    kind = "tanh"

    def f(self, z: Array) -> Array:
        return np.tanh(z)

    def df(self, z: Array, a: Array) -> Array:
        return 1 - a * a

    def torch_f(self, z: torch.Tensor) -> torch.Tensor:
        return z.tanh()


@dataclass(frozen=True)
class ReLU(Activation):
    kind = "relu"

    def f(self, z: Array) -> Array:
        return np.maximum(z, 0)

    def df(self, z: Array, a: Array) -> Array:
        return (z > 0).astype(z.dtype)  # 0 at z = 0, as torch

    def torch_f(self, z: torch.Tensor) -> torch.Tensor:
        return z.relu()

    def kink_points(self) -> tuple[float, ...]:
        return (0.0,)

    @property
    def convention(self) -> str:
        return "; torch takes relu'(0) = 0"


@dataclass(frozen=True)
class LeakyReLU(Activation):
    kind = "leaky_relu"
    negative_slope: float = 0.01

    def f(self, z: Array) -> Array:
        return np.where(z > 0, z, z * self.negative_slope)

    def df(self, z: Array, a: Array) -> Array:
        return np.where(z > 0, 1, self.negative_slope).astype(z.dtype)  # the slope at 0, as torch

    def torch_f(self, z: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.leaky_relu(z, self.negative_slope)

    def kink_points(self) -> tuple[float, ...]:
        return () if self.negative_slope == 1 else (0.0,)

    @property
    def convention(self) -> str:
        return f"; torch takes the slope {self.negative_slope:g} (negative_slope) at 0"


@dataclass(frozen=True)
class ELU(Activation):
    kind = "elu"
    alpha: float = 1.0

    def f(self, z: Array) -> Array:
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def df(self, z: Array, a: Array) -> Array:
        slope = self.alpha * np.exp(np.minimum(z, 0))
        return np.where(z > 0, 1, slope).astype(z.dtype)  # alpha at 0, as torch

    def torch_f(self, z: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.elu(z, self.alpha)

    def kink_points(self) -> tuple[float, ...]:
        return () if self.alpha == 1 else (0.0,)  # f' is 1 on the right, alpha on the left

    @property
    def convention(self) -> str:
        return f"; torch takes the slope {self.alpha:g} (alpha) at 0"


@dataclass(frozen=True)
class Softplus(Activation):
    """log(1 + exp(beta·z)) / beta, and z itself where beta·z > threshold."""

    kind = "softplus"
    beta: float = 1.0
    threshold: float = 20.0

    def f(self, z: Array) -> Array:
        bz = z * self.beta  # exp is clipped where unused, so it never overflows
        soft = np.log1p(np.exp(np.minimum(bz, self.threshold))) / self.beta
        return np.where(bz > self.threshold, z, soft)

    def df(self, z: Array, a: Array) -> Array:
        bz = z * self.beta
        return np.where(bz > self.threshold, 1, expit(np.minimum(bz, self.threshold))).astype(
            z.dtype
        )

    def torch_f(self, z: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.softplus(z, self.beta, self.threshold)

    def kink_points(self) -> tuple[float, ...]:
        return (self.threshold / self.beta,)  # σ(threshold) on the left, 1 on the right

    @property
    def convention(self) -> str:
        return "; torch takes σ(threshold) there"


@dataclass(frozen=True)
class GELU(Activation):
    """z·Φ(z), Φ the standard normal CDF; or its tanh approximation."""

    kind = "gelu"
    approximate: Literal["none", "tanh"] = "none"

    def f(self, z: Array) -> Array:
        if self.approximate == "tanh":
            return 0.5 * z * (1 + np.tanh(gelu_inner(z)))  # ½z(1 + tanh(√(2/π)(z + κz³)))
        return 0.5 * z * (1 + erf(z / SQRT_2))

    def df(self, z: Array, a: Array) -> Array:
        if self.approximate == "tanh":
            t = np.tanh(gelu_inner(z))
            dinner = SQRT_2_OVER_PI * (1 + 3 * GELU_KAPPA * z * z)
            return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * dinner
        return 0.5 * (1 + erf(z / SQRT_2)) + z * np.exp(-0.5 * z * z) * INV_SQRT_2PI

    def torch_f(self, z: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.gelu(z, approximate=self.approximate)


def gelu_inner(z: Array) -> Array:
    return SQRT_2_OVER_PI * (z + GELU_KAPPA * z * z * z)


@dataclass(frozen=True)
class SiLU(Activation):
    """z·σ(z)."""

    kind = "silu"

    def f(self, z: Array) -> Array:
        return z * expit(z)

    def df(self, z: Array, a: Array) -> Array:
        s = expit(z)
        return s * (1 + z * (1 - s))

    def torch_f(self, z: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.silu(z)


@dataclass(frozen=True)
class Mish(Activation):
    """z·tanh(softplus(z))."""

    kind = "mish"

    def f(self, z: Array) -> Array:
        return z * np.tanh(np.logaddexp(0, z))  # softplus without overflow

    def df(self, z: Array, a: Array) -> Array:
        t = np.tanh(np.logaddexp(0, z))
        return t + z * (1 - t * t) * expit(z)  # d softplus/dz = σ(z)

    def torch_f(self, z: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.mish(z)
