"""`dropout` in train mode, like `torch.nn.Dropout`: each entry kept with probability 1 − p and
scaled by 1/(1 − p), or zeroed.

The mask is not drawn here: it is an input of the forward pass (`draws`), drawn once per pass
with torch's own generator exactly as `F.dropout` draws it after `torch.manual_seed(seed)`
(`empty_like(x).bernoulli_(1 − p)`; p = 0 and p = 1 draw nothing), so both engines use the same
mask and anyone can reproduce it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from service.engines.layers.base import Array, Layer, Shape

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Dropout(Layer):
    kind = "dropout"
    draws = ("mask",)
    p: float = 0.5

    def output_shape(self, shape: Shape) -> Shape:
        return shape

    def draw(
        self, generator: torch.Generator, shape: tuple[int, ...], dtype: str
    ) -> dict[str, Array]:
        import torch

        if self.p in (0, 1):  # torch returns x, or x·0, without drawing
            return {"mask": np.full(shape, float(self.p == 0), dtype=dtype)}
        types = {"float64": torch.float64, "float32": torch.float32}
        mask = torch.empty(shape, dtype=types[dtype])
        return {"mask": mask.bernoulli_(1 - self.p, generator=generator).numpy()}

    def scale(self, mask: Any) -> Any:
        """mask / (1 − p), a NumPy array or a tensor: the noise torch multiplies by (zero where
        p = 1)."""
        return mask if self.p == 1 else mask / (1 - self.p)

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return x * self.scale(params["mask"])

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, Array]:
        mask = params["mask"]
        noise = self.scale(mask)
        return x * noise, mask  # out = x · m / (1 − p)

    def backward(self, grad: Array, cache: Array) -> tuple[Array, dict[str, Array]]:
        return grad * self.scale(cache), {}  # dL/dx = dL/dout · m / (1 − p)

    def trace(self, cache: Array) -> dict[str, Array]:
        return {"mask": cache}
