"""A sequence of layers, as `torch.nn.Sequential` runs it: names, shapes, cost, init, and the
forward and backward passes through it. The network is one; a residual block holds another.

Layer i's parameters are named `i.<local name>` (`"2.weight"`), so a sequence inside layer 1
names its layer j's `1.j.weight`: torch's `state_dict` keys. Random draws (dropout's mask) are
named the same way (`"3.mask"`) and reach a layer with its parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

from service.engines.layers.base import Array, Cache, Layer, Param, Shape, ShapeError

if TYPE_CHECKING:
    import torch

Layers = Sequence[Layer]


class LayerShapeError(ValueError):
    """A layer, named by its path of indices (`(3,)` or `(1, 2)`), does not fit its input."""

    def __init__(self, path: tuple[int, ...], field: str | None, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.field = field


def prefixed(index: int, params: list[Param]) -> list[Param]:
    return [Param(f"{index}.{p.name}", p.shape) for p in params]


def parameters(layers: Layers) -> list[Param]:
    """Every trainable parameter, named and ordered as in `state_dict`."""
    return [p for i, layer in enumerate(layers) for p in prefixed(i, layer.parameters())]


def buffers(layers: Layers) -> list[Param]:
    return [p for i, layer in enumerate(layers) for p in prefixed(i, layer.buffers())]


V = TypeVar("V")  # an array, NumPy's or torch's


def by_layer(count: int, values: Mapping[str, V]) -> list[dict[str, V]]:
    """Each of `count` layers' entries of `values` by their local names (layer 2's `"weight"` is
    `values["2.weight"]`), in one pass over `values`."""
    owned: list[dict[str, V]] = [{} for _ in range(count)]
    for name, index, local in owners(tuple(values)):
        owned[index][local] = values[name]  # every name is a layer's: the problem checked them
    return owned


@lru_cache(maxsize=256)
def owners(names: tuple[str, ...]) -> tuple[tuple[str, int, str], ...]:
    """Each name with its layer's index and its local name: `"2.weight"` → (2, `"weight"`)."""
    found = []
    for name in names:
        index, _, local = name.partition(".")
        found.append((name, int(index), local))
    return tuple(found)


def output_shapes(layers: Layers, shape: Shape, batch: int) -> list[Shape]:
    """Each layer's output shape for one sample of `shape`, checked layer by layer."""
    shapes = []
    for i, layer in enumerate(layers):
        try:
            layer.check_batch(batch, shape)
            shape = layer.output_shape(shape)
        except ShapeError as error:
            raise LayerShapeError((i,), error.field, str(error)) from None
        except LayerShapeError as inner:  # from a sequence inside layer i
            raise LayerShapeError((i, *inner.path), inner.field, str(inner)) from None
        shapes.append(shape)
    return shapes


def cost(layers: Layers, shape: Shape) -> int:
    """Multiply-adds of one sample's forward pass through every layer."""
    total = 0
    for layer in layers:
        total += layer.cost(shape)
        shape = layer.output_shape(shape)
    return total


def init(layers: Layers, generator: torch.Generator) -> dict[str, Array]:
    """The initial parameters `nn.Sequential(...)` gets from its layers' constructors."""
    found: dict[str, Array] = {}
    for i, layer in enumerate(layers):
        found |= {f"{i}.{name}": w for name, w in layer.init(generator).items()}
    return found


def draw(
    layers: Layers, generator: torch.Generator, shape: tuple[int, ...], dtype: str
) -> dict[str, Array]:
    """Every layer's random inputs for a forward pass over a batch of `shape`, in order."""
    found: dict[str, Array] = {}
    for i, layer in enumerate(layers):
        found |= {f"{i}.{name}": v for name, v in layer.draw(generator, shape, dtype).items()}
        shape = (shape[0], *layer.output_shape(shape[1:]))
    return found


def torch_forward(
    layers: Layers, x: torch.Tensor, params: Mapping[str, torch.Tensor]
) -> torch.Tensor:
    for layer, owned in zip(layers, by_layer(len(layers), params), strict=True):
        x = layer.torch_forward(x, owned)
    return x


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 3× as much
class Step:
    """One layer of a forward pass, as backward and the trace need it."""

    index: int
    layer: Layer
    input: Array
    output: Array
    cache: Cache


def forward(layers: Layers, params: Mapping[str, Array], x: Array) -> list[Step]:
    """The forward pass in NumPy; `params` holds parameters and draws by their full names."""
    tape = []
    for i, (layer, owned) in enumerate(zip(layers, by_layer(len(layers), params), strict=True)):
        out, cache = layer.forward(x, owned)
        tape.append(Step(i, layer, x, out, cache))
        x = out
    return tape


def backward(tape: list[Step], grad: Array) -> tuple[dict[str, Array], list[Array]]:
    """From dL/d(last output): every parameter's gradient by full name, and the gradient that
    flows out of each step, dL/d(input of step k) at k, then dL/d(last output) at the end."""
    gradients: dict[str, Array] = {}
    flowing = [grad]
    for step in reversed(tape):
        grad, own_gradients = step.layer.backward(grad, step.cache)
        for name, g in own_gradients.items():
            gradients[f"{step.index}.{name}"] = g
        flowing.append(grad)
    return gradients, flowing[::-1]
