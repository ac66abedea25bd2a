"""max_pool2d and avg_pool2d against torch.nn.MaxPool2d / AvgPool2d built with the same options,
against central differences, by hand; max-pool ties and kinks; shapes, cost and shape errors."""

import math
from typing import Any

import numpy as np
import pytest
import torch

from service.engines.layers.base import ShapeError
from service.engines.layers.pooling import AvgPool2d, MaxPool2d, Pool2d
from tests.engines.layers.support import (
    CENTRAL,
    STEP,
    TOLERANCE,
    numeric_gradients,
    ours,
    theirs,
)

# (options, one sample's shape): torch.nn's names, so both sides are built from one dict.
CASES: list[tuple[dict[str, Any], tuple[int, int, int]]] = [
    ({"kernel_size": (2, 2)}, (2, 6, 7)),  # stride = kernel_size; the last column in no window
    ({"kernel_size": (3, 2), "stride": (1, 2), "padding": (1, 1)}, (2, 5, 6)),  # overlapping
    ({"kernel_size": (3, 3), "stride": (2, 2), "padding": (1, 0)}, (3, 7, 6)),
    ({"kernel_size": (2, 3), "stride": (3, 1)}, (1, 8, 5)),  # rows 2 and 5 in no window
    ({"kernel_size": (1, 1)}, (2, 3, 3)),
    ({"kernel_size": (4, 4), "padding": (2, 2)}, (1, 5, 5)),  # padding at its limit, half
]
IDS = [f"case{i}" for i in range(len(CASES))]
KINDS: list[tuple[type[Pool2d], type[torch.nn.Module], dict[str, Any]]] = [
    (MaxPool2d, torch.nn.MaxPool2d, {}),
    (AvgPool2d, torch.nn.AvgPool2d, {}),
    (AvgPool2d, torch.nn.AvgPool2d, {"count_include_pad": False}),
]
KIND_IDS = ["max", "avg", "avg-count-exclude-pad"]


def pool_pair(
    kind: tuple[type[Pool2d], type[torch.nn.Module], dict[str, Any]], options: dict[str, Any]
) -> tuple[Pool2d, torch.nn.Module]:
    ours_kind, torch_kind, extra = kind
    return ours_kind(**options, **extra), torch_kind(**options, **extra)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize(("options", "sample"), CASES, ids=IDS)
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_equals_torch(
    kind: tuple[type[Pool2d], type[torch.nn.Module], dict[str, Any]],
    options: dict[str, Any],
    sample: tuple[int, ...],
    batch: int,
    dtype: type[np.floating],
) -> None:
    layer, module = pool_pair(kind, options)
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, *sample)).astype(dtype)
    grad = rng.standard_normal((batch, *layer.output_shape(sample))).astype(dtype)

    out, grad_x, grad_params = ours(layer, {}, x, grad)
    t_out, t_grad_x, _ = theirs(module, x, grad)

    assert out.shape == t_out.shape
    np.testing.assert_allclose(out, t_out, **TOLERANCE[dtype])
    np.testing.assert_allclose(grad_x, t_grad_x, **TOLERANCE[dtype])
    assert grad_params == {}
    assert out.dtype == grad_x.dtype == dtype


@pytest.mark.parametrize(("options", "sample"), CASES, ids=IDS)
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_equals_central_differences(
    kind: tuple[type[Pool2d], type[torch.nn.Module], dict[str, Any]],
    options: dict[str, Any],
    sample: tuple[int, ...],
) -> None:
    layer, _ = pool_pair(kind, options)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, *sample))
    grad = rng.standard_normal((2, *layer.output_shape(sample)))

    _, cache = layer.forward(x, {})
    kinks = layer.kinks(x, cache)
    if kinks is not None:  # max pool: the steps must cross no tie, or the comparison is moot
        assert kinks.distance.min() > 10 * STEP
    grad_x, _ = layer.backward(grad, cache)
    numeric_x, _ = numeric_gradients(layer, {}, x, grad)

    np.testing.assert_allclose(grad_x, numeric_x, **CENTRAL)


# A 4×4 image in 2×2 windows: the maxima are 5, a tie of 8s, 6 and a tie of 3s.
TIES = np.array(
    [
        [1.0, 5.0, 2.0, 0.0],
        [3.0, 4.0, 8.0, 8.0],
        [0.0, 0.0, 1.0, 2.0],
        [6.0, 0.0, 3.0, 3.0],
    ]
).reshape(1, 1, 4, 4)


def test_max_pool_by_hand() -> None:
    layer = MaxPool2d(kernel_size=(2, 2))
    out, cache = layer.forward(TIES, {})
    grad_x, _ = layer.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    kinks = layer.kinks(TIES, cache)

    assert out.tolist() == [[[[5.0, 8.0], [6.0, 3.0]]]]
    # each window's gradient to its maximum; of tied ones, to the first in row-major order
    assert grad_x.tolist() == [
        [[[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 4.0, 0.0]]]
    ]
    # the maximum's lead over the runner-up (5 − 4 = 1; ties 0); others' gap below the maximum
    assert kinks.distance.tolist() == [
        [[[4.0, 1.0, 6.0, 8.0], [2.0, 1.0, 0.0, 0.0], [6.0, 6.0, 2.0, 1.0], [6.0, 6.0, 0.0, 0.0]]]
    ]
    assert "first maximum" in kinks.why
    assert layer.trace(cache)["indices"].tolist() == [[[[1, 6], [12, 14]]]]  # row·4 + column


def test_avg_pool_by_hand() -> None:
    """x = 1..9 in a 3×3 image, 2×2 windows one step apart, dL/dout all ones."""
    layer = AvgPool2d(kernel_size=(2, 2), stride=(1, 1))
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    out, grad_x, _ = ours(layer, {}, x, np.ones((1, 1, 2, 2)))

    assert out.tolist() == [[[[3.0, 4.0], [6.0, 7.0]]]]  # (1 + 2 + 4 + 5) / 4 = 3, …
    # a quarter from each window the entry is in: the centre is in all 4
    assert grad_x.tolist() == [[[[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]]]


@pytest.mark.parametrize(("count_include_pad", "expected"), [(True, 0.25), (False, 1.0)])
def test_avg_pool_padding_counted_or_not_by_hand(count_include_pad: bool, expected: float) -> None:
    """Padding 1 around a 2×2 image, 2×2 windows side by side: each window holds one real
    entry and three of padding, so it averages over 4 or over 1."""
    layer = AvgPool2d(kernel_size=(2, 2), padding=(1, 1), count_include_pad=count_include_pad)
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, grad_x, _ = ours(layer, {}, x, np.ones((1, 1, 2, 2)))

    assert out.tolist() == (x * expected).tolist()
    assert grad_x.tolist() == np.full_like(x, expected).tolist()


# Windows that overlap, with padding, strided past the kernel: ties across windows too.
TIE_CASES = [options for options, _ in CASES]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", TIE_CASES, ids=IDS)
@pytest.mark.parametrize("values", ["all-equal", "few-integers"])
def test_max_pool_ties_route_the_gradient_as_torch(
    values: str, options: dict[str, Any], dtype: type[np.floating]
) -> None:
    layer, module = MaxPool2d(**options), torch.nn.MaxPool2d(**options, return_indices=True)
    shape = (2, 3, 7, 8)
    rng = np.random.default_rng(1)
    if values == "all-equal":
        x = np.full(shape, 0.5, dtype=dtype)
    else:
        x = rng.integers(0, 3, shape).astype(dtype)
    grad = rng.standard_normal((2, *layer.output_shape(shape[1:]))).astype(dtype)

    out, cache = layer.forward(x, {})
    grad_x, _ = layer.backward(grad, cache)
    xt = torch.tensor(x, requires_grad=True)
    t_out, t_indices = module(xt)
    t_out.backward(torch.from_numpy(grad))

    np.testing.assert_array_equal(out, t_out.detach().numpy())
    np.testing.assert_array_equal(layer.trace(cache)["indices"], t_indices.numpy())
    assert xt.grad is not None  # where windows overlap, sums of the same terms in another order
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), **TOLERANCE[dtype])


@pytest.mark.parametrize(("options", "sample"), CASES, ids=IDS)
def test_max_pool_kinks_are_the_nearest_tie_over_the_windows(
    options: dict[str, Any], sample: tuple[int, ...]
) -> None:
    layer = MaxPool2d(**options)
    x = np.random.default_rng(2).integers(0, 6, (2, *sample)).astype(np.float64)
    _, cache = layer.forward(x, {})
    kinks = layer.kinks(x, cache)
    assert kinks.distance.tolist() == kinks_window_by_window(x, layer).tolist()


def kinks_window_by_window(x: np.ndarray, layer: MaxPool2d) -> np.ndarray:
    """The same distances, the slow way: visit every window of every image in Python."""
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.step, layer.padding
    n, c, height, width = x.shape
    distance = np.full(x.shape, math.inf)
    for top in range(-ph, height + ph - kh + 1, sh):
        for left in range(-pw, width + pw - kw + 1, sw):
            inside = [
                (r, col)
                for r in range(top, top + kh)
                for col in range(left, left + kw)
                if 0 <= r < height and 0 <= col < width
            ]
            for b in range(n):
                for ch in range(c):
                    values = [x[b, ch, r, col] for r, col in inside]
                    first = int(np.argmax(values))
                    ordered = sorted(values, reverse=True)
                    for k, (r, col) in enumerate(inside):
                        if k == first:
                            gap = ordered[0] - ordered[1] if len(values) > 1 else math.inf
                        else:
                            gap = ordered[0] - values[k]
                        distance[b, ch, r, col] = min(distance[b, ch, r, col], gap)
    return distance


def test_max_pool_kinks_are_zero_at_ties_and_inf_outside_windows() -> None:
    layer = MaxPool2d(kernel_size=(2, 2), stride=(3, 3))
    x = np.ones((1, 1, 5, 5))
    kinks = layer.kinks(x, layer.forward(x, {})[1])
    in_a_window = np.zeros((5, 5), dtype=bool)
    in_a_window[np.ix_([0, 1, 3, 4], [0, 1, 3, 4])] = True
    assert np.all(kinks.distance[0, 0][in_a_window] == 0)
    assert np.all(kinks.distance[0, 0][~in_a_window] == math.inf)


@pytest.mark.parametrize(("options", "sample"), CASES, ids=IDS)
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_torch_forward_is_the_modules(
    kind: tuple[type[Pool2d], type[torch.nn.Module], dict[str, Any]],
    options: dict[str, Any],
    sample: tuple[int, ...],
) -> None:
    layer, module = pool_pair(kind, options)
    x = torch.randn(2, *sample, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(layer.torch_forward(x, {}), module(x))


def test_stride_defaults_to_the_kernel_size() -> None:
    assert MaxPool2d(kernel_size=(2, 3)).step == (2, 3)
    assert AvgPool2d(kernel_size=(2, 3), stride=(1, 1)).step == (1, 1)
    assert MaxPool2d(kernel_size=(2, 3)).output_shape((4, 8, 9)) == (4, 4, 3)


@pytest.mark.parametrize("kind", [MaxPool2d, AvgPool2d])
def test_cost_counts_window_reads(kind: type[Pool2d]) -> None:
    assert kind(kernel_size=(2, 2)).cost((8, 26, 26)) == 8 * 13 * 13 * 2 * 2
    assert kind(kernel_size=(3, 2), stride=(1, 1)).cost((1, 5, 5)) == 1 * 3 * 4 * 3 * 2


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize(
    "options",
    [{"kernel_size": (2, 2), "padding": (0, 2)}, {"kernel_size": (3, 4), "padding": (2, 1)}],
)
def test_padding_past_half_the_kernel_is_torchs_error(
    kind: tuple[type[Pool2d], type[torch.nn.Module], dict[str, Any]], options: dict[str, Any]
) -> None:
    layer, module = pool_pair(kind, options)
    with pytest.raises(ShapeError) as error:
        layer.output_shape((1, 8, 8))
    with pytest.raises(RuntimeError) as torch_error:
        module(torch.zeros(2, 1, 8, 8))
    assert error.value.field == "padding"
    assert str(torch_error.value) in str(error.value)
    assert str(options["padding"]) in str(error.value)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize(
    ("options", "sample", "field", "words"),
    [
        ({"kernel_size": (5, 5)}, (1, 4, 4), "kernel_size", ["(5, 5)", "4×4"]),
        ({"kernel_size": (2, 5), "padding": (1, 0)}, (3, 1, 4), "kernel_size", ["3×4"]),
        ({"kernel_size": (2, 2)}, (4, 4), "kernel_size", ["[C, H, W]"]),
        ({"kernel_size": (2, 2)}, (16,), "kernel_size", ["[C, H, W]"]),
    ],
)
def test_shape_errors_name_the_field(
    kind: tuple[type[Pool2d], type[torch.nn.Module], dict[str, Any]],
    options: dict[str, Any],
    sample: tuple[int, ...],
    field: str,
    words: list[str],
) -> None:
    layer, _ = pool_pair(kind, options)
    with pytest.raises(ShapeError) as error:
        layer.output_shape(sample)
    assert error.value.field == field
    for word in [layer.kind, str(list(sample)), *words]:
        assert word in str(error.value)
