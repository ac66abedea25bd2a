"""How far one engine's numbers are from the reference's: max_abs, max_rel and agree.

Differences are taken in float64 whatever the dtype, so the comparison adds no rounding of its own.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


@dataclass(frozen=True)
class Deviation:
    max_abs: float  # max |a − b|
    max_rel: float  # max |a − b| / max(|a|, |b|), 0 where both are 0
    agree: bool  # every entry within atol + rtol·|reference|


def deviation(value: np.ndarray, reference: np.ndarray, tolerance: Tolerance) -> Deviation:
    a = np.asarray(value, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.size == 0:
        return Deviation(0.0, 0.0, True)
    with np.errstate(over="ignore"):  # only for values near ±1.8e308; the caller checks
        diff = np.abs(a - b)
    scale = np.maximum(np.abs(a), np.abs(b))
    rel = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
    with np.errstate(over="ignore"):  # a tolerance past 1.8e308 is inf: everything agrees
        agree = bool(np.all(diff <= tolerance.atol + tolerance.rtol * np.abs(b)))
    return Deviation(float(diff.max()), float(rel.max()), agree)


def combine(deviations: list[Deviation]) -> Deviation:
    """The worst of several deviations: largest max_abs and max_rel, agree only if all agree."""
    return Deviation(
        max_abs=max((d.max_abs for d in deviations), default=0.0),
        max_rel=max((d.max_rel for d in deviations), default=0.0),
        agree=all(d.agree for d in deviations),
    )
