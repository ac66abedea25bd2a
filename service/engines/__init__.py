"""The engines' one interface: a `Problem` in, an `EngineResult` out.

An engine is a function `run(problem) -> EngineResult`. It knows nothing of HTTP, JSON or the
request models: it gets engine-side layer specs (`service.engines.layers`), a loss
(`service.engines.losses`) and NumPy arrays already checked for shape and finiteness, and
returns NumPy arrays in the same dtype.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from service.engines.layers import Layer
from service.engines.losses import Loss


@dataclass(frozen=True)
class Problem:
    """A network with its weights, a batch of inputs and targets, a loss, in one dtype."""

    layers: tuple[Layer, ...]
    weights: Mapping[str, np.ndarray]  # state_dict names → arrays, in `x.dtype`
    x: np.ndarray  # (batch, *input shape)
    y: np.ndarray  # the prediction's shape; (batch,) class indices for a classification loss
    loss: Loss
    learning_rate: float | None = None  # if set, engines also take one SGD step
    draws: Mapping[str, np.ndarray] = field(default_factory=dict)  # dropout masks, "3.mask"

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype


@dataclass(frozen=True)
class TraceStep:
    """One layer's forward and backward values, batch first, and what else it computed."""

    index: int
    layer: Layer
    input: np.ndarray
    output: np.ndarray
    grad_output: np.ndarray  # dL/d(output)
    grad_input: np.ndarray  # dL/d(input)
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)  # batch-norm mean, mask, …


@dataclass  # not frozen: a frozen dataclass's __init__ costs 3× as much, on every request
class EngineResult:
    loss: np.floating  # in the problem's dtype
    prediction: np.ndarray  # (batch, *output shape)
    gradients: dict[str, np.ndarray]  # same names and shapes as `Problem.weights`
    input_gradient: np.ndarray  # dL/dx, the shape of x
    elapsed_ms: float
    updated_weights: dict[str, np.ndarray] | None = None  # w − lr·g, with a learning rate
    tracer: Callable[[], list[TraceStep]] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def trace(self) -> list[TraceStep] | None:
        """Per layer, from engines that can show their work (`tracer`): built from what the
        engine kept the first time it is asked for, as most requests never ask."""
        return None if self.tracer is None else self.tracer()


Engine = Callable[[Problem], EngineResult]
