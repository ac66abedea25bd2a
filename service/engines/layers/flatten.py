"""`flatten`: axes start_dim … end_dim of the batched input merged into one, like
`torch.nn.Flatten`. A reshape: the gradient is dL/d(output) reshaped back.

The dims count on the batched tensor, as nn.Flatten counts them (the default start_dim 1 is the
first axis after the batch), negative ones from the end. The engines always hold a batch axis,
and it is never flattened: a start_dim that lands on it is an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.engines.layers.base import Array, Layer, Shape, ShapeError, shape_text

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Flatten(Layer):
    kind = "flatten"
    start_dim: int = 1
    end_dim: int = -1

    def axes(self, rank: int) -> tuple[int, int]:
        """(start, end) as axes of a batched tensor of `rank` axes, batch axis 0 included."""
        return self.start_dim % rank, self.end_dim % rank

    def output_shape(self, shape: Shape) -> Shape:
        batched = f"[batch, {shape_text(shape)[1:]}" if shape else "[batch]"
        rank = len(shape) + 1
        for field, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -rank <= dim < rank:
                raise ShapeError(
                    f"{self.kind}'s {field} {dim} is not an axis of its input {batched}: "
                    f"expected one in [{-rank}, {rank - 1}]",
                    field,
                )
        start, end = self.axes(rank)
        if start == 0:
            raise ShapeError(
                f"{self.kind}'s start_dim {self.start_dim} is the batch axis of its input "
                f"{batched}: the batch axis is never flattened, start_dim must be 1 or more "
                f"(or from {-rank + 1} to -1)",
                "start_dim",
            )
        if end < start:
            raise ShapeError(
                f"{self.kind}'s end_dim {self.end_dim} comes before its start_dim "
                f"{self.start_dim} on its input {batched}: start_dim cannot come after end_dim",
                "end_dim",
            )
        merged = math.prod(shape[start - 1 : end])  # one sample's axes are the batch's, less 1
        return (*shape[: start - 1], merged, *shape[end:])

    def cost(self, shape: Shape) -> int:
        """A reshape: no arithmetic."""
        return 0

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, Shape]:
        start, end = self.axes(x.ndim)
        return x.reshape(*x.shape[:start], -1, *x.shape[end + 1 :]), x.shape

    def backward(self, grad: Array, cache: Shape) -> tuple[Array, dict[str, Array]]:
        return grad.reshape(cache), {}
