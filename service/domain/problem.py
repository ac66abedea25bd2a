"""From a validated request to a `Problem`: the network walked from x, y fitted to the
prediction and the loss, the weights checked (or drawn from `init_seed`), dropout's masks drawn
from `dropout_seed`, and the size limits.

Pydantic has checked types and finiteness field by field, and `service.schemas.arrays` has made the
request's arrays NumPy arrays; what needs the whole request is checked here, and every finding
names its field with a `loc` into the body. Checks that can be collected (missing and unexpected
weight names, wrong shapes) are all reported at once.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from service.core import seed
from service.core.config import Settings
from service.core.exceptions import ErrorItem, InvalidRequest, LimitExceeded, Loc
from service.domain import network
from service.domain.compute import REFERENCE, Plan, plan
from service.domain.network import Shapes, shape_text
from service.engines import Problem
from service.engines.autograd import dropout_masks, initial_weights
from service.engines.layers import Layer, Param, sequence
from service.engines.losses import LOSSES, Loss
from service.schemas.layers import LayerModel
from service.schemas.losses import LossModel
from service.schemas.models import Candidate, NumericOptions, ProblemRequest

DTYPES = {"float64": np.float64, "float32": np.float32}
CACHED_PARAMETERS = 100_000  # networks up to this size keep their seeded weights (≤ 32 × 400 kB)
PASSES = 3  # a forward and a backward pass cost about three forward passes


@dataclass(frozen=True)
class Sizing:
    """What the network and x's shape decide, checked before any array is made or weight
    drawn (layer count, widths, parameters, chaining, batch, activations, cost): worked out
    once per request, and shared by the answer's size check and `prepare`."""

    layers: tuple[Layer, ...]
    parameters: list[Param]  # in state_dict order
    batched: tuple[int, ...]  # x's shape with a batch axis
    shapes: Shapes  # one sample's shape through the network


def sizing(request: ProblemRequest, settings: Settings) -> Sizing:
    """The network's limits first (before x is read), then x's shape through it."""
    layers = network.specs(request.network.layers)
    parameters = network.check_layers(layers, settings)
    given = None if request.x is None else request.x.shape
    batched, shapes = input_shapes(given, layers, settings)
    return Sizing(layers, parameters, batched, shapes)


@dataclass(frozen=True)
class Prepared:
    problem: Problem
    plan: Plan  # the engines to run on it, their tolerances and cost
    single: bool  # x was one sample: the prediction has no batch axis
    shapes: Shapes  # one sample's shape through the network


def loss_spec(loss: LossModel) -> Loss:
    """The engine-side loss a request names: `"huber"`, or `{"type": "huber", "delta": 0.5}`."""
    if isinstance(loss, str):
        return LOSSES[loss]()
    return LOSSES[loss.type](**loss.model_dump(exclude={"type"}))


FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_float32_scalars(
    layers: tuple[Layer, ...], loss: LossModel, learning_rate: float | None
) -> None:
    """In float32 the engines take every number as a float32: a slope, a beta, a margin or a
    learning rate beyond ±3.4e38 does not fit (torch would refuse it half-way through)."""
    scalars: list[tuple[Loc, float]] = [
        (network.layer_loc(path, name), value)
        for path, layer in network.walk_layers(layers)
        for name, value in vars(layer).items()
        if isinstance(value, float)
    ]
    if not isinstance(loss, str):
        scalars += [(("body", "loss", name), v) for name, v in loss if isinstance(v, float)]
    if learning_rate is not None:
        scalars.append((("body", "learning_rate"), learning_rate))
    errors = [
        ErrorItem(loc, f"{value!r} does not fit in float32 (at most ±{FLOAT32_MAX!r})", "overflow")
        for loc, value in scalars
        if abs(value) > FLOAT32_MAX
    ]
    if errors:
        raise InvalidRequest(errors)


# --- arrays ------------------------------------------------------------------------------------
# A validated request holds its arrays as float64 NumPy arrays already (service.schemas.arrays).


def cast(array: np.ndarray, loc: Loc, dtype: type[np.floating]) -> np.ndarray:
    """`array` in `dtype`, refusing values that overflow float32."""
    with np.errstate(over="ignore"):
        cast_array = array.astype(dtype, copy=False)
    if dtype is np.float32 and not np.all(np.isfinite(cast_array)):
        raise InvalidRequest(
            [ErrorItem(loc, "a value is beyond ±3.4e38 and does not fit in float32", "overflow")]
        )
    return cast_array


def shape_error(loc: Loc, expected: tuple[int, ...], got: tuple[int, ...], hint: str) -> ErrorItem:
    return ErrorItem(
        loc, f"expected shape {shape_text(expected)}{hint}, got {shape_text(got)}", "wrong_shape"
    )


# --- the request -------------------------------------------------------------------------------


def prepare(
    request: ProblemRequest,
    settings: Settings,
    engines: Sequence[str] = (REFERENCE,),
    learning_rate: float | None = None,
    numeric_options: NumericOptions | None = None,
    sized: Sizing | None = None,
) -> Prepared:
    """The problem, with `engines` to run on it (autograd, the reference, always among them);
    `sized`: the request's `sizing`, when the caller has it already."""
    sized = sized or sizing(request, settings)
    layers, parameters, shapes = sized.layers, sized.parameters, sized.shapes
    dtype = DTYPES[request.dtype]
    if dtype is np.float32:
        check_float32_scalars(layers, request.loss, learning_rate)
    loss = loss_spec(request.loss)

    x, single = inputs(request, sized.batched, dtype)
    y = targets(request, loss, x, single, shapes, dtype)
    weights = weights_for(request, layers, parameters, dtype, settings.max_errors)
    draws = (
        dropout_masks(layers, request.dropout_seed, x.shape, x.dtype)
        if network.inventory(layers).draws
        else {}
    )

    problem = Problem(layers, weights, x, y, loss, learning_rate, draws)
    forward_cost = PASSES * x.shape[0] * shapes.cost
    chosen = plan(problem, engines, request.tolerance, numeric_options, forward_cost, settings)
    return Prepared(problem, chosen, single, shapes)


def check_network(models: Sequence[LayerModel], settings: Settings) -> list[Param]:
    """What the network alone decides (layer count, widths, parameters), before x is read:
    its parameter table, in `state_dict` order."""
    return network.check_layers(network.specs(models), settings)


def input_shapes(
    x_shape: tuple[int, ...] | None, layers: tuple[Layer, ...], settings: Settings
) -> tuple[tuple[int, ...], Shapes]:
    """x's shape with a batch axis, and one sample's shapes through the network, from x's
    shape alone (None: the seed's point, where the network takes it); every limit that sizes
    a pass is checked here, before an array is made."""
    loc: Loc = ("body", "x")
    shape = (len(seed.X),) if x_shape is None else x_shape
    if math.prod(shape) == 0:
        raise InvalidRequest([ErrorItem(loc, "x must hold at least one number", "empty")])
    try:
        ndim = network.sample_ndim(layers, len(shape))
        batched = (1, *shape) if len(shape) == ndim else shape
        if batched[0] > settings.max_batch:
            raise LimitExceeded(loc, "max_batch", settings.max_batch, batched[0], "the batch size")
        shapes = network.walk(layers, batched[1:], batched[0])
    except InvalidRequest as error:
        if x_shape is None and error.errors[0].loc == loc:
            msg = (
                f"x is required: the default x, the seed's point {seed.X}, does not fit this "
                f"network ({error.errors[0].msg})"
            )
            raise InvalidRequest([ErrorItem(loc, msg, "missing")]) from None
        raise
    batch = batched[0]
    if batch * shapes.values > settings.max_activations:
        raise LimitExceeded(
            loc,
            "max_activations",
            settings.max_activations,
            batch * shapes.values,
            "batch × (numbers in one sample of x and in every layer's output)",
        )
    if PASSES * batch * shapes.cost > settings.max_cost:
        raise LimitExceeded(
            ("body", "network"),
            "max_cost",
            settings.max_cost,
            PASSES * batch * shapes.cost,
            "the multiply-adds of a forward and a backward pass (3 × batch × a sample's forward)",
        )
    return batched, shapes


def inputs(
    request: ProblemRequest, batched: tuple[int, ...], dtype: type
) -> tuple[np.ndarray, bool]:
    """x with a batch axis (`batched`, from `input_shapes`) and whether it was one sample; x
    defaults to the seed's point where the network takes it."""
    array = np.array(seed.X) if request.x is None else request.x
    single = len(batched) > array.ndim
    return cast(array.reshape(batched), ("body", "x"), dtype), single


def targets(
    request: ProblemRequest, loss: Loss, x: np.ndarray, single: bool, shapes: Shapes, dtype: type
) -> np.ndarray:
    """y with a batch axis, the prediction's shape; (batch,) class indices for a loss that
    takes classes."""
    batch, out = x.shape[0], shapes.prediction
    given = request.y
    if loss.targets == "classes":
        if len(out) != 1:
            msg = (
                f"{loss.name} takes one score per class, a prediction of [classes] per sample; "
                f"this network's is {shape_text(out)} per sample"
            )
            raise InvalidRequest([ErrorItem(("body", "loss"), msg, "wrong_shape")])
        return class_indices(given, loss.name, batch, out[0], single, dtype)
    if given is None:
        return default_labels(request, loss, x, out, dtype)
    y = shaped_like_prediction(given, batch, out, single, dtype)
    if loss.targets == "probabilities":
        outside = np.argwhere((y < 0) | (y > 1))
        if len(outside):
            index = tuple(int(i) for i in outside[0])
            where = index[1:] if single else index
            msg = f"{loss.name} takes targets in [0, 1]; this one is {y[index]}"
            raise InvalidRequest([ErrorItem(("body", "y", *where), msg, "out_of_range")])
    return y


def default_labels(
    request: ProblemRequest, loss: Loss, x: np.ndarray, out: tuple[int, ...], dtype: type
) -> np.ndarray:
    """The seed's labels, ½ Σ x² per sample, for one output with sse or mse."""
    loc: Loc = ("body", "y")
    if loss.name not in ("sse", "mse") or out != (1,):
        why = (
            f"the network's prediction is {shape_text(out)} per sample"
            if loss.name in ("sse", "mse")
            else f"the loss is {loss.name}"
        )
        msg = (
            f"y is required: {why}, and the default labels (½ Σ x² per sample) are defined for "
            "one output with sse or mse only"
        )
        raise InvalidRequest([ErrorItem(loc, msg, "missing")])
    if request.x is None:
        return np.full((1, 1), seed.Y, dtype=dtype)
    with np.errstate(over="ignore"):
        labels: np.ndarray = seed.labels(x.reshape(len(x), -1).astype(np.float64)).astype(dtype)
    if not np.all(np.isfinite(labels)):
        msg = "the default labels ½ Σ x² overflow for this x; give y"
        raise InvalidRequest([ErrorItem(loc, msg, "overflow")])
    return labels


def shaped_like_prediction(
    y: float | np.ndarray, batch: int, out: tuple[int, ...], single: bool, dtype: type
) -> np.ndarray:
    loc: Loc = ("body", "y")
    prediction_shape = out if single else (batch, *out)
    if isinstance(y, float):
        if prediction_shape != (1,):
            hint = " like the prediction (a bare number fits one sample with one output)"
            raise InvalidRequest([shape_error(loc, prediction_shape, (), hint)])
        y = np.array([y])
    if y.shape != prediction_shape:
        hint = " like the prediction"
        if not single and out == (1,) and y.shape == (batch,):
            hint += ": one output per sample is written [[y1], [y2], …]"
        raise InvalidRequest([shape_error(loc, prediction_shape, y.shape, hint)])
    return cast(y, loc, dtype).reshape(batch, *out)  # refuses a number float32 cannot hold


def class_indices(
    y: float | np.ndarray | None, loss: str, batch: int, classes: int, single: bool, dtype: type
) -> np.ndarray:
    """A classification loss's targets: one integer in [0, classes) per sample."""
    loc: Loc = ("body", "y")
    form = "a bare integer for one sample" if single else f"a list of {batch} integers"
    if y is None:
        msg = f"y is required: {loss} takes class indices, {form}"
        raise InvalidRequest([ErrorItem(loc, msg, "missing")])
    values = np.array([y]) if isinstance(y, float) else y
    if single != isinstance(y, float) or values.shape != (batch,):
        msg = f"{loss} takes class indices: {form}"
        raise InvalidRequest([ErrorItem(loc, msg, "wrong_shape")])
    for problem, type_ in (
        (values != np.floor(values), "not_an_integer"),
        ((values < 0) | (values >= classes), "out_of_range"),
    ):
        wrong = np.flatnonzero(problem)
        if len(wrong):
            i = int(wrong[0])
            value = values[i]
            msg = (
                f"a class index must be an integer, got {value:g}"
                if type_ == "not_an_integer"
                else f"class index {int(value)} is out of range for {classes} classes "
                f"(0 to {classes - 1})"
            )
            raise InvalidRequest([ErrorItem(loc if single else (*loc, i), msg, type_)])
    return values.astype(dtype)


@lru_cache(maxsize=32)
def _cached_initial_weights(layers: tuple[Layer, ...], seed: int) -> dict[str, np.ndarray]:
    weights = initial_weights(layers, seed)
    for w in weights.values():
        w.flags.writeable = False  # shared between requests
    return weights


def seeded_weights(layers: tuple[Layer, ...], seed: int) -> dict[str, np.ndarray]:
    """torch's initial weights; small networks' are cached, as clients repeat the same seed."""
    if network.inventory(layers).parameter_count <= CACHED_PARAMETERS:
        return _cached_initial_weights(layers, seed)
    return initial_weights(layers, seed)


def weights_for(
    request: ProblemRequest,
    layers: tuple[Layer, ...],
    expected: list[Param],
    dtype: type,
    max_errors: int,
) -> dict[str, np.ndarray]:
    """The trainable parameters by name, in `state_dict` order. A real `state_dict`'s buffers
    (batch norm's running statistics) are accepted when their shapes fit, and left out: they
    get no gradient, and train mode does not read them."""
    if request.weights is None:
        initial = seeded_weights(layers, request.init_seed)
        return {name: w.astype(dtype) for name, w in initial.items()}  # a copy: never shared
    if "init_seed" in request.model_fields_set:
        msg = "give either weights or init_seed, not both"
        raise InvalidRequest([ErrorItem(("body", "init_seed"), msg, "conflict")])

    given = request.weights
    errors = []
    for p in expected:
        if p.name not in given:
            errors.append(
                ErrorItem(
                    ("body", "weights"),
                    f"missing {p.name!r}: expected an array of shape {shape_text(p.shape)}",
                    "missing_weight",
                    {"name": p.name},
                )
            )
    buffers = {p.name: p for p in sequence.buffers(layers)}
    names = {p.name for p in expected}
    unexpected = [name for name in given if name not in names and name not in buffers]
    listed = names_text([p.name for p in expected])
    errors += [
        ErrorItem(
            ("body", "weights", name),
            f"unexpected name {name!r}: this network's parameters are {listed}",
            "unexpected_weight",
        )
        for name in unexpected[:max_errors]
    ]
    for name in given:
        if name in buffers and np.shape(given[name]) != buffers[name].shape:
            shape = buffers[name].shape
            errors.append(shape_error(("body", "weights", name), shape, np.shape(given[name]), ""))
    weights = {}
    for p in expected:
        if p.name not in given:
            continue
        loc: Loc = ("body", "weights", p.name)
        array = cast(np.asarray(given[p.name]), loc, dtype)
        if array.shape != p.shape:
            hint = " (out_features × in_features)" if p.name.endswith(".weight") else ""
            if array.shape == p.shape[::-1] and len(p.shape) == 2:
                hint += "; this is its transpose"
            errors.append(shape_error(loc, p.shape, array.shape, hint))
            continue
        weights[p.name] = array
    if errors:
        raise InvalidRequest(errors, omitted=max(len(unexpected) - max_errors, 0))
    return weights


def names_text(names: list[str], shown: int = 8) -> str:
    """Some names, quoted: all of them when few, else the first and how many in all."""
    if not names:
        return "none"
    listed = ", ".join(repr(name) for name in names[:shown])
    return listed if len(names) <= shown else f"{listed}, … ({len(names)} in all)"


def candidate_values(candidate: Candidate) -> dict[str, Any]:
    """A candidate as grading takes it: its arrays as validated (arrays, or ragged lists)."""
    return {
        "loss": candidate.loss,
        "prediction": candidate.prediction,
        "input_gradient": candidate.input_gradient,
        "gradients": dict(candidate.gradients),
        "trace": candidate.trace,
    }
