"""How far one engine's numbers are from the reference's: max_abs, max_rel and agree.

Differences are taken in float64 whatever the dtype, so the comparison adds no rounding of its own.
"""

from itertools import accumulate

import numpy as np

from service.schemas.values import Deviation, Tolerance

SMALLEST = np.nextafter(0.0, 1.0)  # the smallest positive float64 (a subnormal)

__all__ = [
    "Deviation", "Tolerance", "combine", "deviation", "deviations", "distance", "factor_of",
    "within",
]  # fmt: skip


def within(got: np.ndarray, expected: np.ndarray, tol: Tolerance) -> np.ndarray:
    """Entry by entry: |got − expected| ≤ atol + rtol·|expected| (`deviations` does the same in
    place, for many arrays at once)."""
    with np.errstate(over="ignore", invalid="ignore"):  # past 1.8e308 a tolerance is inf: right
        return np.abs(got - expected) <= tol.atol + tol.rtol * np.abs(expected)


def factor_of(got: np.ndarray, expected: np.ndarray) -> float | None:
    """The c that makes c × expected closest to got (least squares), unless it is 1 or not
    finite; the caller checks whether c × expected is within tolerance of got."""
    with np.errstate(over="ignore", invalid="ignore"):  # values near ±1.8e308: no factor
        norm = float(np.vdot(expected, expected))
        if norm == 0 or not np.isfinite(norm):
            return None
        c = float(np.vdot(got, expected)) / norm
    return c if np.isfinite(c) and abs(c - 1) > 1e-9 else None


def distance(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """|got − expected|, at most the largest float: two finite numbers can be further apart."""
    with np.errstate(over="ignore"):
        return np.minimum(np.abs(got - expected), np.finfo(np.float64).max)


def deviation(value: np.ndarray, reference: np.ndarray, tolerance: Tolerance) -> Deviation:
    return deviations([(value, reference)], tolerance)[0]


def deviations(pairs: list[tuple[np.ndarray, np.ndarray]], tolerance: Tolerance) -> list[Deviation]:
    """The deviation of each (value, reference) pair, computed for all of them in one pass:
    a response compares a dozen small arrays, and NumPy's cost is per call, not per entry. The
    three per-entry measures are rows of one array, so one reduction per segment finds all
    three."""
    sizes = [b.size for _, b in pairs]
    if 0 in sizes:  # a reduction cannot take an empty segment: an empty pair deviates by 0
        kept = [pair for pair, size in zip(pairs, sizes, strict=True) if size]
        rest = iter(deviations(kept, tolerance) if kept else [])
        return [next(rest) if size else Deviation(0.0, 0.0, True) for size in sizes]
    values = [v.ravel() for v, _ in pairs] + [r.ravel() for _, r in pairs]
    both = np.concatenate(values, dtype=np.float64).reshape(2, -1)  # a fresh copy
    a, b = both
    measures = np.empty((3, a.size))
    diff, rel, out = measures  # |a − b|; that ÷ max(|a|, |b|); 1 if out of tolerance, else 0
    # An overflow (values near ±1.8e308) or a non-finite value (∞ − ∞ is NaN) makes the
    # deviation non-finite: the caller checks for that, and names the quantity.
    with np.errstate(over="ignore", invalid="ignore"):
        np.subtract(a, b, out=diff)
        np.abs(diff, out=diff)
        np.abs(both, out=both)
        np.multiply(b, tolerance.rtol, out=out)  # a tolerance past 1.8e308 is inf: all agree
        np.add(out, tolerance.atol, out=out)
        np.less_equal(diff, out, out=out)  # within: 1 (a NaN is never within)
        np.subtract(1.0, out, out=out)
        np.maximum(a, b, out=a)  # the scale; where it is 0, so is diff:
        np.maximum(a, SMALLEST, out=a)  # 0 ÷ the smallest float is 0
        np.divide(diff, a, out=rel)
    starts = [0, *accumulate(sizes[:-1])]
    worst = np.maximum.reduceat(measures, starts, axis=1).tolist()
    return [Deviation(d, r, not o) for d, r, o in zip(*worst, strict=True)]


def combine(deviations: list[Deviation]) -> Deviation:
    """The worst of several deviations: largest max_abs and max_rel, agree only if all agree."""
    max_abs, max_rel, agree = 0.0, 0.0, True
    for d in deviations:  # one pass: max() and all() over generators cost 3× as much here
        if d.max_abs > max_abs or d.max_abs != d.max_abs:  # a NaN, once met, stays
            max_abs = d.max_abs
        if d.max_rel > max_rel or d.max_rel != d.max_rel:
            max_rel = d.max_rel
        agree = agree and d.agree
    return Deviation(max_abs, max_rel, agree)
