"""Run the chosen engines on a problem and compare each with the reference (autograd).

Nothing non-finite leaves here: an engine whose prediction, loss or gradient overflowed is
reported as `NonFiniteResult`, naming the engine and the quantity.
"""

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from service.core.config import Settings
from service.core.exceptions import LimitExceeded, NonFiniteResult
from service.domain import kinks
from service.domain.compare import Deviation, Tolerance, combine, deviations
from service.engines import Engine, EngineResult, Problem, autograd, manual, numeric
from service.schemas.models import NumericOptions, RequestedTolerance
from service.schemas.values import EngineDeviation

REFERENCE = "autograd"
ENGINES: dict[str, Engine] = {
    "autograd": autograd.run,
    "manual": manual.run,
    "numeric": numeric.run,
}

# How close an engine must come to the reference; it may depend on the reference's result
# (central differences' rounding grows with the loss).
ToleranceRule = Callable[[EngineResult], Tolerance]


# --- the plan: which engines, with which tolerances, at what cost ------------------------------


@dataclass(frozen=True)
class Plan:
    engines: dict[str, Engine]  # by name, the reference first
    tolerance: Tolerance  # the request's, for the analytic engines
    tolerances: dict[str, ToleranceRule]  # for every engine but the reference
    cost: int  # multiply-adds, roughly, of all the chosen engines
    numeric_step: float | None = None  # the numeric engine's, when it is chosen


def plan(
    problem: Problem,
    engines: Sequence[str],
    asked: RequestedTolerance,
    numeric_options: NumericOptions | None,
    forward_cost: int,
    settings: Settings,
) -> Plan:
    """`engines` to run on `problem` (autograd, the reference, always among them, first), each
    but the reference with its tolerance; the numeric engine's cost is bounded here.
    `forward_cost`: one analytic engine's multiply-adds on the problem."""
    dtype = problem.dtype.name
    tolerance = resolve(asked, default_tolerance(dtype, settings))
    names = list(dict.fromkeys([REFERENCE, *engines]))  # once each, the reference first
    chosen = {name: ENGINES[name] for name in names}
    tolerances: dict[str, ToleranceRule] = {name: fixed(tolerance) for name in names[1:]}
    cost = forward_cost * len(names)
    step = None
    if "numeric" in chosen:
        options = numeric_options or NumericOptions()
        numeric_cost = numeric.cost(problem)
        if numeric_cost > settings.max_numeric_cost:
            raise LimitExceeded(
                ("body", "engines"),
                "max_numeric_cost",
                settings.max_numeric_cost,
                numeric_cost,
                "the numeric engine's cost in multiply-adds (parameters × batch × the network "
                "downstream of each)",
            )
        chosen["numeric"] = partial(numeric.run, step=options.step)
        step = options.step
        tolerances["numeric"] = numeric_rule(options.tolerance, dtype, settings)
        cost += numeric_cost
    return Plan(chosen, tolerance, tolerances, cost, step)


def default_tolerance(dtype: str, settings: Settings) -> Tolerance:
    if dtype == "float32":
        return Tolerance(settings.float32_atol, settings.float32_rtol)
    return Tolerance(settings.float64_atol, settings.float64_rtol)


def resolve(asked: RequestedTolerance, default: Tolerance) -> Tolerance:
    return Tolerance(
        atol=default.atol if asked.atol is None else asked.atol,
        rtol=default.rtol if asked.rtol is None else asked.rtol,
    )


def fixed(tolerance: Tolerance) -> ToleranceRule:
    return lambda reference: tolerance


def numeric_rule(asked: RequestedTolerance, dtype: str, settings: Settings) -> ToleranceRule:
    """Central differences' tolerance: it grows with the loss; a float32 reference's own
    rounding needs at least the float32 defaults."""

    def rule(reference: EngineResult) -> Tolerance:
        default = Tolerance(*numeric.tolerance(float(reference.loss)))
        if dtype == "float32":
            floor = default_tolerance("float32", settings)
            default = Tolerance(max(default.atol, floor.atol), max(default.rtol, floor.rtol))
        return resolve(asked, default)

    return rule


@dataclass(frozen=True)
class Report:
    results: dict[str, EngineResult]  # the reference first
    deviations: dict[str, EngineDeviation]  # every engine but the reference

    @property
    def reference(self) -> EngineResult:
        return self.results[REFERENCE]

    @property
    def agree(self) -> bool:
        return all(d.agree for d in self.deviations.values())


def quantities(result: EngineResult) -> Iterator[tuple[str, np.ndarray]]:
    """Every number an engine returns, named, in the order a reader would check them."""
    yield "prediction", result.prediction
    yield "loss", np.asarray(result.loss)
    for name, gradient in result.gradients.items():
        yield f"gradient of {name}", gradient
    yield "input gradient", result.input_gradient
    for name, weight in (result.updated_weights or {}).items():
        yield f"updated {name}", weight


def check_finite(engine: str, result: EngineResult) -> None:
    named = list(quantities(result))
    if np.isfinite(np.concatenate([values.ravel() for _, values in named])).all():
        return
    for quantity, values in named:  # only on failure: which one
        if not np.all(np.isfinite(values)):
            raise NonFiniteResult(engine, quantity)


def compare(
    result: EngineResult,
    reference: EngineResult,
    tol: Tolerance,
    problem: Problem,
    numeric_step: float | None = None,
    single: bool = False,
    engine: str = "manual",
) -> EngineDeviation:
    """How far `result` (`engine`'s) is from the reference, quantity by quantity, leaving out
    the entries that differ only because of a kink (service.domain.kinks). `numeric_step`: the
    step the numeric engine took, when `result` is its answer.

    It checks both results are finite on the way: a NaN or an infinity in either makes a
    deviation non-finite, and only then are they searched for it (`NonFiniteResult`)."""
    names = list(reference.gradients)
    updated = result.updated_weights is not None and reference.updated_weights is not None

    def measured(excused: kinks.Excused) -> list[Deviation]:
        def pair(name: str, value: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return kinks.without(value, ref, excused.get(name, {})), ref

        pairs = [
            (np.asarray(result.loss), np.asarray(reference.loss)),
            (result.prediction, reference.prediction),
            pair("input_gradient", result.input_gradient, reference.input_gradient),
            *(pair(name, result.gradients[name], reference.gradients[name]) for name in names),
        ]
        if updated:
            pairs += [
                pair(n, result.updated_weights[n], reference.updated_weights[n])  # type: ignore[index]
                for n in names
            ]
        return deviations(pairs, tol)

    excused: kinks.Excused = {}
    found = measured(excused)
    overall = combine(found)
    if not math.isfinite(overall.max_abs):
        check_finite(REFERENCE, reference)
        check_finite(engine, result)
        raise NonFiniteResult(engine, "deviation from the reference")  # an overflow
    if not overall.agree:  # only then: are the entries that differ at kinks?
        values = {**result.gradients, "input_gradient": result.input_gradient}
        expected = {**reference.gradients, "input_gradient": reference.input_gradient}
        excused = kinks.excused_entries(problem, values, expected, tol, numeric_step)
        if excused:
            found = measured(excused)
            overall = combine(found)
    loss, prediction, input_gradient = found[:3]
    gradients = dict(zip(names, found[3 : 3 + len(names)], strict=True))
    updated_weights = dict(zip(names, found[3 + len(names) :], strict=True)) if updated else None
    return EngineDeviation(
        loss=loss,
        prediction=prediction,
        gradients=gradients,
        input_gradient=input_gradient,
        updated_weights=updated_weights,
        max_abs=overall.max_abs,
        max_rel=overall.max_rel,
        agree=overall.agree,
        tolerance=tol,
        kink_count=sum(len(entries) for entries in excused.values()),
        kinks=kinks.answered(excused, single),
    )


def compute(problem: Problem, plan: Plan, single: bool = False) -> Report:
    """The plan's engines on `problem`, each but the reference compared with it; `single`: x
    was one sample (kinks are then indexed without the batch axis)."""
    reference = plan.engines[REFERENCE](problem)
    results = {REFERENCE: reference}
    deviations = {}
    for name, engine in plan.engines.items():
        if name == REFERENCE:
            continue
        results[name] = engine(problem)
        step = plan.numeric_step if name == "numeric" else None
        tol = plan.tolerances[name](reference)
        deviations[name] = compare(results[name], reference, tol, problem, step, single, name)
    if not deviations:  # else compare has checked every result
        check_finite(REFERENCE, reference)
    return Report(results, deviations)
