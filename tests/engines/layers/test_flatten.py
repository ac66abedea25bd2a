"""flatten against torch.nn.Flatten with the same dims, against central differences, by hand;
its shapes and the dims it refuses."""

from typing import Any

import numpy as np
import pytest
import torch

from service.engines.layers.base import ShapeError
from service.engines.layers.flatten import Flatten
from tests.engines.layers.support import CENTRAL, TOLERANCE, numeric_gradients, ours, theirs

# (options, one sample's shape): dims count on the batched tensor, as nn.Flatten's do.
CASES: list[tuple[dict[str, Any], tuple[int, ...]]] = [
    ({}, (3, 4, 5)),
    ({"start_dim": 2}, (3, 4, 5)),
    ({"start_dim": 1, "end_dim": 2}, (3, 4, 5)),
    ({"start_dim": -3, "end_dim": -2}, (3, 4, 5)),
    ({"start_dim": 2, "end_dim": 2}, (3, 4, 5)),  # one axis: nothing merged
    ({"start_dim": 3}, (3, 4, 5)),
    ({}, (7,)),
]
IDS = [f"case{i}" for i in range(len(CASES))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize(("options", "sample"), CASES, ids=IDS)
def test_equals_torch(
    options: dict[str, Any], sample: tuple[int, ...], batch: int, dtype: type[np.floating]
) -> None:
    layer, module = Flatten(**options), torch.nn.Flatten(**options)
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
def test_equals_central_differences(options: dict[str, Any], sample: tuple[int, ...]) -> None:
    layer = Flatten(**options)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, *sample))
    grad = rng.standard_normal((2, *layer.output_shape(sample)))
    _, grad_x, _ = ours(layer, {}, x, grad)
    numeric_x, _ = numeric_gradients(layer, {}, x, grad)
    np.testing.assert_allclose(grad_x, numeric_x, **CENTRAL)


def test_by_hand() -> None:
    """0..7 as one sample [2, 2, 2]: all of it in one row, or its first two axes merged."""
    x = np.arange(8.0).reshape(1, 2, 2, 2)
    assert Flatten().forward(x, {})[0].tolist() == [[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]
    merged, cache = Flatten(start_dim=1, end_dim=2).forward(x, {})
    assert merged.tolist() == [[[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]]
    grad_x, _ = Flatten(start_dim=1, end_dim=2).backward(merged * 10, cache)
    assert grad_x.tolist() == (x * 10).tolist()  # the gradient reshaped back, entry for entry


@pytest.mark.parametrize(("options", "sample"), CASES, ids=IDS)
def test_torch_forward_is_the_modules(options: dict[str, Any], sample: tuple[int, ...]) -> None:
    x = torch.randn(2, *sample, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(Flatten(**options).torch_forward(x, {}), torch.nn.Flatten(**options)(x))


def test_costs_nothing() -> None:
    assert Flatten().cost((8, 13, 13)) == 0


@pytest.mark.parametrize(
    ("options", "sample", "field", "words"),
    [
        ({"start_dim": 0}, (3, 4), "start_dim", ["batch axis", "[batch, 3, 4]"]),
        ({"start_dim": -3}, (3, 4), "start_dim", ["batch axis", "[batch, 3, 4]"]),
        ({"start_dim": 3}, (3, 4), "start_dim", ["[batch, 3, 4]", "[-3, 2]"]),
        ({"start_dim": -4}, (3, 4), "start_dim", ["[batch, 3, 4]", "[-3, 2]"]),
        ({"end_dim": 4}, (3, 4, 5), "end_dim", ["[batch, 3, 4, 5]", "[-4, 3]"]),
        ({"start_dim": 2, "end_dim": 1}, (3, 4, 5), "end_dim", ["start_dim cannot come after"]),
        ({"end_dim": 0}, (3, 4), "end_dim", ["start_dim cannot come after"]),
    ],
)
def test_shape_errors_name_the_field(
    options: dict[str, Any], sample: tuple[int, ...], field: str, words: list[str]
) -> None:
    with pytest.raises(ShapeError) as error:
        Flatten(**options).output_shape(sample)
    assert error.value.field == field
    for word in ["flatten", *words]:
        assert word in str(error.value)
