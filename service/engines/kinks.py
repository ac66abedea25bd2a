"""Which entries of a gradient depend on a point where a derivative is not defined (a kink).

At a kink (relu at 0, a max-pool tie, l1 at a zero residual, a multi_margin hinge) the
derivative has two sides; torch takes one, central differences average both, a student may take
the other. Every layer kind and loss declares its kinks (`Layer.kinks`, `Loss.kinks`: how far each
entry of its input is from one, and on which side). Two questions are answered here:

- `sitting(problem)`: which entries depend on a kink that the input sits on (within rounding).
  The backward pass is run again with the kink's entries nudged to one side and to the other, a
  layer at a time (as many as PROBE_COST allows) and all at once: an entry that changes depends on
  that layer's kinks, and every valid one-sided answer lies between the lowest and the highest
  value found (`low`, `high`).
- `crossings(problem, ...)`: for the entries of the numeric engine, whether the step ±h crosses a
  kink on the way: the side of some kink differs between the two copies of the network.

Nested blocks (a residual's inner layers) are not looked into.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from service.engines import Problem
from service.engines.layers import Kinks, sequence

Array = np.ndarray

ON_KINK_ULPS = 64  # within this many ε·max(1, max|input|) of a kink, an entry sits on it
LOSS = -1  # the layer index of the loss's kinks
# The backward reruns, two per layer on a kink and two for all of them at once, may cost this
# many multiply-adds; past it the layers left are probed only all at once.
PROBE_COST = 2_000_000_000


@dataclass(frozen=True)
class Dependence:
    """One quantity's entries that depend on a kink the input sits on (`layer` ≥ 0 for them, the
    layer whose kink it is, −1 for the loss's; None elsewhere), and the range of valid values."""

    layer: dict[tuple[int, ...], int]  # index → the first layer (or LOSS) it depends on
    low: Array
    high: Array


@dataclass(frozen=True)
class Sitting:
    quantities: dict[str, Dependence]  # parameter names and "input_gradient", batch first
    why: dict[int, str]  # layer index (or LOSS) → what the kink is and what torch takes


def on_kink(kinks: Kinks, x: Array) -> Array:
    """Entries within rounding of a kink: `ON_KINK_ULPS` ε of the input's scale."""
    eps = np.finfo(x.dtype).eps
    scale = max(1.0, float(np.max(np.abs(x), initial=0.0)))
    return kinks.distance <= ON_KINK_ULPS * eps * scale


def nudged(x: Array, at: Array, direction: float) -> Array:
    """x with the entries `at` moved off the kink to one side, by more than rounding and by
    slightly different amounts (so that a tie is broken one way: the last entry wins upwards)."""
    eps = np.finfo(x.dtype).eps
    scale = max(1.0, float(np.max(np.abs(x), initial=0.0)))
    ramp = 1 + np.arange(x.size, dtype=np.float64).reshape(x.shape) / max(1, x.size)
    step = (4 * ON_KINK_ULPS * eps * scale) * ramp * direction
    return np.where(at, x + step.astype(x.dtype), x)


def sitting(problem: Problem) -> Sitting | None:
    """Entries whose gradient depends on a kink the input sits on; None if the input sits on no
    kink (then nothing is run twice)."""
    params = {**problem.weights, **problem.draws}
    with np.errstate(all="ignore"):
        tape = sequence.forward(problem.layers, params, problem.x)
        prediction = tape[-1].output
        found = {}  # layer index (or LOSS) → its entries on a kink
        why = {}
        for step in tape:
            kinks = step.layer.kinks(step.input, step.cache)
            if kinks is not None and (on := on_kink(kinks, step.input)).any():
                found[step.index], why[step.index] = on, kinks.why
        loss_kinks = problem.loss.kinks(prediction, problem.y)
        if loss_kinks is not None and (on := on_kink(loss_kinks, prediction)).any():
            found[LOSS], why[LOSS] = on, loss_kinks.why
        if not found:
            return None

        def backward(nudges: dict[int, float]) -> dict[str, Array]:
            """Gradients with each layer in `nudges` taking its kinks' side `±1`."""
            p = prediction
            if LOSS in nudges:
                p = nudged(prediction, found[LOSS], nudges[LOSS])
            grad = problem.loss.value_and_gradient(p, problem.y)[1]
            steps = list(tape)
            for index, direction in nudges.items():
                if index != LOSS:
                    step = tape[index]
                    x = nudged(step.input, found[index], direction)
                    cache = step.layer.forward(x, owned[index])[1]
                    steps[index] = sequence.Step(index, step.layer, step.input, step.output, cache)
            gradients, flowing = sequence.backward(steps, grad)
            named = {name: gradients[name] for name in problem.weights}
            return named | {"input_gradient": flowing[0]}

        owned = sequence.by_layer(len(problem.layers), params)
        reference = backward({})
        forward = problem.x.shape[0] * sequence.cost(problem.layers, problem.x.shape[1:])
        apart = max(0, (PROBE_COST // max(1, 3 * forward) - 2) // 2)  # layers probed one by one
        alone, together = list(found)[:apart], list(found)[apart:]
        probes: list[tuple[int | None, dict[str, Array]]] = [
            (index, backward({index: d})) for index in alone for d in (-1.0, 1.0)
        ]
        # all at once; an entry they alone move is put down to the first layer not probed apart
        rest = together[0] if together else None
        probes += [(rest, backward(dict.fromkeys(found, d))) for d in (-1.0, 1.0)]
    quantities = {}
    for name, value in reference.items():
        layer: dict[tuple[int, ...], int] = {}
        low, high = value.copy(), value.copy()
        for index, gradients in probes:
            other = gradients[name]
            np.minimum(low, other, out=low)
            np.maximum(high, other, out=high)
            if index is not None:
                for flat in np.flatnonzero(other != value).tolist():
                    at = tuple(int(i) for i in np.unravel_index(flat, value.shape))
                    layer.setdefault(at, index)
        quantities[name] = Dependence(layer, low, high)
    return Sitting(quantities, why)


def perturbed(problem: Problem, name: str, flat: int, delta: float) -> Iterator[Kinks | None]:
    """The kinks of every layer, then of the loss, with entry `flat` of `name` (a parameter or
    "input_gradient" for x) moved by `delta`, in float64."""
    weights = {k: w.astype(np.float64) for k, w in problem.weights.items()}
    x = problem.x.astype(np.float64)
    target = x if name == "input_gradient" else weights[name]
    target.reshape(-1)[flat] += delta
    draws = {k: v.astype(np.float64) for k, v in problem.draws.items()}
    tape = sequence.forward(problem.layers, weights | draws, x)
    for step in tape:
        yield step.layer.kinks(step.input, step.cache)
    yield problem.loss.kinks(tape[-1].output, problem.y.astype(np.float64))


def crossings(
    problem: Problem, name: str, entries: Array, step: float
) -> dict[tuple[int, ...], tuple[int, str]]:
    """For each flat index in `entries` of `name`, where the numeric engine's ±h (h =
    step·max(1, |θ|), as it takes them) crosses a kink: index → (layer or LOSS, why)."""
    values = problem.x if name == "input_gradient" else problem.weights[name]
    shape = values.shape
    found: dict[tuple[int, ...], tuple[int, str]] = {}
    with np.errstate(all="ignore"):
        for flat in entries.tolist():
            h = step * max(1.0, abs(float(values.reshape(-1)[flat])))
            up, down = perturbed(problem, name, flat, h), perturbed(problem, name, flat, -h)
            for layer, (a, b) in enumerate(zip(up, down, strict=True)):
                if a is not None and b is not None and not np.array_equal(a.side, b.side):
                    index = tuple(int(i) for i in np.unravel_index(flat, shape))
                    found[index] = (LOSS if layer == len(problem.layers) else layer, a.why)
                    break
    return found
