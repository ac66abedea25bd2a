"""The course assignment's worked example (../shared/seed/assignment.txt), as plain data.

Its network is `Sequential(Linear(2, 10), Sigmoid(), Linear(10, 10), Sigmoid(), Linear(10, 1))`,
its labels are y = (x1² + x2²) / 2 and its first data point is x = [0.9861, 0.6680] with the
label printed as 0.7093.
"""

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the client and the command line import this module without NumPy
    import numpy as np

LAYERS: list[dict[str, Any]] = [
    {"type": "linear", "in_features": 2, "out_features": 10},
    {"type": "sigmoid"},
    {"type": "linear", "in_features": 10, "out_features": 10},
    {"type": "sigmoid"},
    {"type": "linear", "in_features": 10, "out_features": 1},
]
X: list[float] = [0.9861, 0.6680]
Y: float = 0.7093
INIT_SEED = 0
LOSS: Literal["sse"] = "sse"


def labels(x: "np.ndarray") -> "np.ndarray":
    """The assignment's labels, y = ½ Σ x² per sample, as a (batch, 1) column."""
    return 0.5 * (x * x).sum(axis=1, keepdims=True)


def request_body() -> dict[str, Any]:
    """The worked example as a full `POST /gradients` body."""
    return {
        "network": {"layers": [dict(layer) for layer in LAYERS]},
        "init_seed": INIT_SEED,
        "x": list(X),
        "y": Y,
        "loss": LOSS,
    }
