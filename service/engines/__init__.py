"""The engines' one interface: a `Problem` in, an `EngineResult` out.

An engine is a function `run(problem) -> EngineResult`. It knows nothing of HTTP or JSON; it gets
NumPy arrays already checked for shape and finiteness, and returns NumPy arrays in the same dtype.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from service.models import Activation, Linear

LossName = Literal["sse", "mse"]
LayerSpec = Linear | Activation


@dataclass(frozen=True)
class Problem:
    """A network with its weights, a batch of inputs and targets, a loss, in one dtype."""

    layers: tuple[LayerSpec, ...]
    weights: Mapping[str, np.ndarray]  # state_dict names → arrays, in `x.dtype`
    x: np.ndarray  # (batch, in_features)
    y: np.ndarray  # (batch, out_features), the prediction's shape
    loss: LossName

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype


@dataclass(frozen=True)
class EngineResult:
    loss: np.floating  # in the problem's dtype
    prediction: np.ndarray  # (batch, out_features)
    gradients: dict[str, np.ndarray]  # same names and shapes as `Problem.weights`
    input_gradient: np.ndarray  # dL/dx, (batch, in_features)
    elapsed_ms: float


Engine = Callable[[Problem], EngineResult]
