"""Backprop from scratch in NumPy: the assignment's hand computation, vectorised over the batch.

Forward keeps a tape of each layer's input and output; backward walks it in reverse, turning
dL/d(output) into dL/d(input) and, for a linear layer, dL/dW and dL/db. This module never imports
torch (a test pins that).
"""

import time
from dataclasses import dataclass

import numpy as np

from service.engines import EngineResult, LayerSpec, Problem
from service.engines.activations import elementwise
from service.models import Linear

Array = np.ndarray


@dataclass(frozen=True)
class Step:
    """One layer of the forward pass, as backward needs it."""

    index: int  # position in the network, the prefix of its parameter names
    layer: LayerSpec
    input: Array  # (batch, in)
    output: Array  # (batch, out): z for a linear layer, a for an activation


def forward(layers: tuple[LayerSpec, ...], weights: dict[str, Array], x: Array) -> list[Step]:
    tape: list[Step] = []
    a = x
    for index, layer in enumerate(layers):
        if isinstance(layer, Linear):
            z = np.dot(a, weights[f"{index}.weight"].T)  # z = a Wᵀ + b
            if layer.bias:
                z += weights[f"{index}.bias"]
            out = z
        else:
            out = elementwise(layer).forward(a)  # a = f(z)
        tape.append(Step(index, layer, a, out))
        a = out
    return tape


def sse(prediction: Array, y: Array) -> tuple[np.floating, Array]:
    d = prediction - y
    return np.sum(d * d), 2 * d  # L = Σ d², dL/dp = 2d


def mse(prediction: Array, y: Array) -> tuple[np.floating, Array]:
    d = prediction - y
    return np.mean(d * d), (2 / d.size) * d  # L = Σ d² / n, dL/dp = 2d / n


LOSSES = {"sse": sse, "mse": mse}


def weight_gradient(grad_z: Array, a: Array) -> Array:
    """dL/dW = (dL/dz)ᵀ · a, summed over the batch; an outer product for one sample."""
    if grad_z.shape[0] == 1:
        return np.outer(grad_z[0], a[0])  # np.outer/np.dot: matmul is ~9× slower here
    return np.dot(grad_z.T, a)


def backward(
    tape: list[Step], weights: dict[str, Array], grad_output: Array
) -> tuple[dict[str, Array], Array]:
    """Gradients of every parameter and of the input, given dL/d(network output)."""
    gradients: dict[str, Array] = {}
    grad = grad_output
    for step in reversed(tape):
        if isinstance(step.layer, Linear):
            w = weights[f"{step.index}.weight"]
            gradients[f"{step.index}.weight"] = weight_gradient(grad, step.input)
            if step.layer.bias:
                gradients[f"{step.index}.bias"] = grad.sum(axis=0)  # dL/db = Σ_batch dL/dz
            grad = np.dot(grad, w)  # dL/da_prev = dL/dz · W
        else:
            grad = grad * elementwise(step.layer).derivative(step.input, step.output)
    return {name: gradients[name] for name in weights}, grad  # state_dict order


def run(problem: Problem) -> EngineResult:
    start = time.perf_counter()
    weights = dict(problem.weights)
    with np.errstate(all="ignore"):  # overflow is reported by the caller, not warned about
        tape = forward(problem.layers, weights, problem.x)
        prediction = tape[-1].output
        loss, grad_prediction = LOSSES[problem.loss](prediction, problem.y)
        gradients, input_gradient = backward(tape, weights, grad_prediction)
    elapsed_ms = (time.perf_counter() - start) * 1e3
    return EngineResult(loss, prediction, gradients, input_gradient, elapsed_ms)
