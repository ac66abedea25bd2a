"""The seed's data set: n points drawn uniformly in a 2-D square, labelled y = ½ Σ x².

The assignment draws 100 such points in [0, 1)² without saying which generator; here they come
from NumPy's `np.random.default_rng(seed)`, a generator local to the call, so the same
(n, seed, low, high) gives the same points on every machine and in every process.
"""

import numpy as np

from service.core import seed as seed_example


def seed_dataset(n: int, seed: int, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """x of shape (n, 2), uniform in [low, high)², and y = ½ Σ x² of shape (n, 1), in float64."""
    x = np.random.default_rng(seed).uniform(low, high, size=(n, 2))
    return x, seed_example.labels(x)
