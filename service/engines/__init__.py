"""The engines' one interface: a `Problem` in, an `EngineResult` out.

An engine is a function `run(problem) -> EngineResult`. It knows nothing of HTTP or JSON; it gets
NumPy arrays already checked for shape and finiteness, and returns NumPy arrays in the same dtype.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from service.models import Activation, Linear

LossName = Literal["sse", "mse", "cross_entropy", "bce_with_logits"]
LayerSpec = Linear | Activation


@dataclass(frozen=True)
class Problem:
    """A network with its weights, a batch of inputs and targets, a loss, in one dtype."""

    layers: tuple[LayerSpec, ...]
    weights: Mapping[str, np.ndarray]  # state_dict names → arrays, in `x.dtype`
    x: np.ndarray  # (batch, in_features)
    y: np.ndarray  # (batch, out_features); (batch,) class indices for cross_entropy
    loss: LossName
    learning_rate: float | None = None  # if set, engines also take one SGD step

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
    updated_weights: dict[str, np.ndarray] | None = None  # w − lr·g, with a learning rate
    trace: list["TraceStep"] | None = None  # per layer, from engines that can show their work


@dataclass(frozen=True)
class TraceStep:
    """One layer's forward and backward values, (batch, width) each."""

    index: int
    layer: LayerSpec
    input: np.ndarray  # a_prev for a linear layer, z for an activation
    output: np.ndarray  # z for a linear layer, a for an activation
    grad_output: np.ndarray  # dL/d(output)
    grad_input: np.ndarray  # dL/d(input)


Engine = Callable[[Problem], EngineResult]
