"""Entries that differ from the reference only because of a kink: which ones, and why.

Only entries outside tolerance are looked at, so a network that sits on no kink pays nothing,
and an entry merely near a kink is compared as usual. An entry is excused when

- (numeric engine) its step ±h crosses a kink (`service.engines.kinks.crossings`), or
- (an analytic engine, or a candidate) it depends on a kink the input sits on, and its value lies
  between the lowest and highest valid one-sided answers (`service.engines.kinks.sitting`).
"""

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from service.domain.compare import Tolerance, within
from service.engines import Problem, kinks
from service.engines.layers import sequence
from service.schemas.values import Kink

# Entries tested for a crossing, 2 forward passes each: at most these many, and at most this many
# multiply-adds in all (~0.5 s); the others stay compared as they are.
MAX_CHECKED = 4_000
MAX_CHECK_COST = 200_000_000
MAX_LISTED = 100

Array = np.ndarray
Excused = dict[str, dict[tuple[int, ...], Kink]]  # quantity → batch-first index → its kink


def outside(value: Array, reference: Array, tol: Tolerance) -> Array:
    """Flat indices of the entries outside atol + rtol·|reference|."""
    return np.flatnonzero(~within(value, reference, tol).ravel())


def layer_of(index: int) -> int | None:
    return None if index == kinks.LOSS else index


def crossed(problem: Problem, wrong: Mapping[str, Array], step: float) -> Excused:
    """The numeric engine's wrong entries whose step crosses a kink."""
    excused: Excused = {}
    forward = problem.x.shape[0] * sequence.cost(problem.layers, problem.x.shape[1:])
    budget = min(MAX_CHECKED, MAX_CHECK_COST // max(1, 2 * forward))
    for name, flat in wrong.items():
        found = kinks.crossings(problem, name, flat[:budget], step)
        budget -= min(budget, len(flat))
        excused[name] = {
            index: Kink(name, index, layer_of(layer), why) for index, (layer, why) in found.items()
        }
    return excused


def one_sided(
    sitting: kinks.Sitting | None,
    values: Mapping[str, Array],
    wrong: Mapping[str, Array],
    tol: Tolerance,
) -> Excused:
    """Wrong entries that depend on a kink the input sits on (`sitting`, from
    `kinks.sitting(problem)`) and hold a valid one-sided value."""
    if sitting is None:
        return {}
    excused: Excused = {}
    for name, flat in wrong.items():
        dependence = sitting.quantities[name]
        value = np.asarray(values[name], dtype=np.float64).ravel()
        low, high = dependence.low.ravel(), dependence.high.ravel()
        slack = tol.atol + tol.rtol * np.maximum(np.abs(low), np.abs(high))
        for k in flat.tolist():
            index = tuple(int(i) for i in np.unravel_index(k, dependence.low.shape))
            layer = dependence.layer.get(index)
            if layer is not None and low[k] - slack[k] <= value[k] <= high[k] + slack[k]:
                excused.setdefault(name, {})[index] = Kink(
                    name, index, layer_of(layer), sitting.why[layer]
                )
    return excused


def excused_entries(
    problem: Problem,
    values: Mapping[str, Array],
    reference: Mapping[str, Array],
    tol: Tolerance,
    numeric_step: float | None,
) -> Excused:
    """`values` and `reference`: every parameter's gradient and "input_gradient", batch first.
    `numeric_step`: the numeric engine's step when `values` are its answers, else None."""
    wrong = {
        name: flat
        for name, value in values.items()
        if len(flat := outside(np.asarray(value, np.float64), reference[name], tol))
    }
    if not wrong:
        return {}
    if numeric_step is not None:
        return crossed(problem, wrong, numeric_step)
    return one_sided(kinks.sitting(problem), values, wrong, tol)


def without(value: Array, reference: Array, excused: Mapping[tuple[int, ...], Kink]) -> Array:
    """`value` with its excused entries replaced by the reference's: compared, they add nothing."""
    if not excused:
        return value
    out = np.array(value, dtype=np.float64)
    for index in excused:
        out[index] = reference[index]
    return out


def answered(excused: Excused, single: bool) -> list[Kink]:
    """The first MAX_LISTED kinks, indexed as the response indexes them: without the batch axis
    for one sample's input gradient."""
    found = [kink for entries in excused.values() for kink in entries.values()]
    return [
        replace(kink, index=kink.index[1:])
        if single and kink.quantity == "input_gradient"
        else kink
        for kink in found[:MAX_LISTED]
    ]
