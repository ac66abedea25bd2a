"""Backprop as students write it, right and wrong: the corpus `/gradients/check` must name.

Three styles, as the seed assignment's students wrote them: explicit loops over one point,
column vectors (W @ a, one point), and row batches (A @ W.T, a batch). Each implementation takes
the weights (state_dict names, NumPy arrays), x and y, and returns its gradients keyed the same
way (and, where a student printed them, its own dL/dz per layer as a `trace`). A bug is one line
changed in an otherwise right implementation, as it happens.
"""

# ruff: noqa: N803, N806 - W, dW: the names of the assignment and of every student

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Weights = dict[str, np.ndarray]
Grads = dict[str, Any]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


# --- style 1: loops over one point (the seed's 2-10-10-1 sigmoid net, sse) ----------------------


def loops(w: Weights, x: np.ndarray, y: np.ndarray, bug: str = "") -> Grads:
    def dense(W: np.ndarray, b: np.ndarray, a: np.ndarray) -> np.ndarray:
        z = np.zeros(W.shape[0])
        for i in range(W.shape[0]):
            z[i] = b[i]
            for j in range(W.shape[1]):
                z[i] += W[i, j] * a[j]
        return z

    z1 = dense(w["0.weight"], w["0.bias"], x)
    a1 = sigmoid(z1)
    z3 = dense(w["2.weight"], w["2.bias"], a1)
    a3 = sigmoid(z3)
    p = dense(w["4.weight"], w["4.bias"], a3)
    dp = 2 * (p - y) if bug != "sign" else 2 * (y - p)
    if bug == "twice":
        dp = 2 * dp  # the 2 of (p − y)² applied twice

    def grads_of(dz: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dW = np.zeros((dz.size, a.size))
        for i in range(dz.size):
            for j in range(a.size):
                dW[i, j] = dz[i] * a[j]
        return dW, dz.copy()

    dW4, db4 = grads_of(dp, a3 if bug != "pre_activation_input" else z3)
    da3 = np.zeros(a3.size)
    for j in range(a3.size):
        for i in range(dp.size):
            da3[j] += w["4.weight"][i, j] * dp[i]
    if bug == "sigmoid_at_output":
        dz3 = da3 * sigmoid(a3) * (1 - sigmoid(a3))  # σ' evaluated at a, not z
    elif bug == "sigmoid_without_one_minus":
        dz3 = da3 * a3
    else:
        dz3 = da3 * a3 * (1 - a3)
    dW2, db2 = grads_of(dz3, a1)
    da1 = np.zeros(a1.size)
    for j in range(a1.size):
        for i in range(dz3.size):
            da1[j] += w["2.weight"][i, j] * dz3[i]
    dz1 = da1 if bug == "missing_derivative" else da1 * a1 * (1 - a1)
    if bug == "dz_off_by_a_constant":  # a made-up term no classic mistake explains
        dz1 = dz1 + 0.01
    dW0, db0 = grads_of(dz1, x)
    if bug == "index_slip":
        dW0[3, 1] = dW0[3, 0]  # j for i in one inner loop
    grads = {"0.weight": dW0, "0.bias": db0, "2.weight": dW2, "2.bias": db2,
             "4.weight": dW4, "4.bias": db4}  # fmt: skip
    if bug == "swapped_biases":
        grads["0.bias"], grads["2.bias"] = grads["2.bias"], grads["0.bias"]
    if bug == "never_assigned":
        grads["2.weight"] = np.zeros_like(dW2)
    if bug == "transposed":
        grads["0.weight"] = dW0.T
    if bug == "square_transposed":
        grads["2.weight"] = dW2.T
    out: Grads = {"gradients": grads}
    if bug == "dz_off_by_a_constant":
        out["trace"] = [{"index": 3, "grad_z": dz3.tolist()}, {"index": 1, "grad_z": dz1.tolist()}]
    return out


# --- style 2: column vectors, one point (a tanh or relu net) ------------------------------------


def columns(w: Weights, x: np.ndarray, y: np.ndarray, act: str, bug: str = "") -> Grads:
    f = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[act]

    def df(z: np.ndarray, a: np.ndarray) -> np.ndarray:
        if act == "tanh":
            return 1 - z**2 if bug == "tanh_from_z" else 1 - a**2
        return (z > 0).astype(float)

    a0 = x.reshape(-1, 1)
    z1 = w["0.weight"] @ a0 + w["0.bias"].reshape(-1, 1)
    a1 = f(z1)
    z3 = w["2.weight"] @ a1 + w["2.bias"].reshape(-1, 1)
    a3 = f(z3)
    p = w["4.weight"] @ a3 + w["4.bias"].reshape(-1, 1)
    dp = 2 * (p - y.reshape(-1, 1))
    dW4, db4 = dp @ a3.T, dp
    da3 = w["4.weight"].T @ dp
    dz3 = da3 if bug == "missing_derivative" else da3 * df(z3, a3)
    dW2, db2 = dz3 @ a1.T, dz3
    da1 = w["2.weight"] @ dz3 if bug == "not_transposed" else w["2.weight"].T @ dz3
    dz1 = da1 * df(z1, a1)
    dW0, db0 = dz1 @ a0.T, dz1
    grads = {"0.weight": dW0, "0.bias": db0.ravel(), "2.weight": dW2, "2.bias": db2.ravel(),
             "4.weight": dW4, "4.bias": db4.ravel()}  # fmt: skip
    return {"gradients": grads}


def columns_float32(w: Weights, x: np.ndarray, y: np.ndarray, act: str) -> Grads:
    """The right computation, in float32 throughout (np.float32 arrays from the start)."""
    w32 = {k: v.astype(np.float32) for k, v in w.items()}
    grads = columns(w32, x.astype(np.float32), y.astype(np.float32), act)["gradients"]
    return {"gradients": {k: v.astype(np.float64) for k, v in grads.items()}}


# --- style 3: row batches (A @ W.T), a relu net ------------------------------------------------


def rows(w: Weights, x: np.ndarray, y: np.ndarray, loss: str, bug: str = "") -> Grads:
    relu = lambda z: np.maximum(z, 0)  # noqa: E731 - as students write it
    z1 = x @ w["0.weight"].T + w["0.bias"]
    a1 = relu(z1)
    z3 = a1 @ w["2.weight"].T + w["2.bias"]
    a3 = relu(z3)
    p = a3 @ w["4.weight"].T + w["4.bias"]
    n = p.size if loss == "mse" else 1
    dp = 2 * (p - y) / n
    if bug == "averaged":
        dp = dp / len(x)  # the loss sums over the batch
    if bug == "summed":
        dp = dp * len(x)  # mse: forgot to divide by the batch
    per_sample = bug == "per_sample_bias"

    def layer_grads(dz: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return dz.T @ a, (dz if per_sample else dz.sum(axis=0))

    if bug == "last_sample_only":
        grads: dict[str, np.ndarray] = {}
        for b in range(len(x)):  # overwrites instead of accumulating
            grads = rows(w, x[b : b + 1], y[b : b + 1], loss)["gradients"]
        return {"gradients": grads}
    dW4, db4 = layer_grads(dp, a3)
    dz3 = dp @ w["4.weight"] * (z3 > 0) if bug != "missing_derivative" else dp @ w["4.weight"]
    dW2, db2 = layer_grads(dz3, a1)
    dz1 = dz3 @ w["2.weight"] * (z1 > 0)
    dW0, db0 = layer_grads(dz1, x)
    if bug == "pre_activation_input":
        dW2 = dz3.T @ z1  # the layer's input is a1 = relu(z1)
    return {"gradients": {"0.weight": dW0, "0.bias": db0, "2.weight": dW2, "2.bias": db2,
                          "4.weight": dW4, "4.bias": db4}}  # fmt: skip


# --- style 3 with batch norm: linear, batch_norm1d, tanh, linear on a batch ---------------------


def batch_norm(w: Weights, x: np.ndarray, y: np.ndarray, bug: str = "") -> Grads:
    eps = 1e-5
    z = x @ w["0.weight"].T + w["0.bias"]
    mu, var = z.mean(axis=0), z.var(axis=0)
    z_hat = (z - mu) / np.sqrt(var + eps)
    h = w["1.weight"] * z_hat + w["1.bias"]
    a = np.tanh(h)
    p = a @ w["3.weight"].T + w["3.bias"]
    dp = 2 * (p - y)
    dW3, db3 = dp.T @ a, dp.sum(axis=0)
    dh = dp @ w["3.weight"] * (1 - a**2)
    dgamma, dbeta = (dh * z_hat).sum(axis=0), dh.sum(axis=0)
    dz_hat = dh * w["1.weight"]
    m = len(x)
    if bug == "stats_as_constants":
        dz = dz_hat / np.sqrt(var + eps)  # as if mu and var did not depend on z
    else:
        dz = (m * dz_hat - dz_hat.sum(axis=0) - z_hat * (dz_hat * z_hat).sum(axis=0)) / (
            m * np.sqrt(var + eps)
        )
    dW0, db0 = dz.T @ x, dz.sum(axis=0)
    return {"gradients": {"0.weight": dW0, "0.bias": db0, "1.weight": dgamma, "1.bias": dbeta,
                          "3.weight": dW3, "3.bias": db3}}  # fmt: skip


# --- the corpus --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Student:
    name: str
    network: str  # "seed", "tanh", "relu" or "batch_norm"
    batch: bool
    write: Callable[[Weights, np.ndarray, np.ndarray], Grads]
    kind: str | None  # the diagnosis expected first; None for a right implementation
    layer: int | None = None
    parameters: list[str] = field(default_factory=list)  # at least these, if given
    loss: str = "sse"


ALL = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
BELOW_3 = ["0.weight", "0.bias", "2.weight", "2.bias"]
BELOW_1 = ["0.weight", "0.bias"]

CORPUS = [
    # right ones, in each style
    Student("loops, right", "seed", False, lambda w, x, y: loops(w, x, y), None),
    Student("columns tanh, right", "tanh", False, lambda w, x, y: columns(w, x, y, "tanh"), None),
    Student("columns relu, right", "relu", False, lambda w, x, y: columns(w, x, y, "relu"), None),
    Student("rows relu, right", "relu", True, lambda w, x, y: rows(w, x, y, "sse"), None),
    Student("rows relu mse, right", "relu", True, lambda w, x, y: rows(w, x, y, "mse"), None,
            loss="mse"),
    # backward-pass mistakes at one layer
    Student("σ' at the output", "seed", False,
            lambda w, x, y: loops(w, x, y, "sigmoid_at_output"),
            "wrong_activation_derivative", 3, BELOW_3),
    Student("σ' as a", "seed", False, lambda w, x, y: loops(w, x, y, "sigmoid_without_one_minus"),
            "wrong_activation_derivative", 3, BELOW_3),
    Student("σ' left out", "seed", False, lambda w, x, y: loops(w, x, y, "missing_derivative"),
            "wrong_activation_derivative", 1, BELOW_1),
    Student("tanh' from z", "tanh", False,
            lambda w, x, y: columns(w, x, y, "tanh", "tanh_from_z"),
            "wrong_activation_derivative", 3, BELOW_3),
    Student("relu' left out, columns", "relu", False,
            lambda w, x, y: columns(w, x, y, "relu", "missing_derivative"),
            "wrong_activation_derivative", 3, BELOW_3),
    Student("relu' left out, rows", "relu", True,
            lambda w, x, y: rows(w, x, y, "sse", "missing_derivative"),
            "wrong_activation_derivative", 3, BELOW_3),
    Student("W for Wᵀ", "relu", False,
            lambda w, x, y: columns(w, x, y, "relu", "not_transposed"),
            "backprop_not_transposed", 2, BELOW_1),
    Student("dW from z", "seed", False, lambda w, x, y: loops(w, x, y, "pre_activation_input"),
            "wrong_layer_input", 4, ["4.weight"]),
    Student("dW from z, rows", "relu", True,
            lambda w, x, y: rows(w, x, y, "sse", "pre_activation_input"),
            "wrong_layer_input", 2, ["2.weight"]),
    # one mistake across every gradient
    Student("2 twice", "seed", False, lambda w, x, y: loops(w, x, y, "twice"), "factor", None, ALL),
    Student("y − p", "seed", False, lambda w, x, y: loops(w, x, y, "sign"), "factor", None, ALL),
    Student("averaged a summed loss", "relu", True,
            lambda w, x, y: rows(w, x, y, "sse", "averaged"), "batch_mean", None, ALL),
    Student("summed a mean loss", "relu", True,
            lambda w, x, y: rows(w, x, y, "mse", "summed"), "batch_mean", None, ALL, loss="mse"),
    # one quantity
    Student("0.weight transposed", "seed", False, lambda w, x, y: loops(w, x, y, "transposed"),
            "transpose", 0, ["0.weight"]),
    Student("square 2.weight transposed", "seed", False,
            lambda w, x, y: loops(w, x, y, "square_transposed"), "transpose", 2, ["2.weight"]),
    Student("per-sample biases", "relu", True,
            lambda w, x, y: rows(w, x, y, "sse", "per_sample_bias"),
            "not_summed_over_batch", None, ["0.bias", "2.bias", "4.bias"]),
    Student("the last sample only", "relu", True,
            lambda w, x, y: rows(w, x, y, "sse", "last_sample_only"), "single_sample", None, ALL),
    Student("biases swapped", "seed", False, lambda w, x, y: loops(w, x, y, "swapped_biases"),
            "swapped", 0, ["0.bias", "2.bias"]),
    Student("never assigned", "seed", False, lambda w, x, y: loops(w, x, y, "never_assigned"),
            "zero", 2, ["2.weight"]),
    Student("float32", "tanh", False, lambda w, x, y: columns_float32(w, x, y, "tanh"),
            "precision", None, ALL),
    Student("an index slip", "seed", False, lambda w, x, y: loops(w, x, y, "index_slip"),
            "entries", 0, ["0.weight"]),
    Student("batch norm, right", "batch_norm", True, lambda w, x, y: batch_norm(w, x, y), None),
    Student("batch norm's statistics as constants", "batch_norm", True,
            lambda w, x, y: batch_norm(w, x, y, "stats_as_constants"), "error_enters_at", 1,
            ["0.weight", "0.bias"]),
    # none of the above: where it enters, exactly from the student's own dL/dz
    Student("a made-up term in dL/dz, with its trace", "seed", False,
            lambda w, x, y: loops(w, x, y, "dz_off_by_a_constant"), "error_enters_at", 1),
]  # fmt: skip
