"""`residual`: x + f(x), f a sequence of layers — an `nn.Sequential` subclass whose forward adds
its input back. Block i's inner layer j names its parameters `i.j.weight`, as torch does; blocks
nest, and the path goes on (`1.2.0.weight`).

Backward: the gradient reaches x twice, straight through the addition and through f:
dL/dx = dL/dout + (dL/dout backpropagated through f).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.engines.layers import sequence
from service.engines.layers.base import Array, Layer, Param, Shape, ShapeError, shape_text

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Residual(Layer):
    kind = "residual"
    layers: tuple[Layer, ...]

    def children(self) -> tuple[Layer, ...]:
        return self.layers

    @property
    def mixes_batch(self) -> bool:  # type: ignore[override]
        return any(layer.mixes_batch for layer in self.layers)

    @property
    def draws(self) -> tuple[str, ...]:  # type: ignore[override]
        """The inner layers' random inputs, by their names inside the block ("1.mask")."""
        return tuple(f"{j}.{name}" for j, layer in enumerate(self.layers) for name in layer.draws)

    def sample_ndim(self) -> int | None:
        return next((n for layer in self.layers if (n := layer.sample_ndim()) is not None), None)

    def parameters(self) -> list[Param]:
        return sequence.parameters(self.layers)

    def buffers(self) -> list[Param]:
        return sequence.buffers(self.layers)

    def output_shape(self, shape: Shape) -> Shape:
        inner = sequence.output_shapes(self.layers, shape, batch=2)
        if inner[-1] != shape:
            raise ShapeError(
                f"adds its input {shape_text(shape)} to f's output {shape_text(inner[-1])}: "
                "a residual block's layers must keep the shape of what they get",
                "layers",
            )
        return shape

    def check_batch(self, batch: int, shape: Shape) -> None:
        sequence.output_shapes(self.layers, shape, batch)  # the inner layers' own rules

    def cost(self, shape: Shape) -> int:
        return sequence.cost(self.layers, shape) + math.prod(shape)  # f, then the addition

    def init(self, generator: torch.Generator) -> dict[str, Array]:
        return sequence.init(self.layers, generator)

    def draw(
        self, generator: torch.Generator, shape: tuple[int, ...], dtype: str
    ) -> dict[str, Array]:
        return sequence.draw(self.layers, generator, shape, dtype)

    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return x + sequence.torch_forward(self.layers, x, params)

    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, list[sequence.Step]]:
        tape = sequence.forward(self.layers, params, x)
        return x + tape[-1].output, tape  # out = x + f(x)

    def backward(self, grad: Array, cache: list[sequence.Step]) -> tuple[Array, dict[str, Array]]:
        gradients, flowing = sequence.backward(cache, grad)
        return grad + flowing[0], gradients  # through the addition, and through f
