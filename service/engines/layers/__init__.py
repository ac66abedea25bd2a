"""Every layer kind, by the contract's `type`: the one place the engines learn what layers exist.

A kind is one class (see `base.Layer`); to add one, write its module and list it here.
"""

from service.engines.layers.activations import (
    ELU,
    GELU,
    Activation,
    Identity,
    LeakyReLU,
    Mish,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Tanh,
)
from service.engines.layers.base import Kinks, Layer, Param, Shape, ShapeError
from service.engines.layers.conv import Conv2d
from service.engines.layers.dropout import Dropout
from service.engines.layers.flatten import Flatten
from service.engines.layers.linear import Linear
from service.engines.layers.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from service.engines.layers.pooling import AvgPool2d, MaxPool2d
from service.engines.layers.residual import Residual
from service.engines.layers.softmax import LogSoftmax, Softmax

KINDS: dict[str, type[Layer]] = {
    kind.kind: kind
    for kind in (
        Linear,
        Identity,
        Sigmoid,
        Tanh,
        ReLU,
        LeakyReLU,
        ELU,
        Softplus,
        GELU,
        SiLU,
        Mish,
        Conv2d,
        MaxPool2d,
        AvgPool2d,
        Flatten,
        BatchNorm1d,
        BatchNorm2d,
        LayerNorm,
        Dropout,
        Softmax,
        LogSoftmax,
        Residual,
    )
}

__all__ = [
    "ELU",
    "GELU",
    "KINDS",
    "Activation",
    "Identity",
    "Kinks",
    "Layer",
    "LeakyReLU",
    "Param",
    "ReLU",
    "Shape",
    "ShapeError",
    "SiLU",
    "Sigmoid",
    "Softplus",
    "Tanh",
]
