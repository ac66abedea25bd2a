"""Gradients by central differences: dL/dθ ≈ (L(θ + h) − L(θ − h)) / 2h for every parameter and
every input, computed in float64 whatever the problem's dtype and returned in it.

No Python-level forward per entry. One unperturbed forward keeps every layer's input; then each
perturbation is a change to one column of one layer's input: W_l[i, j] ± h moves column i of z_l
by ±h·a_{l−1}[:, j] (b_l[i] ± h by ±h), and x[b, j] ± h moves x[b, j]. The column goes through
the elementwise layers that follow on its own, into the next linear layer m as a rank-1 update
z_m' = z_m + Δa·W_m[:, i], and from there the copies run through the rest of the network
together, K copies as one (K·n, width) matrix per layer. So a chunk of K entries (2K copies, +h
and −h) costs one batched forward of what lies downstream of it. x[b, j] moves sample b only, so
its copies carry that sample alone; every loss is still taken over the whole batch.

Step: h = DEFAULT_STEP·max(1, |θ|) per entry. A central difference errs by O(h²) truncation
(h²·|d³L/dθ³|/6) plus O(ε·|L|/h) rounding of L(θ + h) − L(θ − h); ∛ε ≈ 6e-6 balances the two at
unit scale, and max(1, |θ|) makes the step relative for large entries. On the nets measured for
the tolerance (ATOL, RTOL) a step of 1e-5 to 3e-5 was slightly more accurate (rounding dominates),
but a larger step straddles more kinks (below): at 1e-4 one relu net was already off by 6e-4.

Kinks: relu, leaky_relu and elu are not differentiable at 0, and softplus jumps where beta·z
crosses its threshold. A perturbation whose ±h straddles one (a pre-activation within h·|a_j| of
it) gives the mean of the two sides' slopes (or a huge number at the jump), not the one-sided
derivative autograd reports (torch picks a side at exactly 0). With continuous random weights and
inputs that is rare; with exact zeros (x = 0, zero weights and biases) it is the rule.

This module never imports torch (a test pins that).
"""

import math
import time
from collections.abc import Callable, Mapping

import numpy as np

from service.engines import EngineResult, Problem, manual
from service.engines.layers import Activation, Layer, sequence
from service.engines.layers.linear import Linear

Array = np.ndarray
LayerFunction = Callable[[Array], Array]

DEFAULT_STEP = 6e-6  # ∛ε for float64 (ε = 2.2e-16), scaled per entry by max(1, |θ|)

# |numeric − exact| ≤ atol + rtol·|exact|, central differences against exact float64 gradients, for
# |L| ≤ 10 (ATOL, RTOL); `tolerance(loss)` grows atol with the loss beyond that. Measured with
# DEFAULT_STEP over every activation × sse/mse (worst max |numeric − autograd|): the seed net,
# 2.6e-11; 2-10-10-1 at torch's init, batch 1 and 32, 4.7e-9 (at L = 162); 784-256-256-10 at torch's
# init, batch 1, 2.2e-10; the test nets (3-5-4-2 and 6-16-16-3, weights N(0, 0.8²), batch 1-16),
# 5.3e-7 (at L = 15845). The absolute part is rounding, ≤ ~2e-10·max(1, |L|) (ε/h = 3.7e-11 times
# the cancellation in the forward); what is left is truncation, relative, ~1e-9 on these nets (it
# grows with h² and with the inputs' scale). Against `tolerance(L)` the worst case used 0.55% of it,
# so ≥ 100× margin, while a real mistake (a wrong sign, a missing term) is off by a good fraction of
# the gradient. For a float32 problem use the float32 tolerance of the exact engines: the
# reference's own float32 rounding dominates.
ATOL, RTOL = 1e-7, 1e-6  # the tolerance of `tolerance(L)` for |L| ≤ LOSS_SCALE
LOSS_SCALE = 10.0

# Largest working array of one chunk, in float64s: 1 MiB stays near the cache; 8 MiB was ~20%
# slower on 200-256-256-10 and 20-64-64-64-1, and much smaller chunks pay Python overhead.
CHUNK_FLOATS = 1 << 17


def tolerance(loss: float) -> tuple[float, float]:
    """(atol, rtol) for this engine's answers: ATOL grown in proportion to |loss| past
    LOSS_SCALE, as the rounding error of a central difference is proportional to the loss."""
    return ATOL * max(1.0, abs(float(loss)) / LOSS_SCALE), RTOL


# --- the network, replayed on copies -----------------------------------------------------------


def linear(w: Array, b: Array | None) -> LayerFunction:
    def forward(a: Array) -> Array:  # a: (..., in), any leading copy and batch axes
        z = np.dot(a.reshape(-1, a.shape[-1]), w.T)  # z = a Wᵀ + b
        if b is not None:
            z += b
        return z.reshape(*a.shape[:-1], w.shape[0])

    return forward


def layer_functions(layers: tuple[Layer, ...], weights: Mapping[str, Array]) -> list[LayerFunction]:
    functions: list[LayerFunction] = []
    for index, layer in enumerate(layers):
        if isinstance(layer, Linear):
            bias = weights[f"{index}.bias"] if layer.bias else None
            functions.append(linear(weights[f"{index}.weight"], bias))
        else:
            assert isinstance(layer, Activation)  # `run` takes this path for these only
            functions.append(layer.f)
    return functions


class Baseline:
    """The unperturbed float64 pass, and how to push perturbed copies through the rest of it."""

    def __init__(self, problem: Problem) -> None:
        self.layers = problem.layers
        self.weights = {k: w.astype(np.float64, copy=False) for k, w in problem.weights.items()}
        self.functions = layer_functions(self.layers, self.weights)
        self.y = problem.y.astype(np.float64, copy=False)
        self.loss = problem.loss
        x = problem.x.astype(np.float64, copy=False)
        tape = sequence.forward(self.layers, self.weights, x)
        # values[p]: the input of layer p, (batch, width); values[-1]: the prediction
        self.values = [step.input for step in tape] + [tape[-1].output]
        self.prediction = self.values[-1]
        self.loss_value = self.loss.value_and_gradient(self.prediction, self.y)[0]
        self.widest = max(v.shape[1] for v in self.values)

    def propagate(self, p: int, cols: Array, column: Array, rows: Array | None) -> Array:
        """Predictions (K, n, out) of K copies in which column `cols[k]` of layer p's input holds
        `column[k]` (n values): for the whole batch (rows None), or for sample `rows[k]` (n = 1)."""
        while p < len(self.layers) and not isinstance(self.layers[p], Linear):
            column = self.functions[p](column)  # elementwise: the column goes through alone
            p += 1
        if p == len(self.layers):  # the column is an output
            if rows is None:
                out = np.repeat(self.values[p][None], len(cols), axis=0)  # (K, batch, out)
            else:
                out = self.values[p][rows][:, None]  # (K, 1, out)
            k = np.arange(len(cols))[:, None]
            out[k, np.arange(column.shape[1]), cols[:, None]] = column
            return out
        a, w = self.values[p], self.weights[f"{p}.weight"]  # a: layer p's unperturbed input
        if rows is None:
            delta = column - a.T[cols]  # Δa, (K, batch)
            z = np.multiply(delta[:, :, None], w.T[cols][:, None, :])  # Δa·W[:, i]
            z += self.values[p + 1]  # z' = z + Δa·W[:, i], (K, batch, out)
        else:
            delta = column[:, 0] - a[rows, cols]  # (K,)
            z = np.multiply(delta[:, None], w.T[cols])
            z += self.values[p + 1][rows]
            z = z[:, None]  # (K, 1, out)
        for q in range(p + 1, len(self.layers)):
            z = self.functions[q](z)  # every copy and sample as one matrix
        return z

    def losses(self, p: int, cols: Array, column: Array, rows: Array | None = None) -> Array:
        """The loss of each copy over the whole batch; a one-sample copy is first put back into
        the unperturbed prediction."""
        predictions = self.propagate(p, cols, column, rows)
        if rows is not None and self.prediction.shape[0] > 1:
            full = np.repeat(self.prediction[None], len(cols), axis=0)
            full[np.arange(len(cols)), rows] = predictions[:, 0]
            predictions = full
        return self.loss.per_copy(predictions, self.y)

    def chunk(self, chunk_floats: int, n: int) -> int:
        """Entries per chunk: 2 copies each, of n samples at the widest layer, plus the loss's
        whole-batch copy of the prediction."""
        return max(1, chunk_floats // (2 * (n * self.widest + self.prediction.size)))


# --- central differences -----------------------------------------------------------------------


def central_differences(
    theta: Array, step: float, per_chunk: int, losses: Callable[[Array, Array], Array]
) -> Array:
    """dL/dθ for every entry of θ, `per_chunk` entries at a time; `losses(f, δ)` gives the loss
    with flat entry f[k] of θ moved by δ[k], for each k."""
    flat = theta.reshape(-1)
    h = step * np.maximum(1.0, np.abs(flat))
    gradient = np.empty(flat.size)
    for start in range(0, flat.size, per_chunk):
        stop = min(start + per_chunk, flat.size)
        f = np.arange(start, stop)
        both = np.concatenate([f, f])
        values = losses(both, np.concatenate([h[start:stop], -h[start:stop]]))  # +h, then −h
        gradient[start:stop] = (values[: len(f)] - values[len(f) :]) / (2 * h[start:stop])
    return gradient.reshape(theta.shape)


def layer_gradients(
    baseline: Baseline, index: int, step: float, chunk_floats: int
) -> dict[str, Array]:
    """dL/dW and dL/db of linear layer `index`, as one block θ = [W | b] of (out, in + 1)."""
    layer = baseline.layers[index]
    assert isinstance(layer, Linear)  # the shortcut's parameters are linear layers
    w = baseline.weights[f"{index}.weight"]
    a = baseline.values[index]  # (batch, in)
    if layer.bias:
        theta = np.concatenate([w, baseline.weights[f"{index}.bias"][:, None]], axis=1)
        a = np.concatenate([a, np.ones((a.shape[0], 1))], axis=1)  # b[i]: a weight on 1
    else:
        theta = w
    z = baseline.values[index + 1]
    batch, width = a.shape

    def losses(f: Array, delta: Array) -> Array:
        i, j = np.divmod(f, width)
        column = z.T[i] + delta[:, None] * a.T[j]  # z[:, i] ± h·a[:, j], (K, batch)
        return baseline.losses(index + 1, i, column)

    gradient = central_differences(theta, step, baseline.chunk(chunk_floats, batch), losses)
    if not layer.bias:
        return {f"{index}.weight": gradient}
    return {f"{index}.weight": gradient[:, :-1].copy(), f"{index}.bias": gradient[:, -1].copy()}


def input_gradient(baseline: Baseline, step: float, chunk_floats: int) -> Array:
    """dL/dx: x[b, j] ± h moves sample b only, so each copy carries that sample alone."""
    x = baseline.values[0]
    width = x.shape[1]

    def losses(f: Array, delta: Array) -> Array:
        b, j = np.divmod(f, width)
        return baseline.losses(0, j, (x[b, j] + delta)[:, None], rows=b)

    return central_differences(x, step, baseline.chunk(chunk_floats, 1), losses)


# --- the general path: any layer kind ----------------------------------------------------------


class Replay:
    """The unperturbed float64 pass through layers of any kind, and copies run through the rest
    of it. Parameters are perturbed in place, one entry at a time, and put back."""

    def __init__(self, problem: Problem) -> None:
        self.layers = problem.layers
        self.weights = {k: w.astype(np.float64) for k, w in problem.weights.items()}  # copies
        draws = {k: v.astype(np.float64) for k, v in problem.draws.items()}
        self.own = sequence.by_layer(len(self.layers), self.weights | draws)
        self.y = problem.y.astype(np.float64, copy=False)
        self.loss = problem.loss
        tape = sequence.forward(self.layers, self.weights | draws, problem.x.astype(np.float64))
        self.inputs = [step.input for step in tape]  # inputs[p]: layer p's input, batch first
        self.prediction = tape[-1].output
        self.loss_value = self.loss.value_and_gradient(self.prediction, self.y)[0]
        self.widest = max(v[0].size for v in [*self.inputs, self.prediction])
        # samples stay apart (no batch norm, no draws): a change to x[b] moves sample b only
        self.separable = not any(layer.mixes_batch or layer.draws for layer in self.layers)

    def layer_on_copies(self, q: int, z: Array) -> Array:
        """Layer q on K copies of a batch, (K, n, …): as one batch of K·n samples where the
        layer treats samples apart (its draws repeated per copy), else copy by copy."""
        layer, params = self.layers[q], self.own[q]
        if layer.mixes_batch:
            return np.stack([layer.forward(copy, params)[0] for copy in z])
        k, n = z.shape[:2]
        tiled = {
            name: np.tile(v, (k,) + (1,) * (v.ndim - 1)) if name in layer.draws else v
            for name, v in params.items()
        }
        out = layer.forward(z.reshape(k * n, *z.shape[2:]), tiled)[0]
        return out.reshape(k, n, *out.shape[1:])

    def losses(self, p: int, z: Array, rows: Array | None = None) -> Array:
        """The loss of each copy (K, n, …) of layer p's output (p = −1: of x) run to the end;
        a copy of one sample (`rows[k]`) is first put back into the unperturbed batch."""
        for q in range(p + 1, len(self.layers)):
            z = self.layer_on_copies(q, z)
        if rows is not None and len(self.prediction) > 1:
            full = np.repeat(self.prediction[None], len(z), axis=0)
            full[np.arange(len(z)), rows] = z[:, 0]
            z = full
        return self.loss.per_copy(z, self.y)

    def chunk(self, chunk_floats: int, n: int) -> int:
        """Entries per chunk: 2 copies of n samples at the widest layer each."""
        return max(1, chunk_floats // (2 * n * self.widest + self.prediction.size))


def parameter_gradient(replay: Replay, p: int, name: str, step: float, chunk_floats: int) -> Array:
    """dL/dθ of parameter `name` of layer p: each entry moved ±h in place, the layer run on its
    unperturbed input for each copy, the copies then run to the loss together."""
    layer, params = replay.layers[p], replay.own[p]
    theta = params[name]
    flat = theta.reshape(-1)  # a view: an entry moved here moves in the layer's parameters
    x = replay.inputs[p]

    def losses(f: Array, delta: Array) -> Array:
        outputs = []
        for entry, d in zip(f, delta, strict=True):
            old = flat[entry]
            flat[entry] = old + d
            outputs.append(layer.forward(x, params)[0])
            flat[entry] = old  # exactly as it was
        return replay.losses(p, np.stack(outputs))

    return central_differences(theta, step, replay.chunk(chunk_floats, len(x)), losses)


def input_gradient_general(replay: Replay, step: float, chunk_floats: int) -> Array:
    """dL/dx: with samples apart, a copy carries the moved sample alone; else the whole batch."""
    x = replay.inputs[0]
    sample = x[0].size

    def losses(f: Array, delta: Array) -> Array:
        b, j = np.divmod(f, sample)
        if replay.separable:
            copies = x[b].reshape(len(f), -1).copy()
            copies[np.arange(len(f)), j] += delta
            return replay.losses(-1, copies.reshape(len(f), 1, *x.shape[1:]), rows=b)
        batches = np.repeat(x[None], len(f), axis=0).reshape(len(f), len(x), -1)
        batches[np.arange(len(f)), b, j] += delta
        return replay.losses(-1, batches.reshape(len(f), *x.shape))

    n = 1 if replay.separable else len(x)
    return central_differences(x, step, replay.chunk(chunk_floats, n), losses)


def fast_path(problem: Problem) -> bool:
    """The per-column shortcut holds for linear layers on (batch, features) and elementwise
    layers only; every other network takes the general path."""
    return problem.x.ndim == 2 and all(
        isinstance(layer, Linear) or (layer.elementwise and isinstance(layer, Activation))
        for layer in problem.layers
    )


def run(
    problem: Problem,
    step: float = DEFAULT_STEP,
    *,
    chunk_floats: int = CHUNK_FLOATS,
    general: bool = False,
) -> EngineResult:
    """Loss and prediction of the unperturbed float64 pass, gradients by central differences,
    all cast to the problem's dtype. `chunk_floats` bounds the working arrays (in float64s);
    `general` takes the general path even where the shortcut holds."""
    start = time.perf_counter()
    dtype = problem.dtype
    gradients: dict[str, Array] = {}
    with np.errstate(all="ignore"):  # overflow is reported by the caller, not warned about
        if fast_path(problem) and not general:
            baseline = Baseline(problem)
            for index, layer in enumerate(problem.layers):
                if isinstance(layer, Linear):
                    gradients |= layer_gradients(baseline, index, step, chunk_floats)
            grad_x = input_gradient(baseline, step, chunk_floats)
            loss, prediction = baseline.loss_value, baseline.prediction
        else:
            replay = Replay(problem)
            for index, layer in enumerate(problem.layers):
                for param in layer.parameters():
                    gradient = parameter_gradient(replay, index, param.name, step, chunk_floats)
                    gradients[f"{index}.{param.name}"] = gradient
            grad_x = input_gradient_general(replay, step, chunk_floats)
            loss, prediction = replay.loss_value, replay.prediction
    gradients = {name: gradients[name].astype(dtype, copy=False) for name in problem.weights}
    updated = None
    if problem.learning_rate is not None:
        updated = manual.sgd_step(dict(problem.weights), gradients, problem.learning_rate)
    elapsed_ms = (time.perf_counter() - start) * 1e3
    return EngineResult(
        dtype.type(loss),
        prediction.astype(dtype, copy=False),
        gradients,
        grad_x.astype(dtype, copy=False),
        elapsed_ms,
        updated,
    )


# --- cost --------------------------------------------------------------------------------------


def downstream(layers: tuple[Layer, ...], widths: list[int], p: int) -> int:
    """Multiply-adds per sample to carry a change of one column of layer p's input to the
    prediction: the column through the elementwise layers, a rank-1 update of the next linear
    layer, then every later layer in full."""
    count = 0
    while p < len(layers) and not isinstance(layers[p], Linear):
        count, p = count + 1, p + 1
    if p == len(layers):
        return count
    count += widths[p + 1]  # z_m += Δa·W_m[:, i]
    for q in range(p + 1, len(layers)):
        count += widths[q] * widths[q + 1] if isinstance(layers[q], Linear) else widths[q + 1]
    return count


def cost(problem: Problem) -> int:
    """An estimate of the multiply-adds `run` does, an elementwise operation counted as one, so a
    caller can refuse a problem before running it. Time is roughly proportional once it passes
    ~1e6 (below that NumPy's per-call overhead, ~0.3 ms a run, dominates): on one core, 1-2 ns per
    unit with relu, 3-5 ns with tanh or sigmoid (an activation costs more than one multiply-add).

    With B samples and `out` outputs: each parameter costs 2 copies of the batch, run from its
    layer down (B·downstream), and 2 losses over the batch (B·out each); each of the B·in inputs
    costs 2 copies of one sample run from the input down, and 2 losses over the whole batch, so
    that term grows with B². Plus one ordinary forward.
    """
    if not fast_path(problem):
        return general_cost(problem)
    layers = problem.layers
    batch, width = problem.x.shape
    widths = [width]  # widths[p]: the width of layer p's input; widths[-1]: the prediction's
    for layer in layers:
        widths.append(layer.out_features if isinstance(layer, Linear) else widths[-1])
    loss = batch * widths[-1]
    total = batch * sum(
        widths[p] * widths[p + 1] if isinstance(layer, Linear) else widths[p + 1]
        for p, layer in enumerate(layers)
    )  # the unperturbed forward
    for p, layer in enumerate(layers):
        if isinstance(layer, Linear):
            entries = layer.out_features * (layer.in_features + layer.bias)
            total += 2 * entries * (batch * downstream(layers, widths, p + 1) + loss)
    total += 2 * batch * width * (downstream(layers, widths, 0) + loss)
    return total


def general_cost(problem: Problem) -> int:
    """The general path's multiply-adds: each parameter entry costs 2 copies of the batch
    through its layer and everything after it, and 2 losses; each input entry 2 copies (of its
    sample alone where samples stay apart) through the whole network. Each layer's cost is its
    own `cost(shape)` per sample."""
    layers, x = problem.layers, problem.x
    batch = x.shape[0]
    shapes = [x.shape[1:], *sequence.output_shapes(layers, x.shape[1:], batch)]
    per_sample = [layer.cost(shapes[p]) for p, layer in enumerate(layers)]
    downstream = [sum(per_sample[p:]) for p in range(len(layers))]
    loss = batch * math.prod(shapes[-1])
    total = batch * downstream[0]  # the unperturbed forward
    for p, layer in enumerate(layers):
        entries = sum(param.size for param in layer.parameters())
        total += 2 * entries * (batch * downstream[p] + loss)
    separable = not any(layer.mixes_batch or layer.draws for layer in layers)
    copy = 1 if separable else batch
    total += 2 * x.size * (copy * downstream[0] + loss)
    return total
