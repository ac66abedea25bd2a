"""`conv2d`: a 2-D cross-correlation over a batch [N, C, H, W], like `torch.nn.Conv2d` (zero
padding, groups 1).

    out[n, o, y, x] = b[o] + Σ_{c,i,j} W[o, c, i, j] · xp[n, c, y·sh + i·dh, x·sw + j·dw]

with xp the zero-padded input. Gather each window into a column (im2col) and a sample's
convolution is one matrix product, out_n = W₂ · cols_n, where W₂ is W as [out, in·kh·kw] and
cols_n is [in·kh·kw, oh·ow]. Its derivative is then a linear layer's: dW₂ = Σ_n dout_n · cols_nᵀ
and dcols_n = W₂ᵀ · dout_n, whose entries col2im adds back where each was read from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from service.engines.layers.base import Array, Layer, Param, Shape, ShapeError, shape_text
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


@dataclass(frozen=True)
class ConvCache:
    padded_shape: tuple[int, ...]  # xp's [N, C, Hp, Wp]
    cols: Array  # [N, in·kh·kw, oh·ow]: column p holds window p's entries, in W's (c, i, j) order
    w2: Array  # W as [out, in·kh·kw]
    entries: list[Index]  # where entry (i, j) of every window sits in xp


@dataclass(frozen=True)
class Conv2d(Layer):
    """weight [out_channels, in_channels, kh, kw] and bias [out_channels]; one sample is
    [in_channels, H, W], its output [out_channels, oh, ow]."""

    kind = "conv2d"
    in_channels: int
    out_channels: int
    kernel_size: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    bias: bool = True

    def sample_ndim(self) -> int | None:
        return 3  # [C, H, W]

    def parameters(self) -> list[Param]:
        weight = Param("weight", (self.out_channels, self.in_channels, *self.kernel_size))
        return [weight, Param("bias", (self.out_channels,))] if self.bias else [weight]

    def output_shape(self, shape: Shape) -> Shape:
        expected = f"[{self.in_channels}, H, W] (in_channels {self.in_channels})"
        check_rank(self.kind, shape, expected, "in_channels")
        if shape[0] != self.in_channels:
            raise ShapeError(
                f"{self.kind} takes {expected} but gets {shape_text(shape)}, whose first axis "
                f"(the channels) is {shape[0]}",
                "in_channels",
            )
        return (self.out_channels, *self.output_size(shape))

    def output_size(self, shape: Shape) -> Pair:
        """(oh, ow): the window positions on one sample [C, H, W]."""
        return positions(
            self.kind, shape, self.kernel_size, self.stride, self.padding, self.dilation
        )

    def cost(self, shape: Shape) -> int:
        _, oh, ow = self.output_shape(shape)
        return self.out_channels * oh * ow * self.fan_in

    @property
    def fan_in(self) -> int:
        """Inputs to one output entry: in_channels · kh · kw."""
        return self.in_channels * math.prod(self.kernel_size)

    def init(self, generator: torch.Generator) -> dict[str, Array]:
        import torch  # nn.Conv2d.reset_parameters, in its order

        w = torch.empty(self.out_channels, self.in_channels, *self.kernel_size)
        torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
        if not self.bias:
            return {"weight": w.numpy()}
        bound = 1 / math.sqrt(self.fan_in)
        b = torch.empty(self.out_channels)
        torch.nn.init.uniform_(b, -bound, bound, generator=generator)
        return {"weight": w.numpy(), "bias": b.numpy()}

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        import torch.nn.functional as F

        weight, bias = params["weight"], params.get("bias")
        return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation)

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, ConvCache]:
        n = len(x)
        oh, ow = self.output_size(x.shape[1:])
        xp = pad(x, self.padding)
        entries = window_entries(self.kernel_size, self.stride, self.dilation, (oh, ow))
        cols = np.stack([xp[at] for at in entries], axis=2)  # im2col: [N, C, kh·kw, oh, ow]
        cols = cols.reshape(n, self.fan_in, oh * ow)
        w2 = params["weight"].reshape(self.out_channels, self.fan_in)
        out = np.matmul(w2, cols)  # out_n = W₂ · cols_n
        if self.bias:
            out += params["bias"][:, None]
        cache = ConvCache(xp.shape, cols, w2, entries)
        return out.reshape(n, self.out_channels, oh, ow), cache

    def backward(self, grad: Array, cache: ConvCache) -> tuple[Array, dict[str, Array]]:
        n, _, oh, ow = grad.shape
        g = grad.reshape(n, self.out_channels, oh * ow)  # dL/dout_n, one row per out channel
        dw2 = weight_gradient(g, cache.cols)  # dL/dW₂ = Σ_n dout_n · cols_nᵀ
        gradients = {"weight": dw2.reshape(self.out_channels, self.in_channels, *self.kernel_size)}
        if self.bias:
            gradients["bias"] = grad.sum(axis=(0, 2, 3))  # dL/db = Σ dL/dout
        dcols = np.matmul(cache.w2.T, g)  # dcols_n = W₂ᵀ · dout_n
        dcols = dcols.reshape(n, self.in_channels, len(cache.entries), oh, ow)
        dxp = np.zeros(cache.padded_shape, dtype=grad.dtype)
        for k, at in enumerate(cache.entries):  # col2im: each entry back where it was read
            dxp[at] += dcols[:, :, k]
        return unpad(dxp, self.padding), gradients


def weight_gradient(g: Array, cols: Array) -> Array:
    """Σ_n g_n · cols_nᵀ for g [N, out, oh·ow] and cols [N, in·kh·kw, oh·ow]. With many window
    positions, one product per sample, summed: its [N, out, in·kh·kw] stack is no larger than
    cols. With few, that stack would outgrow cols (and take 50× longer on a 1×1 output): one
    product over the whole batch, from copies of g and cols laid out for it."""
    _, out_channels, per_sample = g.shape  # per_sample: window positions, oh·ow
    if out_channels <= per_sample:
        return np.matmul(g, cols.transpose(0, 2, 1)).sum(axis=0)
    return np.tensordot(g, cols, axes=([0, 2], [0, 2]))
