"""Kinks are not bugs: at a point where a derivative is not defined, the engines' differences and
a candidate's valid one-sided derivative are left out of the verdict, and said so; a real error
next to a kink still fails. Each case's expected values are derived by hand below."""

from typing import Any

import httpx
import numpy as np
import pytest
import torch

from service.engines.kinks import ON_KINK_ULPS
from service.engines.numeric import DEFAULT_STEP

RELU = "relu is not differentiable at z = 0; torch takes relu'(0) = 0"
W1 = [[0.5, 0.5], [0.3, 0.3], [-0.2, -0.2]]  # x = [1, −1] puts every pre-activation at 0
W2 = [[1.0, -2.0, 0.5]]


def two_layer(
    activation: dict[str, Any], x: list[float], bias: list[float] | None = None
) -> dict[str, Any]:
    return {
        "network": {
            "layers": [
                {"type": "linear", "in_features": 2, "out_features": 3},
                activation,
                {"type": "linear", "in_features": 3, "out_features": 1},
            ]
        },
        "weights": {
            "0.weight": W1,
            "0.bias": bias or [0.0, 0.0, 0.0],
            "2.weight": W2,
            "2.bias": [0.1],
        },
        "x": x,
        "y": [0.4],
    }


async def gradients(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/gradients", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def check(client: httpx.AsyncClient, body: dict[str, Any], candidate: dict[str, Any]) -> Any:
    response = await client.post("/gradients/check", json=body | {"candidate": candidate})
    assert response.status_code == 200, response.text
    return response.json()["report"]


def by_hand(
    x: list[float], slope_at_zero: float, bias: list[float] | None = None
) -> dict[str, Any]:
    """The two-layer relu net's gradients with relu'(0) = `slope_at_zero`, in NumPy."""
    w1, w2, xv = np.array(W1), np.array(W2), np.array(x)
    z = w1 @ xv + np.array(bias or [0.0, 0.0, 0.0])
    a = np.maximum(z, 0)
    g = 2 * (w2 @ a + 0.1 - 0.4)  # dL/dp of (p − y)²
    gz = (w2.T @ g) * np.where(z > 0, 1.0, np.where(z < 0, 0.0, slope_at_zero))
    return {
        "gradients": {
            "0.weight": np.outer(gz, xv).tolist(),
            "0.bias": gz.tolist(),
            "2.weight": np.outer(g, a).tolist(),
            "2.bias": g.tolist(),
        },
        "input_gradient": (w1.T @ gz).tolist(),
    }


# --- the engines -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activation", "why"),
    [
        ({"type": "relu"}, RELU),
        (
            {"type": "leaky_relu", "negative_slope": 0.1},
            "leaky_relu is not differentiable at z = 0; torch takes the slope 0.1 "
            "(negative_slope) at 0",
        ),
    ],
)
async def test_numeric_differs_from_torch_only_at_the_kinks_and_says_so(
    client: httpx.AsyncClient, activation: dict[str, Any], why: str
) -> None:
    body = two_layer(activation, [1.0, -1.0]) | {"engines": ["autograd", "manual", "numeric"]}
    answer = await gradients(client, body)
    numeric = answer["deviations"]["numeric"]
    # Central differences average both sides: for 0.weight[0, 0] that is ½(0 + s)·x where the
    # right side gives s = dL/da₀·1·x₀ = 2(p − y)·W2[0]·1 = 2(0.1 − 0.4)·1 = −0.6, the left side
    # 0 (relu) or 0.1·s (leaky): they differ from torch's one side by about 0.3.
    assert answer["agree"] is True
    assert numeric["kink_count"] == 6 + 3 + 2  # 0.weight, 0.bias, the input gradient
    assert numeric["gradients"]["0.weight"]["max_abs"] == 0.0  # left out, not compared
    assert {k["quantity"] for k in numeric["kinks"]} == {"0.weight", "0.bias", "input_gradient"}
    assert {(k["layer"], k["why"]) for k in numeric["kinks"]} == {(1, why)}
    assert [0, 1] in [k["index"] for k in numeric["kinks"] if k["quantity"] == "0.weight"]
    assert answer["deviations"]["manual"]["kink_count"] == 0  # manual takes torch's side


async def test_without_kink_handling_the_numeric_answer_really_is_off(
    client: httpx.AsyncClient,
) -> None:
    """The control for the case above: the numeric values themselves are the two-sided mean."""
    body = two_layer({"type": "relu"}, [1.0, -1.0]) | {"engines": ["autograd", "numeric"]}
    answer = await gradients(client, body)
    numeric = np.array(answer["engines"]["numeric"]["gradients"]["0.weight"])
    torch_side = np.array(answer["gradients"]["0.weight"])
    np.testing.assert_allclose(torch_side, 0.0)
    np.testing.assert_allclose(numeric, [[-0.3, 0.3], [0.6, -0.6], [-0.15, 0.15]], atol=1e-4)


async def test_a_step_that_crosses_a_kink_is_left_out_and_one_that_does_not_is_compared(
    client: httpx.AsyncClient,
) -> None:
    # z₀ = 2e-6 > 0: the numeric step h = 6e-6 (x = 1) moves z₀ by ±h·x₀ = ±6e-6 across 0;
    # z₁ = 0.3·(1 − 1) = 0 sits on it, z₂ = −1e-3 is far beyond the step from it.
    body = two_layer({"type": "relu"}, [1.0, -1.0], bias=[2e-6, 0.0, -1e-3])
    body |= {"engines": ["autograd", "numeric"]}
    numeric = (await gradients(client, body))["deviations"]["numeric"]
    weights = sorted(tuple(k["index"]) for k in numeric["kinks"] if k["quantity"] == "0.weight")
    assert weights == [(0, 0), (0, 1), (1, 0), (1, 1)]  # unit 2's row is compared
    assert numeric["agree"] is True


async def test_a_smooth_network_has_no_kinks(client: httpx.AsyncClient) -> None:
    body = two_layer({"type": "sigmoid"}, [1.0, -1.0]) | {
        "engines": ["autograd", "manual", "numeric"]
    }
    answer = await gradients(client, body)
    assert answer["agree"] is True
    assert all(d["kink_count"] == 0 and d["kinks"] == [] for d in answer["deviations"].values())
    seed = await gradients(client, {"engines": ["autograd", "manual", "numeric"]})
    assert all(d["kink_count"] == 0 for d in seed["deviations"].values())


async def test_near_a_kink_outside_the_step_everything_is_compared(
    client: httpx.AsyncClient,
) -> None:
    """z = ±1e-3: near 0, but neither on it (rounding is ~1e-14) nor within a step (6e-6)."""
    body = two_layer({"type": "relu"}, [1.0, -1.0], bias=[1e-3, -1e-3, 1e-3])
    answer = await gradients(client, body | {"engines": ["autograd", "manual", "numeric"]})
    assert answer["agree"] is True
    assert all(d["kink_count"] == 0 for d in answer["deviations"].values())
    assert 1e-3 > DEFAULT_STEP > ON_KINK_ULPS * np.finfo(np.float64).eps


# --- the check: a valid one-sided derivative passes, a real error fails ------------------------


async def test_a_candidate_with_relu_prime_of_zero_equal_to_one_passes(
    client: httpx.AsyncClient,
) -> None:
    body = two_layer({"type": "relu"}, [1.0, -1.0])
    report = await check(client, body, by_hand([1.0, -1.0], slope_at_zero=1.0))
    assert report["verdict"] == "pass"
    assert report["score"] == 1.0
    assert report["kink_count"] == 6 + 3 + 2
    assert report["gradients"]["0.weight"]["kink_count"] == 6
    assert {k["why"] for k in report["kinks"]} == {RELU}
    assert [0] in [k["index"] for k in report["kinks"] if k["quantity"] == "input_gradient"]
    torch_side = await check(client, body, by_hand([1.0, -1.0], slope_at_zero=0.0))
    assert torch_side["verdict"] == "pass"
    assert torch_side["kink_count"] == 0  # torch's own side needs no excuse


async def test_a_real_bug_next_to_a_kink_is_still_reported(client: httpx.AsyncClient) -> None:
    body = two_layer({"type": "relu"}, [1.0, -1.0])
    candidate = by_hand([1.0, -1.0], slope_at_zero=1.0)
    candidate["gradients"]["0.weight"][1][0] *= 3  # outside both sides: −2·1.2·... wrong
    candidate["gradients"]["2.weight"] = [[0.5, 0.5, 0.5]]  # no kink upstream of 2.weight
    report = await check(client, body, candidate)
    assert report["verdict"] == "fail"
    weight = report["gradients"]["0.weight"]
    assert weight["status"] == "mismatch"
    assert [m["index"] for m in weight["mismatches"]] == [[1, 0]]
    assert weight["kink_count"] == 5
    assert report["gradients"]["2.weight"]["status"] == "mismatch"


async def test_near_a_kink_a_wrong_side_is_an_error(client: httpx.AsyncClient) -> None:
    """z = −1e-3 is on relu's flat side, not on its kink: a slope of 1 there is wrong."""
    bias = [-1e-3, -1e-3, -1e-3]
    body = two_layer({"type": "relu"}, [1.0, -1.0], bias=bias)
    w1, x = np.array(W1), np.array([1.0, -1.0])
    g = 2 * (0.1 - 0.4)
    gz = np.array(W2[0]) * g  # relu'(z) = 1 taken where z < 0
    candidate = {"gradients": {"0.weight": np.outer(gz, x).tolist(), "0.bias": gz.tolist(),
                               "2.weight": [[0.0, 0.0, 0.0]], "2.bias": [g]},
                 "input_gradient": (w1.T @ gz).tolist()}  # fmt: skip
    report = await check(client, body, candidate)
    assert report["verdict"] == "fail"
    assert report["kink_count"] == 0
    assert report["gradients"]["0.bias"]["mismatch_count"] == 3


# --- max-pool ties and the losses' hinges ------------------------------------------------------


async def test_max_pool_ties_on_a_flat_image(client: httpx.AsyncClient) -> None:
    """A constant 4×4 image: every 2×2 window is a four-way tie. torch sends each window's
    gradient to its first entry; sending it to the last is as valid."""
    layers = [{"type": "max_pool2d", "kernel_size": 2}, {"type": "flatten"},
              {"type": "linear", "in_features": 4, "out_features": 1}]  # fmt: skip
    w = [[0.5, -1.0, 2.0, 0.25]]
    body = {"network": {"layers": layers}, "weights": {"2.weight": w, "2.bias": [0.0]},
            "x": [[[0.7] * 4] * 4], "y": [1.0], "engines": ["autograd", "numeric"]}  # fmt: skip
    answer = await gradients(client, body)
    numeric = answer["deviations"]["numeric"]
    assert answer["agree"] is True
    assert numeric["kink_count"] == 16  # every input entry is in a tie
    assert {k["layer"] for k in numeric["kinks"]} == {0}
    assert "max_pool2d" in numeric["kinks"][0]["why"]
    # the last entry of each window: dL/dx there is dL/dp·w[window], elsewhere 0
    g = 2 * (0.7 * sum(w[0]) - 1.0)
    last = np.zeros((1, 4, 4))
    for window, (i, j) in enumerate([(1, 1), (1, 3), (3, 1), (3, 3)]):
        last[0, i, j] = g * w[0][window]
    first = np.array(answer["input_gradient"])
    assert first[0, 0, 0] == pytest.approx(g * w[0][0])  # torch's: the window's first
    del body["engines"]
    report = await check(client, body, {"input_gradient": last.tolist(), "gradients": {}})
    assert report["input_gradient"]["status"] == "ok"
    assert report["input_gradient"]["kink_count"] == 8  # 4 windows × (the first and the last)


@pytest.mark.parametrize(
    ("loss", "why"),
    [
        ("l1", "l1 at a zero residual: torch takes sign(0) = 0"),
        ({"type": "smooth_l1", "beta": 0.0}, "smooth_l1 with beta 0 (l1) at a zero residual"),
    ],
)
async def test_l1_at_a_zero_residual_takes_either_sign(
    client: httpx.AsyncClient, loss: Any, why: str
) -> None:
    """p = w·x = 0.5 = y: the residual is 0, |d|'s slope is anywhere in [−1, 1]; torch takes 0,
    a student's sign(0) = +1 gives dL/dw = x = 2, and −1 gives −2."""
    body = {"network": {"layers": [{"type": "linear", "in_features": 1, "out_features": 1,
                                    "bias": False}]},
            "weights": {"0.weight": [[0.25]]}, "x": [2.0], "y": [0.5], "loss": loss}  # fmt: skip
    answer = await gradients(client, body | {"engines": ["autograd", "numeric"]})
    assert answer["gradients"]["0.weight"] == [[0.0]]
    for slope in (1.0, -1.0, 0.5):
        report = await check(client, body, {"gradients": {"0.weight": [[2.0 * slope]]}})
        assert report["verdict"] == "pass", slope
        assert report["kinks"][0]["layer"] is None  # the loss's kink
        assert report["kinks"][0]["why"].startswith(why)
    report = await check(client, body, {"gradients": {"0.weight": [[4.0]]}})  # beyond both sides
    assert report["verdict"] == "fail"


async def test_multi_margin_at_its_hinge(client: httpx.AsyncClient) -> None:
    """Scores p = [1.0, 0.0] for class 0 with margin 1: the hinge margin − p[0] + p[1] is 0.
    torch's slope there is 0; central differences take ½."""
    body = {"network": {"layers": [{"type": "linear", "in_features": 1, "out_features": 2}]},
            "weights": {"0.weight": [[1.0], [0.0]], "0.bias": [0.0, 0.0]},
            "x": [1.0], "y": 0, "loss": "multi_margin",
            "engines": ["autograd", "numeric"]}  # fmt: skip
    answer = await gradients(client, body)
    numeric = answer["deviations"]["numeric"]
    assert answer["agree"] is True
    assert numeric["kink_count"] > 0
    assert "multi_margin at a hinge" in numeric["kinks"][0]["why"]
    np.testing.assert_allclose(answer["gradients"]["0.bias"], [0.0, 0.0])
    # the other side: the hinge active, ½(1 − p[0] + p[1]) over 2 classes: dL/dp = [−½, ½]
    del body["engines"]
    report = await check(client, body, {"gradients": {"0.weight": [[-0.5], [0.5]],
                                                      "0.bias": [-0.5, 0.5]}})  # fmt: skip
    assert report["verdict"] == "pass"
    assert report["kink_count"] == 4


def test_torch_takes_the_side_the_messages_name() -> None:
    """relu'(0) = 0, leaky_relu'(0) = negative_slope, sign(0) = 0: torch's conventions."""
    z = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch.relu(z).backward()
    assert z.grad is not None
    assert z.grad.item() == 0.0
    z.grad = None
    torch.nn.functional.leaky_relu(z, 0.1).backward()
    assert z.grad.item() == pytest.approx(0.1)
    z.grad = None
    z.abs().backward()
    assert z.grad.item() == 0.0
