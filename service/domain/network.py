"""The network a request describes, walked once: its layers counted and bounded, one sample of x
told from a batch, every layer's output shape, the cost of a pass — and, where a layer does not
fit what it gets, an error that names the layer, its option and both shapes.

Locations point into the request: layer 3 of the network is `["body", "network", "layers", 3]`,
layer 0 inside residual block 1 is `["body", "network", "layers", 1, "layers", 0]`.
"""

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel

from service.core.config import Settings
from service.core.exceptions import ErrorItem, InvalidRequest, LimitExceeded, Loc
from service.engines.layers import KINDS, Layer, Param, sequence
from service.engines.layers.base import Shape, shape_text

LAYERS: Loc = ("body", "network", "layers")
# The options that say what input a layer takes: a first layer's mismatch is x's fault.
INPUT_OPTIONS = {"in_features", "in_channels", "num_features", "normalized_shape", None}
# The options that size a layer's arrays; each is bounded by GRADIENT_SERVICE_MAX_WIDTH.
WIDTHS = ("in_features", "out_features", "in_channels", "out_channels", "num_features")


def spec(model: BaseModel) -> Layer:
    """The engine-side layer for a validated layer model (`service.schemas.layers`): the same
    kind, the same options; a block's layers in turn."""
    options = {}
    for name, value in model.__dict__.items():  # its fields (extras are forbidden)
        if name != "type":
            options[name] = specs(value) if name == "layers" else value
    return KINDS[model.type](**options)  # type: ignore[attr-defined]


def specs(models: Sequence[BaseModel]) -> tuple[Layer, ...]:
    return tuple(spec(model) for model in models)


def layer_loc(path: tuple[int, ...], option: str | None = None) -> Loc:
    """Where layer `path` (its index, then indices inside blocks) is in the request."""
    loc: list[str | int] = [*LAYERS]
    for depth, index in enumerate(path):
        loc += ["layers", index] if depth else [index]
    return (*loc, option) if option else tuple(loc)


def walk_layers(
    layers: tuple[Layer, ...], path: tuple[int, ...] = ()
) -> Iterator[tuple[tuple[int, ...], Layer]]:
    """Every layer with its path, blocks' layers after their block, depth first."""
    for index, layer in enumerate(layers):
        yield (*path, index), layer
        yield from walk_layers(layer.children(), (*path, index))


@dataclass(frozen=True)
class Inventory:
    """What a network holds, whatever the request: its layers (blocks' too), their widths, their
    parameters. Layer specs are frozen and hashable, so a network seen before is not walked
    again (`inventory`): clients send the same network request after request."""

    layers: int  # blocks' layers included
    widths: tuple[tuple[tuple[int, ...], str, int], ...]  # (path, option, width)
    parameters: tuple[Param, ...]  # in state_dict order
    parameter_count: int
    draws: bool  # a layer draws random numbers (dropout)


@lru_cache(maxsize=256)
def inventory(layers: tuple[Layer, ...]) -> Inventory:
    found = list(walk_layers(layers))
    widths = tuple(
        (path, option, width)
        for path, layer in found
        for option, width in vars(layer).items()
        if option in WIDTHS and isinstance(width, int)
    )
    parameters = tuple(sequence.parameters(layers))
    draws = any(layer.draws for _, layer in found)
    return Inventory(len(found), widths, parameters, sum(p.size for p in parameters), draws)


def check_layers(layers: tuple[Layer, ...], settings: Settings) -> list[Param]:
    """What can be checked before x is known: how many layers, how wide, how many parameters.
    Returns the parameter table, in `state_dict` order."""
    held = inventory(layers)
    if held.layers > settings.max_layers:
        what = "the number of layers (those inside blocks included)"
        raise LimitExceeded(LAYERS, "max_layers", settings.max_layers, held.layers, what)
    for path, option, width in held.widths:
        if width > settings.max_width:
            where = f"layer {'.'.join(map(str, path))}'s {option}"
            loc = layer_loc(path, option)
            raise LimitExceeded(loc, "max_width", settings.max_width, width, where)
    if held.parameter_count > settings.max_parameters:
        what = "the number of parameters"
        raise LimitExceeded(
            ("body", "network"),
            "max_parameters",
            settings.max_parameters,
            held.parameter_count,
            what,
        )
    return list(held.parameters)


def first_fixing(layers: tuple[Layer, ...]) -> Layer | None:
    """The first layer that fixes how many axes one sample has, or needs a batch."""
    for _, layer in walk_layers(layers):
        if layer.sample_ndim() is not None or layer.mixes_batch:
            return layer
    return None


def sample_ndim(layers: tuple[Layer, ...], x_ndim: int) -> int:
    """How many of x's axes are one sample's: all of them (one sample) or all but the first (a
    batch). The first layer that fixes a sample's axes decides; a layer that needs a batch
    (batch norm) makes every x a batch; with neither, a 1-D x is one sample."""
    layer = first_fixing(layers)
    if layer is None:
        return 1 if x_ndim == 1 else x_ndim - 1
    ndim = layer.sample_ndim()
    if layer.mixes_batch:
        if x_ndim < 2 or x_ndim == ndim:
            msg = (
                f"x is one sample, but {layer.kind} in train mode needs a batch of them: "
                "send a list of samples"
            )
            raise InvalidRequest([ErrorItem(("body", "x"), msg, "wrong_shape")])
        return x_ndim - 1
    assert ndim is not None
    if x_ndim not in (ndim, ndim + 1):
        msg = (
            f"the network's first {layer.kind} layer takes samples of {ndim} axes: x is one "
            f"sample ({ndim} axes) or a batch of them ({ndim + 1}); this x has {x_ndim}"
        )
        raise InvalidRequest([ErrorItem(("body", "x"), msg, "wrong_shape")])
    return ndim


@dataclass(frozen=True)
class Shapes:
    """One sample's shape through the network."""

    sample: Shape  # of x
    outputs: tuple[Shape, ...]  # of each top-level layer's output
    cost: int  # multiply-adds of one sample's forward pass
    values: int  # numbers one sample's forward pass holds: x and every layer's output

    @property
    def prediction(self) -> Shape:
        return self.outputs[-1]


def values_held(layers: tuple[Layer, ...], shape: Shape) -> int:
    """Numbers held by a forward pass of one sample: every output, blocks' inner ones too."""
    total = 0
    for layer in layers:
        if layer.children():
            total += values_held(layer.children(), shape)
        shape = layer.output_shape(shape)
        total += math.prod(shape)
    return total


@lru_cache(maxsize=256)
def walk(layers: tuple[Layer, ...], sample: Shape, batch: int) -> Shapes:
    """Each layer's output shape for `batch` samples of `sample`; a 422 naming the first layer
    that does not fit. When that layer sees x itself (every layer before it keeps x's shape),
    x is named: the network is fine, the input is not. Kept for the networks and shapes seen
    last (an error is not kept: it is raised again)."""
    try:
        outputs = sequence.output_shapes(layers, sample, batch)
    except sequence.LayerShapeError as error:
        index = error.path[0]
        before = sequence.output_shapes(layers[:index], sample, batch) if index else []
        passed_on = all(shape == sample for shape in before) and not any(
            layer.parameters() for layer in layers[:index]
        )  # x reaches the layer as it is, through activations, dropout and the like
        sees_x = passed_on and error.field in INPUT_OPTIONS
        kind = walk_at(layers, error.path).kind
        where = ".".join(map(str, error.path))
        if sees_x and len(error.path) == 1:
            msg = f"x does not fit layer {where} ({kind}): {error}"
            item = ErrorItem(("body", "x"), msg, "wrong_shape")
        else:
            given = f", {given_to(layers, error.path)}" if error.field else ""
            msg = f"layer {where} ({kind}): {error}{given}"
            item = ErrorItem(layer_loc(error.path, error.field), msg, "layers_do_not_chain")
        raise InvalidRequest([item]) from None
    cost = sequence.cost(layers, sample)
    held = math.prod(sample) + values_held(layers, sample)
    return Shapes(sample, tuple(outputs), cost, held)


def given_to(layers: tuple[Layer, ...], path: tuple[int, ...]) -> str:
    """What layer `path` takes: the output of the layer before it, or its block's input."""
    *outer, index = path
    if index == 0:
        return "the input of block " + ".".join(map(str, outer)) if outer else "x"
    before = (*outer, index - 1)
    return f"the output of layer {'.'.join(map(str, before))} ({walk_at(layers, before).kind})"


def walk_at(layers: tuple[Layer, ...], path: tuple[int, ...]) -> Layer:
    layer = layers[path[0]]
    for index in path[1:]:
        layer = layer.children()[index]
    return layer


__all__ = ["Shapes", "check_layers", "layer_loc", "sample_ndim", "shape_text", "specs", "walk"]
