"""conv2d against torch.nn.Conv2d built with the same options, against central differences, by
hand on one tiny case; its init, shapes, cost and shape errors."""

from typing import Any

import numpy as np
import pytest
import torch

from service.engines.layers.base import ShapeError
from service.engines.layers.conv import Conv2d
from tests.engines.layers.support import (
    CENTRAL,
    TOLERANCE,
    TORCH_DTYPE,
    copied_params,
    numeric_gradients,
    ours,
    theirs,
)

# (options, one sample's shape): torch.nn.Conv2d's names, so both are built from one dict.
CASES: list[tuple[dict[str, Any], tuple[int, int, int]]] = [
    ({"in_channels": 1, "out_channels": 2, "kernel_size": (3, 3)}, (1, 6, 7)),
    (
        {
            "in_channels": 3,
            "out_channels": 4,
            "kernel_size": (2, 3),
            "stride": (2, 1),
            "padding": (1, 2),
            "dilation": (2, 1),
        },
        (3, 7, 8),
    ),
    ({"in_channels": 2, "out_channels": 3, "kernel_size": (1, 1)}, (2, 4, 5)),
    (
        {
            "in_channels": 2,
            "out_channels": 2,
            "kernel_size": (3, 2),
            "stride": (3, 2),
            "padding": (0, 1),
            "bias": False,
        },
        (2, 8, 5),
    ),
    (
        {
            "in_channels": 1,
            "out_channels": 3,
            "kernel_size": (2, 2),
            "padding": (2, 2),
            "dilation": (2, 3),
        },
        (1, 4, 5),
    ),
    # stride past the kernel: some inputs are in no window and get no gradient
    ({"in_channels": 2, "out_channels": 2, "kernel_size": (2, 2), "stride": (3, 3)}, (2, 8, 8)),
    # a kernel as large as the padded input: one output position, fewer than out_channels
    # (conv.weight_gradient's whole-batch product)
    ({"in_channels": 1, "out_channels": 2, "kernel_size": (5, 4), "padding": (1, 0)}, (1, 3, 4)),
]
IDS = [f"case{i}" for i in range(len(CASES))]


def conv_pair(options: dict[str, Any], dtype: type[np.floating]) -> tuple[Conv2d, torch.nn.Module]:
    module = torch.nn.Conv2d(**options).to(TORCH_DTYPE[dtype])
    return Conv2d(**options), module


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize(("options", "sample"), CASES, ids=IDS)
def test_equals_torch(
    options: dict[str, Any], sample: tuple[int, ...], batch: int, dtype: type[np.floating]
) -> None:
    torch.manual_seed(batch)
    layer, module = conv_pair(options, dtype)
    params = copied_params(module)
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, *sample)).astype(dtype)
    grad = rng.standard_normal((batch, *layer.output_shape(sample))).astype(dtype)

    out, grad_x, grad_params = ours(layer, params, x, grad)
    t_out, t_grad_x, t_grad_params = theirs(module, x, grad)

    tolerance = TOLERANCE[dtype]
    assert out.shape == t_out.shape
    np.testing.assert_allclose(out, t_out, **tolerance)
    np.testing.assert_allclose(grad_x, t_grad_x, **tolerance)
    assert grad_params.keys() == t_grad_params.keys() == {p.name for p in layer.parameters()}
    for name, g in grad_params.items():
        np.testing.assert_allclose(g, t_grad_params[name], **tolerance)
    for array in (out, grad_x, *grad_params.values()):
        assert array.dtype == dtype


@pytest.mark.parametrize(("options", "sample"), CASES, ids=IDS)
def test_equals_central_differences(options: dict[str, Any], sample: tuple[int, ...]) -> None:
    layer = Conv2d(**options)
    rng = np.random.default_rng(0)
    params = {p.name: rng.standard_normal(p.shape) for p in layer.parameters()}
    x = rng.standard_normal((2, *sample))
    grad = rng.standard_normal((2, *layer.output_shape(sample)))

    _, grad_x, grad_params = ours(layer, params, x, grad)
    numeric_x, numeric_params = numeric_gradients(layer, params, x, grad)

    np.testing.assert_allclose(grad_x, numeric_x, **CENTRAL)
    for name, g in grad_params.items():
        np.testing.assert_allclose(g, numeric_params[name], **CENTRAL)


def test_by_hand() -> None:
    """x = 1..9 in a 3×3 image, W = [[1, 2], [3, 4]], b = 0.5, dL/dout all ones."""
    layer = Conv2d(in_channels=1, out_channels=1, kernel_size=(2, 2))
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    params = {"weight": np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), "bias": np.array([0.5])}

    out, grad_x, grad_params = ours(layer, params, x, np.ones((1, 1, 2, 2)))

    # out[y, x] = 1·x[y, x] + 2·x[y, x+1] + 3·x[y+1, x] + 4·x[y+1, x+1] + 0.5
    assert out.tolist() == [[[[37.5, 47.5], [67.5, 77.5]]]]  # 1 + 4 + 12 + 20 = 37, …
    # dW[i, j] = Σ over the 4 windows of their (i, j) entry: 1 + 2 + 4 + 5 = 12, …
    assert grad_params["weight"].tolist() == [[[[12.0, 16.0], [24.0, 28.0]]]]
    assert grad_params["bias"].tolist() == [4.0]  # one per output entry
    # dx = Σ of the weights that touch each entry: the centre is in all 4 windows, 1+2+3+4
    assert grad_x.tolist() == [[[[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]]]


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize(("options", "sample"), CASES, ids=IDS)
def test_init_is_torchs_bit_for_bit(
    options: dict[str, Any], sample: tuple[int, ...], seed: int
) -> None:
    layer = Conv2d(**options)
    torch.manual_seed(seed)
    expected = torch.nn.Conv2d(**options).state_dict()

    torch.manual_seed(12345)
    global_state = torch.get_rng_state()
    found = layer.init(torch.Generator().manual_seed(seed))

    assert torch.equal(torch.get_rng_state(), global_state), "init drew from the global RNG"
    assert found.keys() == expected.keys()
    for name, w in found.items():
        assert w.dtype == np.float32
        assert w.shape == next(p.shape for p in layer.parameters() if p.name == name)
        np.testing.assert_array_equal(w, expected[name].numpy())


@pytest.mark.parametrize(("options", "sample"), CASES, ids=IDS)
def test_torch_forward_is_the_modules(options: dict[str, Any], sample: tuple[int, ...]) -> None:
    layer, module = conv_pair(options, np.float64)
    x = torch.randn(2, *sample, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    params = dict(module.named_parameters())
    assert torch.equal(layer.torch_forward(x, params), module(x))


def test_cost_counts_multiply_adds() -> None:
    layer = Conv2d(in_channels=1, out_channels=8, kernel_size=(3, 3))
    assert layer.cost((1, 28, 28)) == 8 * 26 * 26 * 1 * 3 * 3
    strided = Conv2d(in_channels=3, out_channels=4, kernel_size=(2, 3), stride=(2, 2))
    assert strided.output_shape((3, 9, 9)) == (4, 4, 4)
    assert strided.cost((3, 9, 9)) == 4 * 4 * 4 * 3 * 2 * 3


@pytest.mark.parametrize(
    ("options", "sample", "field", "words"),
    [
        ({"kernel_size": (5, 5)}, (1, 4, 4), "kernel_size", ["(5, 5)", "4×4"]),
        ({"kernel_size": (3, 5)}, (1, 6, 4), "kernel_size", ["(3, 5)", "6×4"]),
        (  # dilation 2 spreads a 3×3 kernel over 5×5
            {"kernel_size": (3, 3), "dilation": (2, 2)},
            (1, 4, 4),
            "kernel_size",
            ["spans 5×5", "4×4"],
        ),
        ({"kernel_size": (3, 3)}, (784,), "in_channels", ["[1, H, W]"]),
        ({"kernel_size": (3, 3)}, (1, 28), "in_channels", ["[1, H, W]"]),
        ({"in_channels": 3, "kernel_size": (3, 3)}, (1, 28, 28), "in_channels", ["[3, H, W]"]),
    ],
)
def test_shape_errors_name_the_field(
    options: dict[str, Any], sample: tuple[int, ...], field: str, words: list[str]
) -> None:
    options = {"in_channels": 1, "out_channels": 2} | options
    with pytest.raises(ShapeError) as error:
        Conv2d(**options).output_shape(sample)
    assert error.value.field == field
    for word in ["conv2d", str(list(sample)), *words]:  # the input's shape and what fits
        assert word in str(error.value)
    with pytest.raises(RuntimeError):  # torch refuses the same batch
        torch.nn.Conv2d(**options)(torch.zeros(2, *sample))


def test_padding_lets_a_large_kernel_fit() -> None:
    options: dict[str, Any] = {"in_channels": 1, "out_channels": 1, "kernel_size": (5, 5)}
    layer = Conv2d(**options, padding=(1, 1))
    module = torch.nn.Conv2d(**options, padding=(1, 1))
    assert layer.output_shape((1, 3, 3)) == (1, 1, 1) == module(torch.zeros(1, 1, 3, 3)).shape[1:]
