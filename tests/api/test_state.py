"""No request changes process-wide state, and the same request always gets the same answer.

A worker serves many requests at once (on the event loop and in the thread pool): a request that
set torch's default dtype, its global grad mode or a global RNG seed would change the answers of
the others. The code never calls such a setter (an AST audit below); a behaviour test checks the
state before and after a mix of requests.
"""

import ast
import random
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
import torch
from pydantic import ValidationError

from service.core import seed
from service.schemas.models import GradientsRequest
from tests.answers import without
from tests.nets import mlp

SERVICE = Path(__file__).resolve().parents[2] / "service"

# Calls that change state every thread of the process shares, by their dotted name.
GLOBAL_SETTERS = {
    "torch.set_default_dtype", "torch.set_default_tensor_type", "torch.set_default_device",
    "torch.set_grad_enabled", "torch.autograd.set_grad_enabled", "torch.manual_seed",
    "torch.seed", "torch.random.manual_seed", "torch.random.seed", "torch.set_rng_state",
    "torch.use_deterministic_algorithms", "torch.set_flush_denormal", "torch.set_num_threads",
    "torch.set_num_interop_threads", "np.random.seed", "numpy.random.seed", "np.seterr",
    "numpy.seterr", "random.seed", "random.setstate",
}  # fmt: skip
# Where one is allowed: create_app sizes torch's thread pool once per process, not per request.
ALLOWED = {("app.py", "torch.set_num_threads")}


def dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else "?"


def global_setters(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    calls = [dotted(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    return [
        f"{path.name}: {c}" for c in calls if c in GLOBAL_SETTERS and (path.name, c) not in ALLOWED
    ]


def test_no_request_path_calls_a_global_setter() -> None:
    assert [f for path in sorted(SERVICE.rglob("*.py")) for f in global_setters(path)] == []


def test_the_audit_sees_a_global_setter(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import torch\ntorch.set_default_dtype(torch.float64)\ntorch.manual_seed(0)\n")
    assert global_setters(probe) == [
        "probe.py: torch.set_default_dtype",
        "probe.py: torch.manual_seed",
    ]


def global_state() -> dict[str, Any]:
    return {
        "default dtype": torch.get_default_dtype(),
        "grad mode": torch.is_grad_enabled(),
        "torch rng": torch.random.get_rng_state().tolist(),
        "numpy rng": [np.asarray(part).tolist() for part in np.random.get_state()],
        "python rng": random.getstate(),
        "torch threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "numpy errors": np.geterr(),
    }


# 64 × 5,699 multiply-adds: over `inline_cost`, so computed in the thread pool.
WIDE = {
    "network": {"layers": mlp({"type": "tanh"}, (20, 64, 64, 3))},
    "x": np.linspace(-1, 1, 64 * 20).reshape(64, 20).tolist(),
    "y": np.zeros((64, 3)).tolist(),
}
THREE_CLASSES = {"layers": [{"type": "linear", "in_features": 2, "out_features": 3}]}
MIX: list[tuple[str, dict[str, Any]]] = [
    ("/gradients", {}),
    ("/gradients", {"dtype": "float32"}),
    ("/gradients", {"init_seed": 7, "learning_rate": 0.05, "trace": True}),
    ("/gradients", {"x": [[0.5, 0.25], [1.0, 2.0]], "loss": "mse", "dtype": "float32"}),
    ("/gradients", {**WIDE, "dtype": "float32"}),
    ("/gradients", WIDE),
    ("/gradients", {"network": THREE_CLASSES, "y": 1, "loss": "cross_entropy", "init_seed": 3}),
    ("/gradients", {"x": [1e200, 1e200]}),  # refused: the default labels overflow
    ("/gradients/check", {"candidate": {"gradients": {"4.bias": [0.0]}}, "init_seed": 11}),
]


async def test_requests_leave_global_state_as_they_found_it(client: httpx.AsyncClient) -> None:
    before = global_state()
    for path, body in MIX:
        assert (await client.post(path, json=body)).status_code in (200, 422)
    assert global_state() == before


TIMINGS = {"elapsed_ms"}


@pytest.mark.parametrize(("path", "body"), MIX, ids=[f"{p} {i}" for i, (p, _) in enumerate(MIX)])
async def test_the_same_request_gets_the_same_answer(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    first = await client.post(path, json=body)
    for other_path, other in MIX:  # whatever ran in between
        await client.post(other_path, json=other)
    again = await client.post(path, json=body)
    assert again.status_code == first.status_code
    assert without(orjson.loads(again.content), TIMINGS) == without(
        orjson.loads(first.content), TIMINGS
    )


def test_the_default_network_is_shared_read_only() -> None:
    """Requests without a network share one default (pydantic deep-copies an unhashable one for
    every request): frozen, its layers a list no code changes, and the seed's, request after
    request."""
    first, second = GradientsRequest.model_validate({}), GradientsRequest.model_validate({})
    assert first.network is second.network
    assert (
        first.network.layers
        == GradientsRequest.model_validate({"network": {"layers": seed.LAYERS}}).network.layers
    )
    with pytest.raises(ValidationError):
        first.network.layers = []  # type: ignore[misc]
    body = {"network": {"layers": [{"type": "linear", "in_features": 2, "out_features": 1}]}}
    assert GradientsRequest.model_validate(body).network is not first.network
