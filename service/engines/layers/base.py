"""What a layer kind is: one class that holds everything the engines need to know about it.

A layer kind is a frozen dataclass whose fields are its options, with torch.nn's names and
defaults (`Linear(in_features=2, out_features=10)`). Side by side, it declares:

- `parameters()`: its trainable parameters' local names and shapes, in `state_dict` order
  (`weight`, then `bias`); `buffers()`: the non-trainable entries a `state_dict` also holds;
- `output_shape(shape)`: one sample's output shape from one sample's input shape, or a
  `ShapeError` that says why the input does not fit; `check_batch` for what needs the batch;
- `cost(shape)`: the multiply-adds of one sample's forward pass, for the size limits;
- `init(generator)`: torch's default initialisation, drawn from `generator` as the module's
  constructor draws from the global RNG;
- `torch_forward(x, params)`: the forward pass in torch, which autograd differentiates;
- `forward(x, params)` and `backward(grad, cache)`: the forward pass in NumPy and, next to it,
  its derivative by hand: dL/d(input) and dL/d(each parameter) from dL/d(output);
- `kinks(x, cache)`: where the derivative is not defined, if anywhere.

Arrays always carry the batch as their first axis; shapes given to `output_shape` and `cost`
do not. torch is imported inside the torch side only (`torch_forward`, `init`), so the manual
engine, which shares these classes, never loads it (a test pins that).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import torch

Array = np.ndarray
Shape = tuple[int, ...]  # one sample's shape, without the batch axis
Cache = Any  # whatever a layer's forward keeps for its backward


class ShapeError(ValueError):
    """The input does not fit the layer; the message says what was expected. `field` names the
    layer's option at fault (`in_features`, `kernel_size`, …), when one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Param(NamedTuple):  # a tuple: a network's table of them is built for every request
    name: str  # local to the layer: "weight", "bias"; "3.weight" once placed in a network
    shape: Shape

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Kinks:
    """Where a layer's (or a loss's) derivative is not defined, entry by entry of its input."""

    distance: Array  # the input's shape: how far each entry is from the nearest kink (inf: none)
    side: Array  # which side of its kinks each entry is on: a change between two inputs crosses one
    why: str  # e.g. "relu is not differentiable at 0; torch takes relu'(0) = 0"


def shape_text(shape: Shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


@dataclass(frozen=True)
class Layer(ABC):
    """One layer kind; subclasses are frozen dataclasses whose fields are the layer's options."""

    kind: ClassVar[str]  # the contract's `type`: "linear", "conv2d", …
    elementwise: ClassVar[bool] = False  # output[i] depends on input[i] alone, same shape
    mixes_batch: ClassVar[bool] = False  # one sample's output depends on the others' (batch norm)
    draws: ClassVar[tuple[str, ...]] = ()  # random inputs it takes with its parameters ("mask")

    def children(self) -> tuple[Layer, ...]:
        """The layers a block holds (a residual block's f); none for other kinds."""
        return ()

    def sample_ndim(self) -> int | None:
        """How many axes one sample has, where this kind fixes it (3 for conv2d's [C, H, W]);
        None where any will do. Tells one sample from a batch when the layer comes first."""
        return None

    def parameters(self) -> list[Param]:
        """Trainable parameters, in `state_dict` order."""
        return []

    def buffers(self) -> list[Param]:
        """Entries of a `state_dict` that are not trained (they get no gradient)."""
        return []

    @abstractmethod
    def output_shape(self, shape: Shape) -> Shape:
        """One sample's output shape; a ShapeError if `shape` does not fit."""

    def check_batch(self, batch: int, shape: Shape) -> None:  # noqa: B027 (most layers take any)
        """A ShapeError if the layer cannot take `batch` samples of `shape` (batch norm)."""

    def cost(self, shape: Shape) -> int:
        """Multiply-adds of one sample's forward pass (an elementwise operation counts one)."""
        return math.prod(self.output_shape(shape))

    def init(self, generator: torch.Generator) -> dict[str, Array]:
        """torch's default initial parameters, float32, drawn from `generator` in the order the
        module's constructor draws from the global RNG."""
        return {}

    def draw(
        self, generator: torch.Generator, shape: tuple[int, ...], dtype: str
    ) -> dict[str, Array]:
        """The random inputs of one forward pass over a batch of `shape` (batch axis included),
        drawn as torch draws them in train mode: dropout's mask."""
        return {}

    @abstractmethod
    def torch_forward(self, x: torch.Tensor, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The forward pass in torch (autograd's reference)."""

    @abstractmethod
    def forward(self, x: Array, params: Mapping[str, Array]) -> tuple[Array, Cache]:
        """The forward pass in NumPy: the output, and what backward needs."""

    @abstractmethod
    def backward(self, grad: Array, cache: Cache) -> tuple[Array, dict[str, Array]]:
        """From dL/d(output): dL/d(input), and dL/d(parameter) by local name."""

    def kinks(self, x: Array, cache: Cache) -> Kinks | None:
        """Where the derivative at input `x` is not defined; None for a smooth layer."""
        return None

    def trace(self, cache: Cache) -> dict[str, Array]:
        """Intermediate values worth showing beside input and output (batch norm's mean, …)."""
        return {}
