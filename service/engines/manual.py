"""Backprop from scratch in NumPy: the assignment's hand computation, vectorised over the batch.

Forward keeps a tape of each layer's input, output and cache; backward walks it in reverse, each
layer turning dL/d(output) into dL/d(input) and its parameters' gradients (see the layer kinds in
`service.engines.layers`, each one's forward and backward side by side). This module never
imports torch (a test pins that).
"""

import time
from collections.abc import Mapping
from functools import partial

import numpy as np

from service.engines import EngineResult, Problem, TraceStep
from service.engines.layers import sequence

Array = np.ndarray


def sgd_step(
    weights: Mapping[str, Array], gradients: dict[str, Array], lr: float
) -> dict[str, Array]:
    return {name: w - lr * gradients[name] for name, w in weights.items()}  # w ← w − lr·g


def run(problem: Problem) -> EngineResult:
    start = time.perf_counter()
    weights = problem.weights
    params = {**weights, **problem.draws} if problem.draws else weights
    with np.errstate(all="ignore"):  # overflow is reported by the caller, not warned about
        tape = sequence.forward(problem.layers, params, problem.x)
        prediction = tape[-1].output
        loss, grad_prediction = problem.loss.value_and_gradient(prediction, problem.y)
        found, flowing = sequence.backward(tape, grad_prediction)
        gradients = {name: found[name] for name in weights}  # state_dict order
        updated = (
            None
            if problem.learning_rate is None
            else sgd_step(weights, gradients, problem.learning_rate)
        )
    elapsed_ms = (time.perf_counter() - start) * 1e3
    tracer = partial(trace, tape, flowing)
    return EngineResult(loss, prediction, gradients, flowing[0], elapsed_ms, updated, tracer)


def trace(tape: list[sequence.Step], flowing: list[Array]) -> list[TraceStep]:
    """Each layer's step: what the forward pass kept, and the gradients either side of it."""
    return [
        TraceStep(
            step.index,
            step.layer,
            step.input,
            step.output,
            flowing[k + 1],
            flowing[k],
            step.layer.trace(step.cache),
        )
        for k, step in enumerate(tape)
    ]
