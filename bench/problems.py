"""The benchmark's networks and problems, built the way the service builds them.

Weights are the ones `init_seed` 0 gives (torch's `nn.Linear` initialisation), so activations
stay in a realistic range; inputs are drawn from a fixed NumPy generator, so every run times the
same numbers.
"""

import base64
from typing import Any

import numpy as np

from service.core import seed
from service.domain.network import specs as layer_specs
from service.engines import Problem
from service.engines.autograd import initial_weights
from service.engines.layers import Layer
from service.engines.layers.linear import Linear
from service.engines.losses import SSE
from service.schemas.models import Network

SEED = "seed 2-10-10-1 sigmoid"
MLP = "784-256-256-10 relu"
NETWORKS: dict[str, list[dict[str, Any]]] = {
    SEED: seed.LAYERS,
    MLP: [
        {"type": "linear", "in_features": 784, "out_features": 256},
        {"type": "relu"},
        {"type": "linear", "in_features": 256, "out_features": 256},
        {"type": "relu"},
        {"type": "linear", "in_features": 256, "out_features": 10},
    ],
}


def specs(layers: list[dict[str, Any]]) -> tuple[Layer, ...]:
    return layer_specs(Network.model_validate({"layers": layers}).layers)


def problem(layers: list[dict[str, Any]], batch: int, dtype: type[np.floating]) -> Problem:
    """Initial weights, x ~ N(0, 1); y the seed's labels (½ Σ x²) for one output, else one-hot."""
    network = specs(layers)
    linears = [layer for layer in network if isinstance(layer, Linear)]
    n_in, n_out = linears[0].in_features, linears[-1].out_features
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, n_in))
    y = seed.labels(x) if n_out == 1 else np.eye(n_out)[rng.integers(n_out, size=batch)]
    weights = {name: w.astype(dtype) for name, w in initial_weights(network, 0).items()}
    return Problem(network, weights, x.astype(dtype), y.astype(dtype), SSE())


def request_body(layers: list[dict[str, Any]], batch: int) -> dict[str, Any]:
    """A `POST /gradients` body for the same float64 problem, with every weight written out."""
    p = problem(layers, batch, np.float64)
    return {
        "network": {"layers": layers},
        "weights": {name: w.tolist() for name, w in p.weights.items()},
        "x": p.x.tolist(),
        "y": p.y.tolist(),
    }


def base64_tensor(array: np.ndarray) -> dict[str, Any]:
    """The service's compact tensor: little-endian float64, row-major, base64."""
    data = np.ascontiguousarray(array, dtype="<f8").tobytes()
    encoded = base64.b64encode(data).decode()
    return {"shape": list(array.shape), "dtype": "float64", "data_b64": encoded}


def base64_request_body(layers: list[dict[str, Any]], batch: int) -> dict[str, Any]:
    """`request_body`'s problem with every array a base64 tensor, asking for the same back."""
    p = problem(layers, batch, np.float64)
    return {
        "network": {"layers": layers},
        "weights": {name: base64_tensor(w) for name, w in p.weights.items()},
        "x": base64_tensor(p.x),
        "y": base64_tensor(p.y),
        "encoding": "base64",
    }
