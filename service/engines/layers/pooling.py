"""`max_pool2d` and `avg_pool2d`: each window of a batch [N, C, H, W] down to one number, channel
by channel, like `torch.nn.MaxPool2d` and `torch.nn.AvgPool2d` (floor mode, no dilation).

Both loop over the kh × kw kernel offsets, each one a strided slice holding that entry of every
window (see `windows`). max_pool2d's gradient goes, in each window, to the one entry that was
the maximum: the first in row-major order when several tie, as torch's scan keeps the first.
avg_pool2d's is shared evenly by the window's entries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from service.engines.layers.base import Array, Kinks, Layer, Shape, ShapeError
from service.engines.layers.windows import (
    Index,
    Pair,
    check_rank,
    pad,
    positions,
    unpad,
    window_entries,
)

if TYPE_CHECKING:
    import torch

NO_DILATION = (1, 1)


@dataclass(frozen=True)
class Pool2d(Layer):
    """What both pools share: the window's size, step and padding, and the shapes they give.
    One sample is [C, H, W], its output [C, oh, ow]."""

    kernel_size: Pair
    stride: Pair | None = None
    padding: Pair = (0, 0)

    def sample_ndim(self) -> int | None:
        return 3  # [C, H, W]

    @property
    def step(self) -> Pair:
        """The stride; None means the kernel's size: windows side by side."""
        return self.kernel_size if self.stride is None else self.stride

    def output_shape(self, shape: Shape) -> Shape:
        check_rank(self.kind, shape, "[C, H, W]", "kernel_size")
        for p, k in zip(self.padding, self.kernel_size, strict=True):  # height first, as torch
            if p > k // 2:
                raise ShapeError(
                    f"{self.kind}'s padding {self.padding} is too large for its kernel_size "
                    f"{self.kernel_size}: pad should be at most half of effective kernel size, "
                    f"but got pad={p}, kernel_size={k} and dilation=1",
                    "padding",
                )
        return (shape[0], *self.output_size(shape))

    def output_size(self, shape: Shape) -> Pair:
        """(oh, ow): the window positions on one sample [C, H, W]."""
        return positions(self.kind, shape, self.kernel_size, self.step, self.padding, NO_DILATION)

    def cost(self, shape: Shape) -> int:
        """One read per window entry."""
        return math.prod(self.output_shape(shape)) * math.prod(self.kernel_size)

    def entries(self, output: Pair) -> list[Index]:
        return window_entries(self.kernel_size, self.step, NO_DILATION, output)


@dataclass(frozen=True)
class MaxPoolCache:
    padded_shape: tuple[int, ...]  # xp's [N, C, Hp, Wp]
    first: Array  # [kh·kw, N, C, oh, ow]: True where entry k is the window's (first) maximum
    entries: list[Index]  # where entry k of every window sits in xp


@dataclass(frozen=True)
class MaxPool2d(Pool2d):
    kind = "max_pool2d"

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        import torch.nn.functional as F

        return F.max_pool2d(x, self.kernel_size, self.step, self.padding)

    def padded(self, x: Array) -> Array:
        return pad(x, self.padding, -math.inf)  # padding never wins

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, MaxPoolCache]:
        xp = self.padded(x)
        entries = self.entries(self.output_size(x.shape[1:]))
        out = xp[entries[0]].copy()  # each window's maximum, one kernel offset at a time
        for at in entries[1:]:
            np.maximum(out, xp[at], out=out)
        first = np.empty((len(entries), *out.shape), dtype=bool)
        found = np.zeros(out.shape, dtype=bool)  # windows whose maximum is already taken
        for k, at in enumerate(entries):  # torch's scan: the first entry equal to the max wins
            first[k] = (xp[at] == out) & ~found
            found |= first[k]
        return out, MaxPoolCache(xp.shape, first, entries)

    def backward(self, grad: Array, cache: MaxPoolCache) -> tuple[Array, dict[str, Array]]:
        dxp = np.zeros(cache.padded_shape, dtype=grad.dtype)
        routed = np.empty_like(grad)
        for k, at in enumerate(cache.entries):
            np.multiply(grad, cache.first[k], out=routed)  # dL/dout to the window's max alone
            dxp[at] += routed
        return unpad(dxp, self.padding), {}

    def kinks(self, x: Array, cache: MaxPoolCache) -> Kinks:
        """How far each input entry is from a tie that changes which entry is a window's
        maximum: for the maximum, its lead over the runner-up; for another entry, how far it is
        below the maximum. The nearest over the windows that hold the entry; inf in none."""
        xp = self.padded(x.astype(np.float64))
        windows = np.stack([xp[at] for at in cache.entries])  # [kh·kw, N, C, oh, ow]
        top = windows.max(axis=0)
        runner_up = np.partition(windows, -2, axis=0)[-2] if len(windows) > 1 else -math.inf
        gap = np.where(cache.first, top - runner_up, top - windows)
        distance = np.full(cache.padded_shape, math.inf)
        for k, at in enumerate(cache.entries):
            distance[at] = np.minimum(distance[at], gap[k])
        why = (
            f"{self.kind} is not differentiable where a window's maximum is tied; torch sends "
            "the gradient to the first maximum in the window's row-major order"
        )
        return Kinks(unpad(distance, self.padding), cache.first, why)

    def trace(self, cache: MaxPoolCache) -> dict[str, Array]:
        """Where each window's maximum is, as torch's `return_indices` gives it: a flat index
        into the sample's H × W."""
        k = np.argmax(cache.first, axis=0)  # the window's one True
        i, j = np.divmod(k, self.kernel_size[1])
        (oh, ow), (sh, sw), (ph, pw) = k.shape[-2:], self.step, self.padding
        rows = np.arange(oh)[:, None] * sh - ph + i
        cols = np.arange(ow) * sw - pw + j
        return {"indices": rows * (cache.padded_shape[3] - 2 * pw) + cols}


@dataclass(frozen=True)
class AvgPoolCache:
    padded_shape: tuple[int, ...]  # xp's [N, C, Hp, Wp]
    divisor: float | Array  # what each window's sum was divided by
    entries: list[Index]  # where entry k of every window sits in xp


@dataclass(frozen=True)
class AvgPool2d(Pool2d):
    """The window's sum over kh·kw (padding counted, as zeros), or with count_include_pad false
    over the entries that are not padding."""

    kind = "avg_pool2d"
    count_include_pad: bool = True

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        import torch.nn.functional as F

        return F.avg_pool2d(
            x, self.kernel_size, self.step, self.padding, count_include_pad=self.count_include_pad
        )

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, AvgPoolCache]:
        n, c, height, width = x.shape
        oh, ow = self.output_size(x.shape[1:])
        xp = pad(x, self.padding)
        entries = self.entries((oh, ow))
        total = np.zeros((n, c, oh, ow), dtype=x.dtype)
        for at in entries:
            total += xp[at]
        divisor = self.divisor(height, width, (oh, ow), x.dtype)
        return total / divisor, AvgPoolCache(xp.shape, divisor, entries)

    def backward(self, grad: Array, cache: AvgPoolCache) -> tuple[Array, dict[str, Array]]:
        share = grad / cache.divisor  # each entry of a window gets dL/dout / divisor
        dxp = np.zeros(cache.padded_shape, dtype=grad.dtype)
        for at in cache.entries:
            dxp[at] += share
        return unpad(dxp, self.padding), {}

    def divisor(self, height: int, width: int, output: Pair, dtype: np.dtype) -> float | Array:
        """kh·kw; or, not counting padding, the real entries of each window, [oh, ow]."""
        if self.count_include_pad:
            return float(math.prod(self.kernel_size))
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.kernel_size, self.step, self.padding, output
        rows = real_entries(height, kh, sh, ph, oh)
        cols = real_entries(width, kw, sw, pw, ow)
        return np.outer(rows, cols).astype(dtype)


def real_entries(size: int, kernel: int, stride: int, padding: int, count: int) -> Array:
    """Along one axis, how many of each window's entries fall inside the input, not padding."""
    start = np.arange(count) * stride - padding
    return np.minimum(start + kernel, size) - np.maximum(start, 0)
