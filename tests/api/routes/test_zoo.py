"""The layer zoo over HTTP: every kind and loss against torch.nn modules built independently,
in float64 and float32, one sample and a batch; and each kind's shape errors a 422 naming the
field."""

from typing import Any

import httpx
import numpy as np
import pytest
import torch

from service.schemas.responses import GradientsResponse
from tests.nets import torch_sequential

# Each case: layers, x's shape for one sample, and the loss's targets ("values" or classes).
IMAGE = (2, 6, 6)
CASES: dict[str, tuple[list[dict[str, Any]], tuple[int, ...]]] = {
    "conv2d": (
        [
            {"type": "conv2d", "in_channels": 2, "out_channels": 3, "kernel_size": [3, 2],
             "stride": [2, 1], "padding": 1, "dilation": [1, 2]},
            {"type": "tanh"},
            {"type": "flatten"},
        ],
        IMAGE,
    ),
    "max_pool2d": (
        [{"type": "max_pool2d", "kernel_size": 2, "stride": 1, "padding": 1}, {"type": "flatten"}],
        IMAGE,
    ),
    "avg_pool2d": (
        [
            {"type": "avg_pool2d", "kernel_size": 3, "stride": 2, "padding": 1,
             "count_include_pad": False},
            {"type": "flatten"},
        ],
        IMAGE,
    ),
    "batch_norm2d": (
        [{"type": "batch_norm2d", "num_features": 2}, {"type": "flatten", "start_dim": 2}],
        IMAGE,
    ),
    "batch_norm1d": (
        [{"type": "linear", "in_features": 4, "out_features": 3},
         {"type": "batch_norm1d", "num_features": 3, "eps": 1e-3}],
        (4,),
    ),
    "layer_norm": (
        [
            {"type": "conv2d", "in_channels": 2, "out_channels": 2, "kernel_size": 1},
            {"type": "layer_norm", "normalized_shape": [6, 6], "eps": 1e-3},
            {"type": "flatten"},
        ],
        IMAGE,
    ),
    "dropout": (
        [{"type": "linear", "in_features": 4, "out_features": 6}, {"type": "dropout", "p": 0.3},
         {"type": "linear", "in_features": 6, "out_features": 2}],
        (4,),
    ),
    "softmax": (
        [{"type": "linear", "in_features": 4, "out_features": 3}, {"type": "softmax"}],
        (4,),
    ),
    "log_softmax": (
        [{"type": "linear", "in_features": 4, "out_features": 3}, {"type": "log_softmax"}],
        (4,),
    ),
    "residual": (
        [
            {"type": "linear", "in_features": 4, "out_features": 5},
            {"type": "residual", "layers": [
                {"type": "linear", "in_features": 5, "out_features": 5},
                {"type": "relu"},
                {"type": "residual",
                 "layers": [{"type": "linear", "in_features": 5, "out_features": 5}]},
            ]},
            {"type": "linear", "in_features": 5, "out_features": 2},
        ],
        (4,),
    ),
}  # fmt: skip

TOLERANCE = {"float64": {"rtol": 1e-10, "atol": 1e-12}, "float32": {"rtol": 2e-4, "atol": 2e-5}}
TORCH_DTYPE = {"float64": torch.float64, "float32": torch.float32}


def torch_prediction(layers: list[dict[str, Any]], x: np.ndarray, seed: int) -> np.ndarray:
    torch.manual_seed(seed)
    net = torch_sequential(layers).double().train()
    torch.manual_seed(seed)
    return net(torch.tensor(x)).detach().numpy()


# One sample x is run as a batch of one, `net(x[None])[0]`: what torch gives for every kind
# that takes unbatched input, and the only reading for flatten, which would flatten the channels.


def torch_answer(
    layers: list[dict[str, Any]], x: np.ndarray, y: np.ndarray, dtype: str, seed: int
) -> tuple[float, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Loss, prediction, gradients and dL/dx from torch.nn, initialised and run as a torch user
    would: `torch.manual_seed(seed)`, build, cast, `manual_seed(seed)` again before the forward
    pass (the dropout masks), train mode."""
    torch.manual_seed(seed)
    net = torch_sequential(layers).to(TORCH_DTYPE[dtype]).train()
    xt = torch.tensor(x, dtype=TORCH_DTYPE[dtype], requires_grad=True)
    torch.manual_seed(seed)
    out = net(xt)
    loss = torch.nn.functional.mse_loss(out, torch.tensor(y, dtype=TORCH_DTYPE[dtype]))
    loss.backward()
    assert xt.grad is not None
    grads = {name: p.grad.numpy() for name, p in net.named_parameters() if p.grad is not None}
    return loss.item(), out.detach().numpy(), grads, xt.grad.numpy()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("kind", list(CASES))
async def test_every_kind_equals_torch(
    client: httpx.AsyncClient, kind: str, batch: int | None, dtype: str
) -> None:
    layers, sample = CASES[kind]
    if batch is None and kind.startswith("batch_norm"):
        pytest.skip("batch norm in train mode takes a batch (a 422, tested below)")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(batch or 1, *sample))
    y = rng.normal(size=torch_prediction(layers, x, 11).shape)
    loss, prediction, grads, grad_x = torch_answer(layers, x, y, dtype, 11)
    if batch is None:  # one sample: no batch axis in or out
        x, y, prediction, grad_x = x[0], y[0], prediction[0], grad_x[0]
    body = {
        "network": {"layers": layers},
        "init_seed": 11,
        "dropout_seed": 11,
        "x": x.tolist(),
        "y": y.tolist(),
        "loss": "mse",
        "dtype": dtype,
        "engines": ["autograd", "manual"],
    }
    response = await client.post("/gradients", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["agree"] is True
    tolerance = TOLERANCE[dtype]
    for engine in ("autograd", "manual"):
        result = answer["engines"][engine]
        np.testing.assert_allclose(result["loss"], loss, **tolerance)
        np.testing.assert_allclose(result["prediction"], prediction, **tolerance)
        np.testing.assert_allclose(result["input_gradient"], grad_x, **tolerance)
        assert list(result["gradients"]) == list(grads)
        for name, expected in grads.items():
            np.testing.assert_allclose(result["gradients"][name], expected, **tolerance)


@pytest.mark.parametrize("kind", list(CASES))
async def test_every_kind_agrees_with_central_differences(
    client: httpx.AsyncClient, kind: str
) -> None:
    layers, sample = CASES[kind]
    x = np.random.default_rng(3).normal(size=(3, *sample))
    body = {"network": {"layers": layers}, "x": x.tolist(), "loss": "mse",
            "engines": ["autograd", "manual", "numeric"]}  # fmt: skip
    shape = torch_prediction(layers, x, 0).shape
    body["y"] = np.random.default_rng(4).normal(size=shape).tolist()
    response = await client.post("/gradients", json=body)
    assert response.status_code == 200, response.text
    deviations = response.json()["deviations"]
    assert deviations["manual"]["agree"] is True
    assert deviations["numeric"]["agree"] is True, deviations["numeric"]


SMALL_CNN = [
    {"type": "conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": 3},
    {"type": "relu"},
    {"type": "max_pool2d", "kernel_size": 2},
    {"type": "flatten"},
    {"type": "linear", "in_features": 8, "out_features": 3},
]


async def test_a_small_cnn_with_cross_entropy_one_image(client: httpx.AsyncClient) -> None:
    x = np.arange(36, dtype=np.float64).reshape(1, 6, 6) / 36 - 0.5
    body = {"network": {"layers": SMALL_CNN}, "init_seed": 2, "x": x.tolist(), "y": 1,
            "loss": "cross_entropy", "trace": True}  # fmt: skip
    response = await client.post("/gradients", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    torch.manual_seed(2)
    net = torch_sequential(SMALL_CNN).double()
    xt = torch.tensor(x[None], requires_grad=True)
    logits = net(xt)
    torch.nn.functional.cross_entropy(logits, torch.tensor([1])).backward()
    assert np.array(answer["prediction"]).shape == (3,)  # one image: [classes], as torch
    np.testing.assert_allclose(answer["prediction"], logits.detach().numpy()[0], rtol=1e-12)
    np.testing.assert_allclose(answer["input_gradient"], xt.grad.numpy()[0], rtol=1e-10, atol=1e-14)
    assert np.array(answer["gradients"]["0.weight"]).shape == (2, 1, 3, 3)
    for name, p in net.named_parameters():
        np.testing.assert_allclose(
            answer["gradients"][name], p.grad.numpy(), rtol=1e-10, atol=1e-14
        )
    GradientsResponse.model_validate(answer)  # the trace of every kind is documented
    trace = answer["trace"]
    assert [step["type"] for step in trace] == [layer["type"] for layer in SMALL_CNN]
    assert np.array(trace[0]["output"]).shape == (2, 4, 4)
    assert np.array(trace[2]["values"]["indices"]).shape == (2, 2, 2)


async def test_batch_norm_accepts_a_real_state_dicts_buffers(client: httpx.AsyncClient) -> None:
    layers = [{"type": "linear", "in_features": 3, "out_features": 2},
              {"type": "batch_norm1d", "num_features": 2}]  # fmt: skip
    torch.manual_seed(0)
    net = torch_sequential(layers).double()
    weights = {k: v.tolist() for k, v in net.state_dict().items()}
    assert {"1.running_mean", "1.running_var", "1.num_batches_tracked"} <= set(weights)
    x = np.random.default_rng(0).normal(size=(4, 3))
    body = {"network": {"layers": layers}, "weights": weights, "x": x.tolist(),
            "y": np.zeros((4, 2)).tolist(), "trace": True}  # fmt: skip
    response = await client.post("/gradients", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer["gradients"]) == {"0.weight", "0.bias", "1.weight", "1.bias"}
    z = x @ np.array(weights["0.weight"]).T + np.array(weights["0.bias"])
    np.testing.assert_allclose(answer["trace"][1]["values"]["mean"], z.mean(axis=0), rtol=1e-12)


async def test_dropout_masks_are_torchs_and_in_the_trace(client: httpx.AsyncClient) -> None:
    layers, _ = CASES["dropout"]
    x = np.ones((5, 4))
    body = {"network": {"layers": layers}, "x": x.tolist(), "y": np.zeros((5, 2)).tolist(),
            "dropout_seed": 42, "trace": True}  # fmt: skip
    answer = (await client.post("/gradients", json=body)).json()
    torch.manual_seed(0)
    net = torch_sequential(layers).double().train()
    first = net[0](torch.tensor(x))
    torch.manual_seed(42)
    dropped = net[1](first)
    mask = (dropped != 0).numpy().astype(float)
    np.testing.assert_array_equal(answer["trace"][1]["values"]["mask"], mask)


def residual_names(layers: list[dict[str, Any]]) -> list[str]:
    torch.manual_seed(0)
    return [name for name, _ in torch_sequential(layers).named_parameters()]


async def test_residual_blocks_are_keyed_like_torch(client: httpx.AsyncClient) -> None:
    layers, _ = CASES["residual"]
    body = {"network": {"layers": layers}, "x": [1.0, 2.0, 3.0, 4.0], "y": [0.0, 0.0]}
    answer = (await client.post("/gradients", json=body)).json()
    assert list(answer["gradients"]) == residual_names(layers)
    assert "1.2.0.weight" in answer["gradients"]


LOSS_CASES: list[tuple[Any, torch.nn.Module, str]] = [
    ("nll", torch.nn.NLLLoss(), "classes"),
    ("l1", torch.nn.L1Loss(), "values"),
    ({"type": "smooth_l1", "beta": 0.5}, torch.nn.SmoothL1Loss(beta=0.5), "values"),
    ("smooth_l1", torch.nn.SmoothL1Loss(), "values"),
    ({"type": "huber", "delta": 0.3}, torch.nn.HuberLoss(delta=0.3), "values"),
    ("multi_margin", torch.nn.MultiMarginLoss(), "classes"),
    ({"type": "multi_margin", "p": 2, "margin": 0.5}, torch.nn.MultiMarginLoss(p=2, margin=0.5),
     "classes"),
]  # fmt: skip


@pytest.mark.parametrize(("loss", "module", "targets"), LOSS_CASES, ids=str)
async def test_every_loss_equals_torch(
    client: httpx.AsyncClient, loss: Any, module: torch.nn.Module, targets: str
) -> None:
    layers = [{"type": "linear", "in_features": 3, "out_features": 4}, {"type": "log_softmax"}]
    x = np.random.default_rng(5).normal(size=(6, 3))
    y = (
        np.array([0, 3, 1, 2, 2, 0])
        if targets == "classes"
        else np.random.default_rng(6).normal(size=(6, 4))
    )
    torch.manual_seed(0)
    net = torch_sequential(layers).double()
    yt = torch.tensor(y) if targets == "classes" else torch.tensor(y, dtype=torch.float64)
    value = module(net(torch.tensor(x)), yt)
    value.backward()
    body = {"network": {"layers": layers}, "x": x.tolist(), "y": y.tolist(), "loss": loss,
            "engines": ["autograd", "manual", "numeric"]}  # fmt: skip
    response = await client.post("/gradients", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["deviations"]["manual"]["agree"] is True
    np.testing.assert_allclose(answer["loss"], value.item(), rtol=1e-12)
    for name, p in net.named_parameters():
        np.testing.assert_allclose(
            answer["gradients"][name], p.grad.numpy(), rtol=1e-10, atol=1e-14
        )


LAYER_0 = ["body", "network", "layers", 0]
IMAGE_4 = np.zeros((1, 4, 4)).tolist()


def conv(**options: Any) -> dict[str, Any]:
    return {"type": "conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 2, **options}


BAD_LAYERS: list[tuple[str, list[dict[str, Any]], Any, list[Any], str]] = [
    # (id, layers, x, loc of the first error, words in its message)
    ("zero kernel", [conv(kernel_size=0)], IMAGE_4, [*LAYER_0, "kernel_size"], "greater than"),
    ("negative kernel", [{"type": "max_pool2d", "kernel_size": [2, -1]}], IMAGE_4,
     [*LAYER_0, "kernel_size", 1], "greater than"),
    ("stride 0", [conv(stride=0)], IMAGE_4, [*LAYER_0, "stride"], "greater than"),
    ("padding beyond half the kernel", [{"type": "max_pool2d", "kernel_size": 2, "padding": 2}],
     IMAGE_4, [*LAYER_0, "padding"], "half"),
    ("kernel larger than the input", [conv(kernel_size=5)], IMAGE_4, [*LAYER_0, "kernel_size"],
     "[1, 4, 4]"),
    ("conv on a 1-D input", [{"type": "linear", "in_features": 4, "out_features": 4},
                             conv(kernel_size=1)],
     [1.0, 2.0, 3.0, 4.0], ["body", "network", "layers", 1, "in_channels"], "[4]"),
    ("residual changes width",
     [{"type": "residual", "layers": [{"type": "linear", "in_features": 2, "out_features": 3}]}],
     [1.0, 2.0], [*LAYER_0, "layers"], "[3]"),
    ("batch norm on one sample", [{"type": "batch_norm1d", "num_features": 2}],
     [1.0, 2.0], ["body", "x"], "batch"),
    ("softmax over the batch", [{"type": "softmax", "dim": 0}],
     [[1.0, 2.0]], [*LAYER_0, "dim"], "batch"),
    ("layer norm's shape", [{"type": "layer_norm", "normalized_shape": 3}],
     [[1.0, 2.0]], ["body", "x"], "[2]"),
    ("dropout p above 1", [{"type": "dropout", "p": 1.5}],
     [[1.0, 2.0]], [*LAYER_0, "p"], "less than or equal"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "layers", "x", "loc", "words"), BAD_LAYERS, ids=[c[0] for c in BAD_LAYERS]
)
async def test_shape_errors_name_the_field(
    client: httpx.AsyncClient, case: str, layers: list, x: Any, loc: list, words: str
) -> None:
    body = {"network": {"layers": layers}, "x": x, "y": 0.0}
    response = await client.post("/gradients", json=body)
    assert response.status_code == 422, response.text
    first = response.json()["detail"][0]
    assert first["loc"] == loc, first
    assert words in first["msg"], first


TRAINED_CNN = [
    {"type": "conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": 1},
    {"type": "batch_norm2d", "num_features": 2},
    {"type": "relu"},
    {"type": "max_pool2d", "kernel_size": 2},
    {"type": "flatten"},
    {"type": "dropout", "p": 0.25},
    {"type": "linear", "in_features": 8, "out_features": 3},
]


async def test_training_a_cnn_equals_a_torch_loop(client: httpx.AsyncClient) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 1, 4, 4)), rng.integers(0, 3, size=6)
    body = {"network": {"layers": TRAINED_CNN}, "init_seed": 3, "dropout_seed": 9,
            "data": {"x": x.tolist(), "y": y.tolist()}, "loss": "cross_entropy",
            "batch_size": 2, "epochs": 2, "learning_rate": 0.1}  # fmt: skip
    response = await client.post("/train", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["within_tolerance"] is True
    torch.manual_seed(3)
    net = torch_sequential(TRAINED_CNN).double().train()
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    torch.manual_seed(9)  # the masks, step after step
    for _ in range(2):
        for begin in range(0, 6, 2):
            optimiser.zero_grad()
            logits = net(torch.tensor(x[begin : begin + 2]))
            torch.nn.functional.cross_entropy(logits, torch.tensor(y[begin : begin + 2])).backward()
            optimiser.step()
    final = answer["final_weights"]["autograd"]
    for name, p in net.named_parameters():
        np.testing.assert_allclose(final[name], p.detach().numpy(), rtol=1e-12, atol=1e-14)


async def test_a_batch_norm_net_refuses_batches_of_one(client: httpx.AsyncClient) -> None:
    layers = [{"type": "linear", "in_features": 3, "out_features": 2},
              {"type": "batch_norm1d", "num_features": 2}]  # fmt: skip
    x = np.random.default_rng(0).normal(size=(5, 3))
    data = {"x": x.tolist(), "y": np.zeros((5, 2)).tolist()}
    body = {"network": {"layers": layers}, "data": data, "batch_size": 2}
    response = await client.post("/train", json=body)
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "batch_size"]
    assert "last batch" in item["msg"]
    body["batch_size"] = 1
    (item,) = (await client.post("/train", json=body)).json()["detail"]
    assert "a batch of 1 does not suit" in item["msg"]


async def test_checking_a_cnns_gradients(client: httpx.AsyncClient) -> None:
    x = np.arange(36, dtype=np.float64).reshape(1, 6, 6) / 36
    problem = {"network": {"layers": SMALL_CNN}, "init_seed": 2, "x": x.tolist(), "y": 1,
               "loss": "cross_entropy"}  # fmt: skip
    expected = (await client.post("/gradients", json=problem)).json()["gradients"]
    wrong = np.array(expected["0.weight"])
    wrong[1, 0, 2, 0] += 0.5
    candidate = {**expected, "0.weight": wrong.tolist()}
    response = await client.post(
        "/gradients/check", json={**problem, "candidate": {"gradients": candidate}}
    )
    assert response.status_code == 200, response.text
    report = response.json()["report"]
    assert report["verdict"] == "fail"
    finding = report["gradients"]["0.weight"]
    assert finding["mismatch_count"] == 1
    assert finding["mismatches"][0]["index"] == [1, 0, 2, 0]


async def test_a_learning_rate_step_on_a_cnn_equals_sgd(client: httpx.AsyncClient) -> None:
    x = np.random.default_rng(2).normal(size=(2, 1, 6, 6))
    body = {"network": {"layers": SMALL_CNN}, "init_seed": 4, "x": x.tolist(), "y": [2, 0],
            "loss": "cross_entropy", "learning_rate": 0.5, "dtype": "float32"}  # fmt: skip
    answer = (await client.post("/gradients", json=body)).json()
    torch.manual_seed(4)
    net = torch_sequential(SMALL_CNN)
    torch.nn.functional.cross_entropy(net(torch.tensor(x, dtype=torch.float32)),
                                      torch.tensor([2, 0])).backward()  # fmt: skip
    torch.optim.SGD(net.parameters(), lr=0.5).step()
    for name, p in net.named_parameters():
        got = np.array(answer["updated_weights"][name], dtype=np.float32)  # float32's shortest
        np.testing.assert_array_equal(got, p.detach().numpy())
    assert answer["deviations"]["manual"]["agree"] is True


async def test_a_convolutions_training_cost_counts_its_multiply_adds(
    client: httpx.AsyncClient,
) -> None:
    # 10 parameters, but 9 multiply-adds per output pixel of a 64×64 image: 35k per sample;
    # 300k epochs of one step are 4.2e10 units of work, 2.1e10 if only parameters counted
    layers = [{"type": "conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 3},
              {"type": "flatten"}]  # fmt: skip
    x = np.zeros((2, 1, 64, 64))
    body = {"network": {"layers": layers}, "epochs": 300_000, "batch_size": 2,
            "data": {"x": x.tolist(), "y": np.zeros((2, 62 * 62)).tolist()}}  # fmt: skip
    response = await client.post("/train", json=body)
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["ctx"]["limit"] == "max_training_cost"
    assert item["ctx"]["asked"] > 4e10 > 3e10 == item["ctx"]["value"]


async def test_training_starts_from_a_real_state_dict_with_buffers(
    client: httpx.AsyncClient,
) -> None:
    layers = [{"type": "linear", "in_features": 3, "out_features": 2},
              {"type": "batch_norm1d", "num_features": 2}]  # fmt: skip
    torch.manual_seed(0)
    weights = {k: v.tolist() for k, v in torch_sequential(layers).double().state_dict().items()}
    assert isinstance(weights["1.num_batches_tracked"], int)  # a bare integer, as .tolist() gives
    x = np.random.default_rng(0).normal(size=(4, 3))
    body = {"network": {"layers": layers}, "weights": weights, "batch_size": 2,
            "data": {"x": x.tolist(), "y": np.zeros((4, 2)).tolist()}}  # fmt: skip
    response = await client.post("/train", json=body)
    assert response.status_code == 200, response.text
    assert set(response.json()["final_weights"]["autograd"]) == {
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
    }
