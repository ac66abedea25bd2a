"""The layers a network may hold: torch.nn's names, defaults and options, one model per kind.

Each model's fields are the engine-side layer kind's (`service.engines.layers`), with the same
names and defaults, so one generic rule (`service.domain.network.specs`) turns a validated
network into what the engines take. Adding a kind: its engine module, then its model here,
in `LayerModel`.
This module needs pydantic only (the client imports it).
"""

from typing import Annotated, Literal

from pydantic import Field

from service.schemas.constraints import (
    Axis,
    Count,
    CountPair,
    Finite,
    NaturalPair,
    PositiveFinite,
    Sizes,
    Strict,
)

# --- the seed's kinds: linear and elementwise activations ---------------------------------------


class Linear(Strict):
    """y = x Wᵀ + b on the last axis, W of shape (out_features, in_features): `nn.Linear`."""

    type: Literal["linear"]
    in_features: Count
    out_features: Count
    bias: bool = True


class Identity(Strict):
    type: Literal["identity"]


class Sigmoid(Strict):
    type: Literal["sigmoid"]


class Tanh(Strict):
    type: Literal["tanh"]


class ReLU(Strict):
    type: Literal["relu"]


class LeakyReLU(Strict):
    type: Literal["leaky_relu"]
    negative_slope: Finite = 0.01


class ELU(Strict):
    type: Literal["elu"]
    alpha: Finite = 1.0


class Softplus(Strict):
    """log(1 + exp(beta·x)) / beta, and x itself where beta·x > threshold."""

    type: Literal["softplus"]
    beta: PositiveFinite = 1.0
    threshold: Finite = 20.0


class GELU(Strict):
    type: Literal["gelu"]
    approximate: Literal["none", "tanh"] = "none"


class SiLU(Strict):
    type: Literal["silu"]


class Mish(Strict):
    type: Literal["mish"]


# --- images: convolution, pooling, flatten ------------------------------------------------------


class Conv2d(Strict):
    """`nn.Conv2d`: one sample is [in_channels, H, W]; weight [out, in, kh, kw], bias [out].
    Each size is an int or a pair [height, width]."""

    type: Literal["conv2d"]
    in_channels: Count
    out_channels: Count
    kernel_size: CountPair
    stride: CountPair = (1, 1)
    padding: NaturalPair = (0, 0)
    dilation: CountPair = (1, 1)
    bias: bool = True


class MaxPool2d(Strict):
    """`nn.MaxPool2d`: the largest entry of each window; stride defaults to kernel_size."""

    type: Literal["max_pool2d"]
    kernel_size: CountPair
    stride: CountPair | None = None
    padding: NaturalPair = (0, 0)


class AvgPool2d(Strict):
    """`nn.AvgPool2d`: the mean of each window; stride defaults to kernel_size."""

    type: Literal["avg_pool2d"]
    kernel_size: CountPair
    stride: CountPair | None = None
    padding: NaturalPair = (0, 0)
    count_include_pad: bool = True


class Flatten(Strict):
    """`nn.Flatten`: axes start_dim to end_dim become one; dims count the batch axis as 0."""

    type: Literal["flatten"]
    start_dim: Axis = 1
    end_dim: Axis = -1


# --- normalisation, dropout, softmax ------------------------------------------------------------


class BatchNorm1d(Strict):
    """`nn.BatchNorm1d` in train mode (batch statistics): one sample is [C] or [C, L]."""

    type: Literal["batch_norm1d"]
    num_features: Count
    eps: PositiveFinite = 1e-5
    affine: bool = True


class BatchNorm2d(Strict):
    """`nn.BatchNorm2d` in train mode (batch statistics): one sample is [C, H, W]."""

    type: Literal["batch_norm2d"]
    num_features: Count
    eps: PositiveFinite = 1e-5
    affine: bool = True


class LayerNorm(Strict):
    """`nn.LayerNorm`: each sample normalised over its last axes, normalized_shape."""

    type: Literal["layer_norm"]
    normalized_shape: Sizes
    eps: PositiveFinite = 1e-5
    elementwise_affine: bool = True


class Dropout(Strict):
    """`nn.Dropout` in train mode, with the masks torch draws after `manual_seed(dropout_seed)`."""

    type: Literal["dropout"]
    p: Annotated[Finite, Field(ge=0, le=1)] = 0.5


class Softmax(Strict):
    type: Literal["softmax"]
    dim: Axis = -1


class LogSoftmax(Strict):
    type: Literal["log_softmax"]
    dim: Axis = -1


# --- blocks -------------------------------------------------------------------------------------


class Residual(Strict):
    """x + f(x), f the inner layers run in order (an `nn.Sequential` subclass); its parameters
    are keyed `i.j.weight` for inner layer j of block i."""

    type: Literal["residual"]
    layers: list["LayerModel"] = Field(min_length=1)


LayerModel = Annotated[
    Linear
    | Identity
    | Sigmoid
    | Tanh
    | ReLU
    | LeakyReLU
    | ELU
    | Softplus
    | GELU
    | SiLU
    | Mish
    | Conv2d
    | MaxPool2d
    | AvgPool2d
    | Flatten
    | BatchNorm1d
    | BatchNorm2d
    | LayerNorm
    | Dropout
    | Softmax
    | LogSoftmax
    | Residual,
    Field(discriminator="type"),
]
Residual.model_rebuild()
