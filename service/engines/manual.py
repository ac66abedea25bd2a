"""Backprop from scratch in NumPy: the assignment's hand computation, vectorised over the batch.

Forward keeps a tape of each layer's input and output; backward walks it in reverse, turning
dL/d(output) into dL/d(input) and, for a linear layer, dL/dW and dL/db. This module never imports
torch (a test pins that).
"""

import time
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from service.engines import EngineResult, LayerSpec, Problem, TraceStep
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


# Each loss returns (L, dL/dprediction).


def sse(prediction: Array, y: Array) -> tuple[np.floating, Array]:
    d = prediction - y
    return np.vdot(d, d), 2 * d  # L = Σ d², dL/dp = 2d


def mse(prediction: Array, y: Array) -> tuple[np.floating, Array]:
    d = prediction - y
    return np.vdot(d, d) / d.size, (2 / d.size) * d  # L = Σ d² / n, dL/dp = 2d / n


def cross_entropy(logits: Array, y: Array) -> tuple[np.floating, Array]:
    # y holds class indices; L = mean over the batch of −log softmax(z)[y]
    shifted = logits - logits.max(axis=-1, keepdims=True)  # log-sum-exp without overflow
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    rows, classes = np.arange(len(y)), y.astype(np.intp)
    batch = len(y)
    grad = np.exp(log_softmax)
    grad[rows, classes] -= 1  # dL/dz = (softmax − onehot) / batch
    return -log_softmax[rows, classes].sum() / batch, grad / batch


def bce_with_logits(logits: Array, y: Array) -> tuple[np.floating, Array]:
    # L = mean of −[y log σ(z) + (1 − y) log(1 − σ(z))], written so exp never overflows
    z = logits
    losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return losses.mean(), (expit(z) - y) / z.size  # dL/dz = (σ(z) − y) / n


LOSSES = {
    "sse": sse,
    "mse": mse,
    "cross_entropy": cross_entropy,
    "bce_with_logits": bce_with_logits,
}


def weight_gradient(grad_z: Array, a: Array) -> Array:
    """dL/dW = (dL/dz)ᵀ · a, summed over the batch; an outer product for one sample."""
    if grad_z.shape[0] == 1:
        return np.outer(grad_z[0], a[0])  # np.outer/np.dot: matmul is ~9× slower here
    return np.dot(grad_z.T, a)


def backward(
    tape: list[Step], weights: dict[str, Array], grad_output: Array
) -> tuple[dict[str, Array], list[Array]]:
    """Gradients of every parameter, and dL/d(output) of every layer then dL/dx, given
    dL/d(network output)."""
    gradients: dict[str, Array] = {}
    grad = grad_output
    grads = [grad]  # dL/d(output) of the last layer, …, of the first, then dL/dx
    for step in reversed(tape):
        if isinstance(step.layer, Linear):
            w = weights[f"{step.index}.weight"]
            gradients[f"{step.index}.weight"] = weight_gradient(grad, step.input)
            if step.layer.bias:
                gradients[f"{step.index}.bias"] = grad.sum(axis=0)  # dL/db = Σ_batch dL/dz
            grad = np.dot(grad, w)  # dL/da_prev = dL/dz · W
        else:
            grad = grad * elementwise(step.layer).derivative(step.input, step.output)
        grads.append(grad)
    return {name: gradients[name] for name in weights}, grads[::-1]  # state_dict order


def sgd_step(weights: dict[str, Array], gradients: dict[str, Array], lr: float) -> dict[str, Array]:
    return {name: w - lr * gradients[name] for name, w in weights.items()}  # w ← w − lr·g


def run(problem: Problem) -> EngineResult:
    start = time.perf_counter()
    weights = dict(problem.weights)
    with np.errstate(all="ignore"):  # overflow is reported by the caller, not warned about
        tape = forward(problem.layers, weights, problem.x)
        prediction = tape[-1].output
        loss, grad_prediction = LOSSES[problem.loss](prediction, problem.y)
        gradients, grads = backward(tape, weights, grad_prediction)
        updated = (
            None
            if problem.learning_rate is None
            else sgd_step(weights, gradients, problem.learning_rate)
        )
    elapsed_ms = (time.perf_counter() - start) * 1e3
    trace = [
        TraceStep(step.index, step.layer, step.input, step.output, grads[i + 1], grads[i])
        for i, step in enumerate(tape)
    ]
    return EngineResult(loss, prediction, gradients, grads[0], elapsed_ms, updated, trace)
