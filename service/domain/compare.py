"""How far one engine's numbers are from the reference's: max_abs, max_rel and agree.

Differences are taken in float64 whatever the dtype, so the comparison adds no rounding of its own.
"""

import numpy as np

from service.schemas.values import Deviation, Tolerance

__all__ = ["Deviation", "Tolerance", "combine", "deviation", "deviations", "distance"]


def distance(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """|got − expected|, at most the largest float: two finite numbers can be further apart."""
    with np.errstate(over="ignore"):
        return np.minimum(np.abs(got - expected), np.finfo(np.float64).max)


def deviation(value: np.ndarray, reference: np.ndarray, tolerance: Tolerance) -> Deviation:
    return deviations([(value, reference)], tolerance)[0]


def deviations(pairs: list[tuple[np.ndarray, np.ndarray]], tolerance: Tolerance) -> list[Deviation]:
    """The deviation of each (value, reference) pair, computed for all of them in one pass:
    a response compares a dozen small arrays, and NumPy's cost is per call, not per entry."""
    sizes = np.array([np.size(b) for _, b in pairs])
    if not sizes.sum():
        return [Deviation(0.0, 0.0, True) for _ in pairs]
    a = np.concatenate([np.ravel(v) for v, _ in pairs]).astype(np.float64, copy=False)
    b = np.concatenate([np.ravel(r) for _, r in pairs]).astype(np.float64, copy=False)
    with np.errstate(over="ignore"):  # only for values near ±1.8e308; the caller checks
        diff = np.abs(a - b)
    scale = np.maximum(np.abs(a), np.abs(b))
    rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
    with np.errstate(over="ignore"):  # a tolerance past 1.8e308 is inf: everything agrees
        ok = diff <= tolerance.atol + tolerance.rtol * np.abs(b)

    starts = (np.cumsum(sizes) - sizes)[sizes > 0]  # segment i runs to the next start
    max_abs = np.maximum.reduceat(diff, starts)
    max_rel = np.maximum.reduceat(rel, starts)
    agree = np.logical_and.reduceat(ok, starts)
    found = iter(zip(max_abs.tolist(), max_rel.tolist(), agree.tolist(), strict=True))
    return [Deviation(*next(found)) if size else Deviation(0.0, 0.0, True) for size in sizes]


def combine(deviations: list[Deviation]) -> Deviation:
    """The worst of several deviations: largest max_abs and max_rel, agree only if all agree."""
    return Deviation(
        max_abs=max((d.max_abs for d in deviations), default=0.0),
        max_rel=max((d.max_rel for d in deviations), default=0.0),
        agree=all(d.agree for d in deviations),
    )
