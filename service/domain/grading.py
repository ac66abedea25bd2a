"""Grade a caller's own numbers against the reference: which entries are wrong, and why.

For each quantity (the loss, the prediction, every parameter's gradient, the input gradient) the
candidate is compared entry by entry with `atol + rtol·|expected|`. A wrong shape is a finding,
not an error; where the candidate is the transpose, the right numbers in the wrong shape, or the
reference times a constant (2, ½, the batch size, −1), the finding says so: those are the usual
backprop bugs.
"""

from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np

from service.domain import kinks
from service.domain.compare import Tolerance, distance, factor_of, within
from service.domain.diagnosis import Case, diagnose, trace_steps
from service.domain.network import shape_text
from service.engines import Problem
from service.engines.kinks import sitting
from service.schemas.arrays import Ragged
from service.schemas.responses import Expected
from service.schemas.values import CheckReport, Diagnosis, Finding, Kink, Mismatch


def candidate_shape(value: float | np.ndarray | Ragged) -> tuple[int, ...] | None:
    """The shape of a candidate's number or array; None if its rows differ in length or depth."""
    return None if isinstance(value, Ragged) else np.shape(value)


def factor_hint(got: np.ndarray, expected: np.ndarray, tol: Tolerance, batch: int) -> str | None:
    """Name the constant c when the candidate is c × the reference throughout."""
    c = factor_of(got, expected)
    if c is None or not np.all(within(got, c * expected, tol)):
        return None
    named = [
        (2.0, "twice the expected values; is the 2 of d(p − y)²/dp applied twice?"),
        (0.5, "half the expected values: the derivative of (p − y)² is 2(p − y)"),
        (-1.0, "the expected values with the sign flipped: is it p − y, not y − p?"),
    ]
    if batch > 1:
        named += [
            (float(batch), f"{batch} times the expected values: the loss averages over the "
             f"batch of {batch}; divide the sum by it"),
            (1 / batch, f"the expected values divided by {batch}: the loss sums over the batch; "
             "do not average"),
        ]  # fmt: skip
    for value, hint in named:
        if abs(c - value) <= 1e-6 * abs(value):
            return f"off by a factor of {value:g}: {hint}"
    if expected.size < 3:
        return None  # any one or two numbers are "a constant factor" of any others
    return f"off by a constant factor of {c:.6g}"


def shape_hint(values: np.ndarray | None, expected: np.ndarray, tol: Tolerance) -> str:
    want = shape_text(expected.shape)
    if values is None:
        return f"rows of different lengths; expected shape {want}"
    if values.ndim == 2 and values.shape == expected.shape[::-1]:
        if np.all(within(values.T, expected, tol)):
            return (
                f"this is the transpose of the expected {want}: a weight's gradient is "
                "out × in like the weight itself, dL/dz ⊗ input"
            )
        return f"shaped like the transpose of the expected {want}, and wrong even transposed"
    if values.size == expected.size and np.all(
        within(values.reshape(expected.shape), expected, tol)
    ):
        return f"the right numbers in the wrong shape: expected {want} (row-major)"
    return f"expected shape {want}, got {shape_text(values.shape)}"


# Which of a quantity's wrong entries (flat indices) differ only by a valid one-sided derivative
# at a kink: flat index → the kink (service.domain.kinks).
Excuse = Callable[[np.ndarray, np.ndarray], dict[int, Kink]]


def grade_one(
    candidate: float | np.ndarray | Ragged | None,
    expected: np.ndarray,
    tol: Tolerance,
    max_mismatches: int,
    batch: int,
    excuse: Excuse | None = None,
) -> tuple[Finding, list[Kink]]:
    expected = np.asarray(expected, dtype=np.float64)
    entries = int(expected.size)
    if candidate is None:
        return Finding("missing", expected.shape, None, entries, correct=0, agree=False), []
    shape = candidate_shape(candidate)
    values = None if shape is None else np.asarray(candidate, dtype=np.float64)
    if values is None or values.shape != expected.shape:
        hint = shape_hint(values, expected, tol)
        return Finding("wrong_shape", expected.shape, shape, entries, 0, False, hint=hint), []

    wrong = np.flatnonzero(~within(values, expected, tol).ravel())
    kinks = excuse(values, wrong) if excuse is not None and len(wrong) else {}
    if kinks:  # at a kink, any valid one-sided derivative is right
        wrong = np.array([k for k in wrong.tolist() if k not in kinks], dtype=np.intp)
        values = values.copy()
        values.ravel()[list(kinks)] = expected.ravel()[list(kinks)]
    diff = distance(values, expected)
    scale = np.maximum(np.abs(values), np.abs(expected))
    rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
    worst = wrong[np.argsort(-diff.ravel()[wrong], kind="stable")][:max_mismatches]
    mismatches = [
        Mismatch(
            index=tuple(int(i) for i in np.unravel_index(k, expected.shape)),
            expected=float(expected.ravel()[k]),
            got=float(values.ravel()[k]),
            abs_error=float(diff.ravel()[k]),
            rel_error=float(rel.ravel()[k]),
        )
        for k in worst
    ]
    return Finding(
        status="ok" if not len(wrong) else "mismatch",
        expected_shape=expected.shape,
        shape=values.shape,
        entries=entries,
        correct=entries - len(wrong),
        agree=not len(wrong),
        max_abs=float(diff.max(initial=0.0)),
        max_rel=float(rel.max(initial=0.0)),
        mismatches=mismatches,
        mismatch_count=len(wrong),
        hint=factor_hint(values, expected, tol, batch) if len(wrong) else None,
        kink_count=len(kinks),
    ), list(kinks.values())


def kink_excuse(problem: Problem, tol: Tolerance) -> Callable[[str], Excuse | None]:
    """For each gradient, what excuses a candidate's entry at a kink the input sits on; found
    once, and only once an entry is wrong."""
    at_kinks = cache(lambda: sitting(problem))

    def excuse_for(name: str) -> Excuse | None:
        if name in ("loss", "prediction"):
            return None  # continuous at every kink

        def excuse(values: np.ndarray, wrong: np.ndarray) -> dict[int, Kink]:
            shape = problem.x.shape if name == "input_gradient" else problem.weights[name].shape
            found = kinks.one_sided(
                at_kinks(), {name: values.reshape(shape)}, {name: wrong}, tol
            ).get(name, {})
            single = name == "input_gradient" and values.shape != shape
            return {
                int(np.ravel_multi_index(index, shape)): replace(kink, index=index[1:])
                if single
                else kink
                for index, kink in found.items()
            }

        return excuse

    return excuse_for


def grade(
    candidate: dict[str, Any],
    expected: Expected,
    tol: Tolerance,
    max_mismatches: int,
    batch: int,
    problem: Problem | None = None,
) -> CheckReport:
    """`candidate` holds "loss", "prediction", "input_gradient" (each optional) and "gradients"
    (a dict by parameter name), shaped as `expected`, the reference, is. With the `problem`, a
    gradient's entry at a kink the input sits on passes with any valid one-sided value."""
    steps = candidate.get("trace")
    single = problem is not None and np.asarray(expected.input_gradient).shape != problem.x.shape
    trace = trace_steps(steps, problem, single) if problem is not None and steps else None
    excuse_for = kink_excuse(problem, tol) if problem is not None else lambda name: None
    found_kinks: list[Kink] = []

    def one(name: str, value: Any, reference: Any) -> Finding:
        finding, at_kinks = grade_one(
            value, np.asarray(reference), tol, max_mismatches, batch, excuse_for(name)
        )
        found_kinks.extend(at_kinks)
        return finding

    reference = {
        "loss": expected.loss,
        "prediction": expected.prediction,
        "input_gradient": expected.input_gradient,
    }
    quantities = {
        name: one(name, candidate[name], value)
        for name, value in reference.items()
        if candidate.get(name) is not None
    }
    given = candidate.get("gradients", {})
    gradients = {name: one(name, given.get(name), ref) for name, ref in expected.gradients.items()}
    unexpected = [name for name in given if name not in expected.gradients]
    findings = {**quantities, **gradients}
    correct = sum(f.correct for f in findings.values())
    total = sum(f.entries for f in findings.values())
    passed = not unexpected and all(f.agree for f in findings.values())
    wrong = [name for name, f in findings.items() if f.status in ("mismatch", "wrong_shape")]
    diagnoses = []
    if problem is not None and wrong:
        diagnoses = diagnose(case_of(problem, candidate, expected, wrong, tol, trace))
    if found_kinks:
        diagnoses.append(kink_diagnosis(found_kinks))
    return CheckReport(
        verdict="pass" if passed else "fail",
        score=1.0 if passed else fair_score(findings, diagnoses),
        entry_score=correct / total if total else 1.0,
        correct=correct,
        total=total,
        loss=quantities.get("loss"),
        prediction=quantities.get("prediction"),
        input_gradient=quantities.get("input_gradient"),
        gradients=gradients,
        missing=[name for name, f in gradients.items() if f.status == "missing"],
        unexpected=unexpected,
        diagnoses=diagnoses,
        kink_count=len(found_kinks),
        kinks=found_kinks[: kinks.MAX_LISTED],
    )


def case_of(
    problem: Problem, candidate: dict[str, Any], expected: Expected, wrong: list[str],
    tol: Tolerance, trace: list[dict[str, Any]] | None,
) -> Case:  # fmt: skip
    """What a diagnosis needs: the gradients batch first, the candidate's arrays as sent."""
    single = np.asarray(expected.input_gradient).shape != problem.x.shape
    reference = {n: np.asarray(g, dtype=np.float64) for n, g in expected.gradients.items()}
    reference["input_gradient"] = np.asarray(expected.input_gradient).reshape(problem.x.shape)
    given = dict(candidate.get("gradients", {}))
    if candidate.get("input_gradient") is not None:
        value = candidate["input_gradient"]
        if not isinstance(value, Ragged) and single and np.size(value) == problem.x.size:
            value = np.reshape(value, problem.x.shape)
        given["input_gradient"] = value
    arrays = {
        name: None if value is None or isinstance(value, Ragged) else np.asarray(value, np.float64)
        for name, value in given.items()
        if name in reference
    }
    return Case(problem, reference, arrays, [n for n in reference if n in wrong], tol, trace)


def kink_diagnosis(found: list[Kink]) -> Diagnosis:
    quantities = list(dict.fromkeys(k.quantity for k in found))
    why = "; ".join(dict.fromkeys(k.why for k in found))
    layers = {k.layer for k in found}
    msg = (f"Not an error: {len(found)} entries of {', '.join(quantities)} sit at a kink, "
           "where the derivative is not defined, and hold a valid one-sided derivative. "
           f"{why}.")  # fmt: skip
    return Diagnosis("kink", quantities, layers.pop() if len(layers) == 1 else None, msg)


def fair_score(findings: dict[str, Finding], diagnoses: list[Diagnosis]) -> float:
    """1 − bugs / quantities graded: a bug is a diagnosis naming a mistake (once, however many
    gradients it spoils) or a wrong quantity that no named mistake explains (where an error
    merely enters is not a cause: each quantity it spoils counts)."""
    named = [d for d in diagnoses if d.kind not in ("kink", "error_enters_at")]  # a cause each
    explained = {name for d in named for name in d.parameters}
    unexplained = [n for n, f in findings.items() if not f.agree and n not in explained]
    bugs = len(named) + len(unexplained)
    return max(0.0, 1.0 - bugs / len(findings)) if findings else 1.0
