"""Run every engine on a problem and compare each with the reference (autograd).

Nothing non-finite leaves here: an engine whose loss, prediction or gradient overflowed is
reported as `NonFiniteResult`, naming the engine and the quantity.
"""

from dataclasses import dataclass

import numpy as np

from service.compare import Deviation, Tolerance, combine, deviation
from service.engines import Engine, EngineResult, Problem, autograd, manual
from service.errors import NonFiniteResult

REFERENCE = "autograd"
ENGINES: dict[str, Engine] = {"autograd": autograd.run, "manual": manual.run}


@dataclass(frozen=True)
class EngineDeviation:
    loss: Deviation
    prediction: Deviation
    gradients: dict[str, Deviation]
    overall: Deviation


@dataclass(frozen=True)
class Report:
    results: dict[str, EngineResult]  # the reference first
    deviations: dict[str, EngineDeviation]  # every engine but the reference
    tolerance: Tolerance

    @property
    def reference(self) -> EngineResult:
        return self.results[REFERENCE]

    @property
    def agree(self) -> bool:
        return all(d.overall.agree for d in self.deviations.values())


def check_finite(engine: str, result: EngineResult) -> None:
    if not np.all(np.isfinite(result.prediction)):
        raise NonFiniteResult(engine, "prediction")
    if not np.isfinite(result.loss):
        raise NonFiniteResult(engine, "loss")
    for name, gradient in result.gradients.items():
        if not np.all(np.isfinite(gradient)):
            raise NonFiniteResult(engine, f"gradient of {name}")


def compare(result: EngineResult, reference: EngineResult, tol: Tolerance) -> EngineDeviation:
    loss = deviation(np.asarray(result.loss), np.asarray(reference.loss), tol)
    prediction = deviation(result.prediction, reference.prediction, tol)
    gradients = {
        name: deviation(result.gradients[name], reference.gradients[name], tol)
        for name in reference.gradients
    }
    overall = combine([loss, prediction, *gradients.values()])
    return EngineDeviation(loss, prediction, gradients, overall)


def compute(problem: Problem, tolerance: Tolerance) -> Report:
    results = {}
    for name, engine in ENGINES.items():
        results[name] = engine(problem)
        check_finite(name, results[name])
    reference = results[REFERENCE]
    deviations = {}
    for name, result in results.items():
        if name == REFERENCE:
            continue
        deviations[name] = compare(result, reference, tolerance)
        if not np.isfinite(deviations[name].overall.max_abs):
            raise NonFiniteResult(name, "deviation from the reference")
    return Report(results, deviations, tolerance)
