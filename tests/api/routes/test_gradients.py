"""POST /gradients over HTTP: shapes, defaults, options, and every malformed request a 4xx."""

from typing import Any

import httpx
import numpy as np
import pytest
import torch

from service.core import seed
from service.schemas.responses import ErrorResponse, GradientsResponse
from service.schemas.values import Tolerance
from tests.nets import ACTIVATIONS, mlp, torch_sequential

LINEAR_2_3 = {"type": "linear", "in_features": 2, "out_features": 3}


async def post(client: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await client.post("/gradients", json=body)


async def test_response_is_the_documented_model(client: httpx.AsyncClient) -> None:
    response = await post(client, {})
    assert response.headers["content-type"] == "application/json"
    body = GradientsResponse.model_validate_json(response.content)
    assert body.reference == "autograd"
    assert set(body.engines) == {"autograd", "manual"}
    assert set(body.deviations) == {"manual"}
    assert body.dtype == "float64"
    assert body.tolerance == Tolerance(atol=1e-12, rtol=1e-9)
    assert list(body.gradients) == [
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
        "4.weight",
        "4.bias",
    ]
    assert np.array(body.gradients["2.weight"]).shape == (10, 10)
    assert body.engines["autograd"].gradients == body.gradients


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: str(a))
@pytest.mark.parametrize("loss", ["sse", "mse"])
async def test_explicit_weights_batch_against_torch(
    client: httpx.AsyncClient, activation: dict, loss: str
) -> None:
    layers = mlp(activation, (3, 4, 2))
    torch.manual_seed(5)
    net = torch_sequential(layers).double()
    weights = {k: v.tolist() for k, v in net.state_dict().items()}
    x = torch.randn(5, 3, dtype=torch.float64)
    y = torch.randn(5, 2, dtype=torch.float64)
    expected_loss = torch.nn.functional.mse_loss(
        net(x), y, reduction="sum" if loss == "sse" else "mean"
    )
    expected_loss.backward()

    body = {
        "network": {"layers": layers},
        "weights": weights,
        "x": x.tolist(),
        "y": y.tolist(),
        "loss": loss,
    }
    response = await post(client, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["loss"] == pytest.approx(expected_loss.item(), rel=1e-14)
    assert np.array(result["prediction"]).shape == (5, 2)
    for name, p in net.named_parameters():
        np.testing.assert_allclose(result["gradients"][name], p.grad.numpy(), rtol=1e-12)
    assert result["deviations"]["manual"]["max_rel"] <= 1e-12
    assert result["agree"] is True


async def test_float32(client: httpx.AsyncClient) -> None:
    result = (await post(client, {"dtype": "float32"})).json()
    assert result["dtype"] == "float32"
    assert result["tolerance"] == {"atol": 1e-5, "rtol": 1e-4}
    float64 = (await post(client, {})).json()
    assert result["loss"] == pytest.approx(float64["loss"], rel=1e-6)
    assert result["loss"] != float64["loss"]
    assert result["agree"] is True


async def test_tolerance_can_be_set(client: httpx.AsyncClient) -> None:
    result = (await post(client, {"tolerance": {"atol": 0, "rtol": 0}})).json()
    assert result["tolerance"] == {"atol": 0.0, "rtol": 0.0}
    assert result["agree"] == (result["deviations"]["manual"]["max_abs"] == 0)


async def test_single_point_and_batch_shapes(client: httpx.AsyncClient) -> None:
    single = (await post(client, {"x": [0.5, 0.25]})).json()
    assert np.array(single["prediction"]).shape == (1,)
    batch = (await post(client, {"x": [[0.5, 0.25], [1.0, 2.0]]})).json()
    assert np.array(batch["prediction"]).shape == (2, 1)
    assert batch["prediction"][0] == single["prediction"]


async def test_default_labels_are_half_the_squared_norm(client: httpx.AsyncClient) -> None:
    x = [[0.5, 0.25], [1.0, 2.0]]
    implicit = (await post(client, {"x": x})).json()
    explicit = (await post(client, {"x": x, "y": [[0.15625], [2.5]]})).json()
    assert implicit["loss"] == explicit["loss"]
    number = (await post(client, {"x": [1.0, 2.0], "y": 2.5})).json()
    vector = (await post(client, {"x": [1.0, 2.0], "y": [2.5]})).json()
    implied = (await post(client, {"x": [1.0, 2.0]})).json()
    assert number["loss"] == vector["loss"] == implied["loss"]


async def test_several_outputs_and_no_linear_layer(client: httpx.AsyncClient) -> None:
    result = (await post(client, {"network": {"layers": [LINEAR_2_3]}, "y": [1, 2, 3]})).json()
    assert np.array(result["prediction"]).shape == (3,)
    tanh_only = {"network": {"layers": [{"type": "tanh"}]}, "x": [0.5, -0.5], "y": [0, 0]}
    result = (await post(client, tanh_only)).json()
    assert result["gradients"] == {}
    assert result["prediction"] == pytest.approx([np.tanh(0.5), -np.tanh(0.5)], rel=1e-15)


async def test_bias_false_has_no_bias_gradient(client: httpx.AsyncClient) -> None:
    layer = {"type": "linear", "in_features": 2, "out_features": 1, "bias": False}
    result = (await post(client, {"network": {"layers": [layer]}})).json()
    assert list(result["gradients"]) == ["0.weight"]


async def test_seed_changes_the_weights(client: httpx.AsyncClient) -> None:
    zero = (await post(client, {"init_seed": 0})).json()
    one = (await post(client, {"init_seed": 1})).json()
    assert zero["loss"] != one["loss"]


# --- bad input: a 4xx whose detail names the field --------------------------------------------

SEED_WEIGHTS_SHAPES = {"0.weight": (10, 2), "0.bias": (10,), "2.weight": (10, 10)}


def zeros(shape: tuple[int, ...]) -> list:
    return np.zeros(shape).tolist()


BAD: list[tuple[str, Any, int, list, str]] = [
    # (id, body, status, loc of the first error, words in its message)
    (
        "not chained",
        {
            "network": {
                "layers": [LINEAR_2_3, {"type": "linear", "in_features": 4, "out_features": 1}]
            }
        },
        422,
        ["body", "network", "layers", 1, "in_features"],
        "the output of layer 0 (linear)",
    ),
    (
        "weight transposed",
        {
            "network": {"layers": [LINEAR_2_3]},
            "y": [0, 0, 0],
            "weights": {"0.weight": zeros((2, 3)), "0.bias": zeros(3)},
        },
        422,
        ["body", "weights", "0.weight"],
        "expected shape [3, 2]",
    ),
    (
        "weight missing",
        {
            "network": {"layers": [LINEAR_2_3]},
            "y": [0, 0, 0],
            "weights": {"0.weight": zeros((3, 2))},
        },
        422,
        ["body", "weights"],
        "missing '0.bias'",
    ),
    (
        "weight unexpected",
        {
            "network": {"layers": [LINEAR_2_3]},
            "y": [0, 0, 0],
            "weights": {"0.weight": zeros((3, 2)), "0.bias": zeros(3), "1.weight": [1.0]},
        },
        422,
        ["body", "weights", "1.weight"],
        "unexpected name '1.weight'",
    ),
    (
        "weights and seed",
        {
            "network": {"layers": [LINEAR_2_3]},
            "y": [0, 0, 0],
            "init_seed": 3,
            "weights": {"0.weight": zeros((3, 2)), "0.bias": zeros(3)},
        },
        422,
        ["body", "init_seed"],
        "either weights or init_seed",
    ),
    (
        "ragged weight",
        {
            "network": {"layers": [LINEAR_2_3]},
            "y": [0, 0, 0],
            "weights": {"0.weight": [[0, 0], [0], [0, 0]], "0.bias": zeros(3)},
        },
        422,
        ["body", "weights", "0.weight", 1],
        "same length",
    ),
    ("x width", {"x": [1, 2, 3]}, 422, ["body", "x"], "takes 2 features"),
    ("x batch width", {"x": [[1, 2, 3]]}, 422, ["body", "x"], "gets an input of shape [3]"),
    ("ragged x", {"x": [[1, 2], [3]]}, 422, ["body", "x", 1], "row 1 has 1"),
    ("empty x", {"x": []}, 422, ["body", "x"], "at least one number"),
    ("x too deep", {"x": [[[1, 2]]]}, 422, ["body", "x"], "this x has 3"),
    ("x a string", {"x": "1, 2"}, 422, ["body", "x"], "valid list"),
    (
        "y shape",
        {"x": [[1, 2], [3, 4]], "y": [[1], [2], [3]]},
        422,
        ["body", "y"],
        "expected shape [2, 1]",
    ),
    (
        "y flat for a batch",
        {"x": [[1, 2], [3, 4]], "y": [1, 2]},
        422,
        ["body", "y"],
        "[[y1], [y2], …]",
    ),
    (
        "y number for a batch",
        {"x": [[1, 2], [3, 4]], "y": 1},
        422,
        ["body", "y"],
        "expected shape [2, 1]",
    ),
    (
        "y missing, 3 outputs",
        {"network": {"layers": [LINEAR_2_3]}},
        422,
        ["body", "y"],
        "y is required",
    ),
    (
        "x missing, 3 inputs",
        {"network": {"layers": [{"type": "linear", "in_features": 3, "out_features": 1}]}},
        422,
        ["body", "x"],
        "x is required",
    ),
    (
        "unknown layer",
        {"network": {"layers": [{"type": "attention"}]}},
        422,
        ["body", "network", "layers", 0],
        "'attention'",
    ),
    ("no layers", {"network": {"layers": []}}, 422, ["body", "network", "layers"], "at least 1"),
    (
        "layer field missing",
        {"network": {"layers": [{"type": "linear", "in_features": 2}]}},
        422,
        ["body", "network", "layers", 0, "out_features"],
        "Field required",
    ),
    (
        "layer unknown field",
        {"network": {"layers": [{"type": "relu", "inplace": True}]}},
        422,
        ["body", "network", "layers", 0, "inplace"],
        "Extra inputs",
    ),
    (
        "zero width",
        {"network": {"layers": [{"type": "linear", "in_features": 0, "out_features": 1}]}},
        422,
        ["body", "network", "layers", 0, "in_features"],
        "greater than",
    ),
    ("unknown loss", {"loss": "hinge"}, 422, ["body", "loss"], "'huber' or 'multi_margin'"),
    ("unknown dtype", {"dtype": "float16"}, 422, ["body", "dtype"], "'float64' or 'float32'"),
    ("misspelt field", {"learning_rat": 0.1}, 422, ["body", "learning_rat"], "Extra inputs"),
    ("false is not a number", {"x": [1.0, False]}, 422, ["body", "x", 1], "valid number"),
    ("string is not a number", {"y": "0.7"}, 422, ["body", "y"], ""),
    ("string seed", {"init_seed": "1"}, 422, ["body", "init_seed"], "valid integer"),
    ("negative seed", {"init_seed": -1}, 422, ["body", "init_seed"], "greater than or equal"),
    (
        "negative tolerance",
        {"tolerance": {"atol": -1}},
        422,
        ["body", "tolerance", "atol"],
        "greater than or equal",
    ),
    (
        "softplus beta 0",
        {"network": {"layers": [{"type": "softplus", "beta": 0}]}},
        422,
        ["body", "network", "layers", 0, "beta"],
        "greater than 0",
    ),
    ("float32 overflow", {"x": [1e39, 1], "dtype": "float32"}, 422, ["body", "x"], "float32"),
    ("body not an object", [1, 2], 422, ["body"], "valid dictionary"),
]


@pytest.mark.parametrize(("body", "status", "loc", "words"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])  # fmt: skip
async def test_bad_request_names_the_field(
    client: httpx.AsyncClient, body: Any, status: int, loc: list, words: str
) -> None:
    response = await post(client, body)
    assert response.status_code == status, response.text
    ErrorResponse.model_validate_json(response.content)
    detail = response.json()["detail"]
    assert detail[0]["loc"] == loc, detail
    assert words in detail[0]["msg"], detail


async def test_missing_and_unexpected_weights_are_all_listed(client: httpx.AsyncClient) -> None:
    response = await post(client, {"weights": {"0.weight": zeros((10, 2)), "x": [1], "y": [2]}})
    messages = [d["msg"] for d in response.json()["detail"]]
    assert sum(m.startswith("missing") for m in messages) == 5
    assert sum(m.startswith("unexpected") for m in messages) == 2


NON_FINITE = [
    ('{"x": [NaN, 1]}', ["body", "x", 0]),
    ('{"x": [[1, 2], [Infinity, 1]]}', ["body", "x", 1, 0]),
    ('{"y": -Infinity}', ["body", "y"]),
    ('{"y": [1e400]}', ["body", "y", 0]),
    ('{"tolerance": {"rtol": NaN}}', ["body", "tolerance", "rtol"]),
    ('{"network": {"layers": [{"type": "elu", "alpha": Infinity}]}}',
     ["body", "network", "layers", 0, "alpha"]),
    ('{"weights": {"0.weight": [[NaN]]}}', ["body", "weights", "0.weight", 0, 0]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "loc"), NON_FINITE)
async def test_non_finite_numbers_are_a_422_naming_the_field(
    client: httpx.AsyncClient, text: str, loc: list
) -> None:
    response = await client.post(
        "/gradients", content=text, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == loc
    assert detail[0]["msg"] == "Input should be a finite number"


@pytest.mark.parametrize(
    "text", ['{"x": [1, 2', "not json", '{"x": [1, 2],}', "\ud800", "[" * 100_000]
)
async def test_malformed_json_is_a_400(client: httpx.AsyncClient, text: str) -> None:
    response = await client.post(
        "/gradients", content=text.encode("utf-8", "surrogatepass"),
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body"]
    assert item["msg"].startswith("the body is not valid JSON")


async def test_overflow_in_the_maths_is_a_422_naming_the_quantity(
    client: httpx.AsyncClient,
) -> None:
    layers = [{"type": "linear", "in_features": 2, "out_features": 1}]
    body = {"network": {"layers": layers}, "weights": {"0.weight": [[1e200, 1e200]],
            "0.bias": [0.0]}, "x": [1e200, 1e200], "y": 0.0}  # fmt: skip
    response = await post(client, body)
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["type"] == "non_finite_result"
    assert item["msg"].startswith("the autograd engine's prediction overflowed")

    body["x"] = [1e100, 1e100]  # prediction 2e300 is finite, the loss (2e300)² is not
    (item,) = (await post(client, body)).json()["detail"]
    assert item["msg"].startswith("the autograd engine's loss overflowed")


async def test_default_labels_that_overflow_are_a_422(client: httpx.AsyncClient) -> None:
    response = await post(client, {"x": [1e200, 1.0]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "y"]


# --- options: engines, input gradient, learning rate, trace, classification losses -------------


async def test_input_gradient_has_the_shape_of_x(client: httpx.AsyncClient) -> None:
    single = (await post(client, {})).json()
    assert np.array(single["input_gradient"]).shape == (2,)
    assert "input_gradient" in single["deviations"]["manual"]
    batch = (await post(client, {"x": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]})).json()
    assert np.array(batch["input_gradient"]).shape == (3, 2)


async def test_learning_rate_adds_updated_weights(client: httpx.AsyncClient) -> None:
    result = (await post(client, {"learning_rate": 0.05})).json()
    torch.manual_seed(0)
    initial = torch_sequential(seed.LAYERS).double().state_dict()
    for name, w in initial.items():
        expected = w.numpy() - 0.05 * np.array(result["gradients"][name])
        np.testing.assert_allclose(result["updated_weights"][name], expected, rtol=1e-15)
    assert set(result["deviations"]["manual"]["updated_weights"]) == set(initial)
    plain = (await post(client, {})).json()
    assert plain["updated_weights"] is plain["deviations"]["manual"]["updated_weights"] is None


async def test_trace_lists_every_layer(client: httpx.AsyncClient) -> None:
    result = (await post(client, {"trace": True, "engines": ["autograd"]})).json()
    trace = result["trace"]
    assert [step["type"] for step in trace] == ["linear", "sigmoid", "linear", "sigmoid", "linear"]
    assert trace[0]["input"] == [0.9861, 0.668]
    # the trace is the manual engine's, the prediction autograd's: equal to the last ulp or so (each
    # library's kernels round by CPU)
    np.testing.assert_allclose(trace[-1]["z"], result["prediction"], rtol=1e-15)
    torch.manual_seed(0)
    w = {k: v.numpy() for k, v in torch_sequential(seed.LAYERS).double().state_dict().items()}
    z0 = w["0.weight"] @ np.array(trace[0]["input"]) + w["0.bias"]
    np.testing.assert_allclose(trace[0]["z"], z0, rtol=1e-14)
    np.testing.assert_allclose(trace[1]["a"], 1 / (1 + np.exp(-z0)), rtol=1e-14)
    np.testing.assert_allclose(trace[2]["input"], trace[1]["a"], rtol=0)
    assert trace[-1]["grad_z"] == [2 * (result["prediction"][0] - 0.7093)]
    assert "manual" in result["engines"]  # the trace is the manual engine's
    assert (await post(client, {})).json()["trace"] is None


async def test_engines_choice(client: httpx.AsyncClient) -> None:
    only = (await post(client, {"engines": ["autograd"]})).json()
    assert set(only["engines"]) == {"autograd"}
    assert only["deviations"] == {}
    assert only["agree"] is True
    manual_only = (await post(client, {"engines": ["manual"]})).json()
    assert set(manual_only["engines"]) == {"autograd", "manual"}


async def test_cross_entropy_over_http(client: httpx.AsyncClient) -> None:
    layers = [LINEAR_2_3]
    body = {"network": {"layers": layers}, "x": [[1.0, 2.0], [0.5, -1.0]], "y": [2, 0],
            "loss": "cross_entropy", "init_seed": 3}  # fmt: skip
    result = (await post(client, body)).json()
    torch.manual_seed(3)
    net = torch_sequential(layers).double()
    loss = torch.nn.CrossEntropyLoss()(net(torch.tensor(body["x"], dtype=torch.float64)),
                                       torch.tensor([2, 0]))  # fmt: skip
    assert result["loss"] == pytest.approx(loss.item(), rel=1e-14)
    assert result["agree"]


CLASSIFICATION_ERRORS = [
    ({"loss": "cross_entropy", "y": 3}, ["body", "y"], "out of range for 3 classes"),
    ({"loss": "cross_entropy", "y": 1.5}, ["body", "y"], "must be an integer"),
    ({"loss": "cross_entropy", "y": [1]}, ["body", "y"], "a bare integer for one sample"),
    ({"loss": "cross_entropy", "x": [[1, 2], [3, 4]], "y": [0, 5]}, ["body", "y", 1],
     "out of range"),
    ({"loss": "cross_entropy", "x": [[1, 2], [3, 4]], "y": [0]}, ["body", "y"],
     "a list of 2 integers"),
    ({"loss": "cross_entropy"}, ["body", "y"], "y is required"),
    ({"loss": "bce_with_logits", "y": [0, 1.5, 0]}, ["body", "y", 1], "in [0, 1]"),
    ({"loss": "bce_with_logits", "y": [0, -0.5, 0]}, ["body", "y", 1], "in [0, 1]"),
    ({"loss": "bce_with_logits"}, ["body", "y"], "y is required"),
    ({"engines": ["jax"]}, ["body", "engines", 0], "'autograd', 'manual' or 'numeric'"),
    ({"engines": []}, ["body", "engines"], "at least 1"),
    ({"learning_rate": 0}, ["body", "learning_rate"], "greater than 0"),
    ({"trace": "yes"}, ["body", "trace"], "valid boolean"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "loc", "words"), CLASSIFICATION_ERRORS)
async def test_option_errors(client: httpx.AsyncClient, extra: dict, loc: list, words: str) -> None:
    body = {"network": {"layers": [LINEAR_2_3]}, **extra}
    response = await post(client, body)
    assert response.status_code == 422, response.text
    item = response.json()["detail"][0]
    assert item["loc"] == loc
    assert words in item["msg"]


# --- the numeric engine -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss", ["sse", "mse"])
async def test_three_engines_agree(client: httpx.AsyncClient, dtype: str, loss: str) -> None:
    body = {"engines": ["autograd", "manual", "numeric"], "dtype": dtype, "loss": loss,
            "x": [[0.5, -1.0], [2.0, 0.25]], "learning_rate": 0.05}  # fmt: skip
    result = (await post(client, body)).json()
    assert set(result["deviations"]) == {"manual", "numeric"}
    numeric = result["deviations"]["numeric"]
    assert numeric["agree"], numeric
    bound = 1e-6 if dtype == "float64" else 1e-3
    assert 0 < numeric["max_abs"] < bound
    assert set(numeric["updated_weights"]) == set(result["gradients"])
    assert result["agree"]


async def test_numeric_tolerance_and_step_can_be_set(client: httpx.AsyncClient) -> None:
    body = {"engines": ["numeric"], "numeric": {"step": 1e-3, "tolerance": {"atol": 0, "rtol": 0}}}
    result = (await post(client, body)).json()
    assert result["deviations"]["numeric"]["tolerance"] == {"atol": 0.0, "rtol": 0.0}
    assert result["deviations"]["numeric"]["agree"] is False  # differences are never exact
    assert result["deviations"]["numeric"]["max_abs"] > 1e-9  # a coarse step is visible


async def test_numeric_cost_has_a_limit(client: httpx.AsyncClient) -> None:
    mnist = mlp({"type": "relu"}, (784, 256, 256, 10))
    x = np.zeros((2, 784)).tolist()
    body = {
        "engines": ["numeric"],
        "network": {"layers": mnist},
        "x": x,
        "y": np.zeros((2, 10)).tolist(),
    }
    response = await post(client, body)
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "engines"]
    assert item["ctx"]["limit"] == "max_numeric_cost"
    assert item["ctx"]["asked"] > item["ctx"]["value"] == 2_000_000_000
