"""The network walked once: layer counts and widths bounded, one sample told from a batch, and
errors that name the layer, its option and both shapes."""

import pytest

from service.core.config import Settings
from service.core.exceptions import InvalidRequest, LimitExceeded
from service.domain.network import check_layers, inventory, layer_loc, sample_ndim, walk
from tests.nets import layer_specs

SEED = [
    {"type": "linear", "in_features": 2, "out_features": 10},
    {"type": "sigmoid"},
    {"type": "linear", "in_features": 10, "out_features": 1},
]


def test_layer_locations_follow_the_request() -> None:
    assert layer_loc((3,)) == ("body", "network", "layers", 3)
    assert layer_loc((1, 0), "in_features") == (
        "body", "network", "layers", 1, "layers", 0, "in_features",
    )  # fmt: skip


def test_shapes_and_cost_of_the_seed_net() -> None:
    shapes = walk(layer_specs(SEED), (2,), batch=4)
    assert shapes.outputs == ((10,), (10,), (1,))
    assert shapes.prediction == (1,)
    assert shapes.cost == 2 * 10 + 10 + 10 * 1  # multiply-adds, an activation counts one each
    assert shapes.values == 2 + 10 + 10 + 1


def test_layers_that_do_not_chain_name_the_layer_and_both_shapes() -> None:
    layers = layer_specs(
        [SEED[0], {"type": "relu"}, {"type": "linear", "in_features": 4, "out_features": 1}]
    )
    with pytest.raises(InvalidRequest) as caught:
        walk(layers, (2,), batch=1)
    (error,) = caught.value.errors
    assert error.loc == ("body", "network", "layers", 2, "in_features")
    assert "layer 2 (linear)" in error.msg
    assert "[10]" in error.msg
    assert "4 features" in error.msg
    assert "the output of layer 1 (relu)" in error.msg


def test_an_input_that_does_not_fit_the_first_layer_names_x() -> None:
    with pytest.raises(InvalidRequest) as caught:
        walk(layer_specs([{"type": "tanh"}, *SEED]), (3,), batch=1)
    (error,) = caught.value.errors
    assert error.loc == ("body", "x")
    assert "x does not fit layer 1 (linear)" in error.msg
    assert "[3]" in error.msg


@pytest.mark.parametrize(
    ("layers", "x_ndim", "expected"),
    [
        (SEED, 1, 1),  # one point
        (SEED, 2, 1),  # a batch of points
        ([{"type": "relu"}], 1, 1),  # nothing fixes a sample: 1-D is one sample
        ([{"type": "relu"}], 3, 2),  # … and anything deeper a batch
    ],
)
def test_one_sample_or_a_batch(layers: list, x_ndim: int, expected: int) -> None:
    assert sample_ndim(layer_specs(layers), x_ndim) == expected


def test_x_with_too_many_axes_for_a_linear_first_layer_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        sample_ndim(layer_specs(SEED), 3)
    assert caught.value.errors[0].loc == ("body", "x")
    assert "this x has 3" in caught.value.errors[0].msg


def test_limits_before_x_is_known() -> None:
    wide = layer_specs([{"type": "linear", "in_features": 2, "out_features": 5000}])
    with pytest.raises(LimitExceeded) as caught:
        check_layers(wide, Settings())
    assert caught.value.errors[0].loc[-1] == "out_features"
    many = layer_specs([{"type": "relu"}] * 65)
    with pytest.raises(LimitExceeded) as caught:
        check_layers(many, Settings())
    assert caught.value.errors[0].ctx["limit"] == "max_layers"
    names = [p.name for p in check_layers(layer_specs(SEED), Settings())]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_a_network_seen_before_is_not_walked_again_but_checked_against_the_limits() -> None:
    layers = layer_specs(SEED)
    assert inventory(layers) is inventory(layer_specs(SEED))  # equal specs: the same entry
    assert check_layers(layers, Settings()) == check_layers(layers, Settings())
    with pytest.raises(LimitExceeded, match="MAX_WIDTH"):
        check_layers(layers, Settings(max_width=5))  # the same inventory, a lower limit
    with pytest.raises(LimitExceeded, match="MAX_PARAMETERS"):
        check_layers(layers, Settings(max_parameters=10))
    assert walk(layers, (2,), 4) is walk(layers, (2,), 4)
    for _ in range(2):  # an error is raised each time, never kept
        with pytest.raises(InvalidRequest, match="x does not fit layer 0"):
            walk(layers, (3,), 4)
