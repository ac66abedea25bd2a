"""From a validated request to a `Problem`: shapes, chaining, defaults and size limits.

Pydantic has checked types and finiteness field by field; what needs the whole request is checked
here, and every finding names its field with a `loc` into the body. Checks that can be collected
(missing and unexpected weight names, wrong shapes) are all reported at once.
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import numpy as np

from service import seed
from service.compare import Tolerance
from service.compute import ENGINES, REFERENCE, ToleranceRule
from service.config import Settings
from service.engines import Engine, EngineResult, Problem, numeric
from service.engines.autograd import initial_weights
from service.engines.layers import KINDS, Layer, Param, sequence
from service.engines.layers.linear import Linear
from service.engines.losses import LOSSES
from service.errors import ErrorItem, InvalidRequest, LimitExceeded, Loc
from service.models import Candidate, NumericOptions, ProblemRequest
from service.models import Layer as LayerModel
from service.models import Tolerance as RequestTolerance

DTYPES = {"float64": np.float64, "float32": np.float32}
CACHED_PARAMETERS = 100_000  # networks up to this size keep their seeded weights (≤ 32 × 400 kB)


@dataclass(frozen=True)
class Prepared:
    problem: Problem
    engines: dict[str, Engine]  # by name, the reference first
    tolerance: Tolerance  # the request's, for the analytic engines
    tolerances: dict[str, ToleranceRule]  # for every engine but the reference
    cost: int  # multiply-adds, roughly, of all the chosen engines
    single: bool  # x was one point: the prediction is [out], not [batch, out]


def layer_specs(models: Sequence[LayerModel]) -> tuple[Layer, ...]:
    """The contract's layers as the engines take them: the same kind, the same options."""
    return tuple(KINDS[model.type](**model.model_dump(exclude={"type"})) for model in models)


def parameters(layers: tuple[Layer, ...]) -> list[Param]:
    """The network's parameters in `state_dict` order."""
    return sequence.parameters(layers)


def shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


# --- the network -------------------------------------------------------------------------------


def check_network(layers: tuple[Layer, ...], settings: Settings) -> None:
    if len(layers) > settings.max_layers:
        raise LimitExceeded(
            ("body", "network", "layers"),
            "max_layers",
            settings.max_layers,
            len(layers),
            "the number of layers",
        )
    errors = []
    previous: tuple[int, Linear] | None = None
    for index, layer in enumerate(layers):
        if not isinstance(layer, Linear):
            continue
        for field, width in (
            ("in_features", layer.in_features),
            ("out_features", layer.out_features),
        ):
            if width > settings.max_width:
                raise LimitExceeded(
                    ("body", "network", "layers", index, field),
                    "max_width",
                    settings.max_width,
                    width,
                    f"layer {index}'s {field}",
                )
        if previous is not None and previous[1].out_features != layer.in_features:
            before, linear = previous
            errors.append(
                ErrorItem(
                    ("body", "network", "layers", index, "in_features"),
                    f"layer {index} takes {layer.in_features} features but layer {before} gives "
                    f"{linear.out_features}: each linear layer's in_features must equal the "
                    "previous linear layer's out_features",
                    "layers_do_not_chain",
                )
            )
        previous = (index, layer)
    if errors:
        raise InvalidRequest(errors)
    count = sum(p.size for p in parameters(layers))
    if count > settings.max_parameters:
        raise LimitExceeded(
            ("body", "network"),
            "max_parameters",
            settings.max_parameters,
            count,
            "the number of parameters",
        )


FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_float32_scalars(layers: tuple[Layer, ...], learning_rate: float | None) -> None:
    """In float32 the engines take every number as a float32: a slope, a beta or a learning rate
    beyond ±3.4e38 does not fit (torch would refuse it half-way through)."""
    scalars: list[tuple[Loc, float]] = [
        (("body", "network", "layers", index, name), value)
        for index, layer in enumerate(layers)
        for name, value in dataclasses.asdict(layer).items()
        if isinstance(value, float)
    ]
    if learning_rate is not None:
        scalars.append((("body", "learning_rate"), learning_rate))
    errors = [
        ErrorItem(loc, f"{value!r} does not fit in float32 (at most ±{FLOAT32_MAX!r})", "overflow")
        for loc, value in scalars
        if abs(value) > FLOAT32_MAX
    ]
    if errors:
        raise InvalidRequest(errors)


def widths(layers: tuple[Layer, ...], in_width: int) -> list[int]:
    """The width of every layer's output, given the input's."""
    out = []
    width = in_width
    for layer in layers:
        if isinstance(layer, Linear):
            width = layer.out_features
        out.append(width)
    return out


def input_width(layers: tuple[Layer, ...]) -> int | None:
    """in_features of the first linear layer; None if any width will do (no linear layer)."""
    return next((layer.in_features for layer in layers if isinstance(layer, Linear)), None)


# --- arrays ------------------------------------------------------------------------------------
# A validated request holds its arrays as float64 NumPy arrays already (service.arrays).


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
) -> Prepared:
    """The problem, with `engines` to run on it (autograd, the reference, always among them)."""
    layers = layer_specs(request.network.layers)
    check_network(layers, settings)
    dtype = DTYPES[request.dtype]
    if dtype is np.float32:
        check_float32_scalars(layers, learning_rate)

    x, single = inputs(request, layers, dtype, settings)
    y = targets(request, layers, x, single, dtype)
    weights = weights_for(request, layers, dtype, settings.max_errors)

    tolerance = resolve(request.tolerance, default_tolerance(request.dtype, settings))
    problem = Problem(layers, weights, x, y, LOSSES[request.loss](), learning_rate)
    names = list(dict.fromkeys([REFERENCE, *engines]))  # once each, the reference first
    chosen = {name: ENGINES[name] for name in names}
    tolerances: dict[str, ToleranceRule] = {name: fixed(tolerance) for name in names[1:]}
    cost = x.shape[0] * sum(w.size for w in weights.values()) * len(names)
    if "numeric" in chosen:
        options = numeric_options or NumericOptions()
        numeric_cost = numeric.cost(problem)
        if numeric_cost > settings.max_numeric_cost:
            raise LimitExceeded(
                ("body", "engines"),
                "max_numeric_cost",
                settings.max_numeric_cost,
                numeric_cost,
                "the numeric engine's cost in multiply-adds (parameters × batch × the network "
                "downstream of each)",
            )
        chosen["numeric"] = partial(numeric.run, step=options.step)
        tolerances["numeric"] = numeric_rule(options.tolerance, request.dtype, settings)
        cost += numeric_cost
    return Prepared(problem, chosen, tolerance, tolerances, cost=cost, single=single)


def default_tolerance(dtype: str, settings: Settings) -> Tolerance:
    if dtype == "float32":
        return Tolerance(settings.float32_atol, settings.float32_rtol)
    return Tolerance(settings.float64_atol, settings.float64_rtol)


def resolve(asked: RequestTolerance, default: Tolerance) -> Tolerance:
    return Tolerance(
        atol=default.atol if asked.atol is None else asked.atol,
        rtol=default.rtol if asked.rtol is None else asked.rtol,
    )


def fixed(tolerance: Tolerance) -> ToleranceRule:
    return lambda reference: tolerance


def numeric_rule(asked: RequestTolerance, dtype: str, settings: Settings) -> ToleranceRule:
    """Central differences' tolerance: it grows with the loss; a float32 reference's own
    rounding needs at least the float32 defaults."""

    def rule(reference: EngineResult) -> Tolerance:
        default = numeric.tolerance(float(reference.loss))
        if dtype == "float32":
            floor = default_tolerance("float32", settings)
            default = Tolerance(max(default.atol, floor.atol), max(default.rtol, floor.rtol))
        return resolve(asked, default)

    return rule


def inputs(
    request: ProblemRequest, layers: tuple[Layer, ...], dtype: type, settings: Settings
) -> tuple[np.ndarray, bool]:
    """x as (batch, in_features), and whether it was a single point."""
    loc: Loc = ("body", "x")
    expected = input_width(layers)
    if request.x is None:
        if expected not in (None, len(seed.X)):
            raise InvalidRequest(
                [
                    ErrorItem(
                        loc,
                        f"x is required: the network takes {expected} features and the default "
                        f"x (the seed's point) has {len(seed.X)}",
                        "missing",
                    )
                ]
            )
        array = np.array(seed.X)
    else:
        array = request.x
    if array.size == 0:
        raise InvalidRequest([ErrorItem(loc, "x must hold at least one number", "empty")])
    if array.ndim not in (1, 2):
        msg = "x is one point [x1, x2, …] or a batch [[…], …]"
        raise InvalidRequest([ErrorItem(loc, msg, "wrong_shape")])
    single = array.ndim == 1
    x = cast(array[None] if single else array, loc, dtype)
    batch, width = x.shape
    if expected is not None and width != expected:
        what = "point" if single else "every row"
        raise InvalidRequest(
            [
                ErrorItem(
                    loc,
                    f"the network takes {expected} features (in_features of its first linear "
                    f"layer) but {what} of x has {width}",
                    "wrong_shape",
                )
            ]
        )
    if batch > settings.max_batch:
        raise LimitExceeded(loc, "max_batch", settings.max_batch, batch, "the batch size")
    activations = batch * (width + sum(widths(layers, width)))
    if activations > settings.max_activations:
        raise LimitExceeded(
            loc,
            "max_activations",
            settings.max_activations,
            activations,
            "batch × (input width + every layer's width)",
        )
    return x, single


def targets(
    request: ProblemRequest,
    layers: tuple[Layer, ...],
    x: np.ndarray,
    single: bool,
    dtype: type,
) -> np.ndarray:
    """y as (batch, out_features), the prediction's shape; (batch,) class indices for
    cross_entropy."""
    batch = x.shape[0]
    out = widths(layers, x.shape[1])[-1]
    given = request.y
    if request.loss == "cross_entropy":
        return class_indices(given, batch, out, single, dtype)
    if given is None:
        return default_labels(request, x, out, dtype)
    y = shaped_like_prediction(given, batch, out, single, dtype)
    if request.loss == "bce_with_logits":
        outside = np.argwhere((y < 0) | (y > 1))
        if len(outside):
            index = tuple(int(i) for i in outside[0])
            where = index[1:] if single else index
            msg = f"bce_with_logits takes targets in [0, 1]; this one is {y[index]}"
            raise InvalidRequest([ErrorItem(("body", "y", *where), msg, "out_of_range")])
    return y


def default_labels(request: ProblemRequest, x: np.ndarray, out: int, dtype: type) -> np.ndarray:
    loc: Loc = ("body", "y")
    if request.loss not in ("sse", "mse") or out != 1:
        why = (
            f"the network has {out} outputs"
            if request.loss in ("sse", "mse")
            else f"the loss is {request.loss}"
        )
        msg = (
            f"y is required: {why}, and the default labels (½ Σ x² per sample) are defined for "
            "one output with sse or mse only"
        )
        raise InvalidRequest([ErrorItem(loc, msg, "missing")])
    if request.x is None:
        return np.full((1, 1), seed.Y, dtype=dtype)
    with np.errstate(over="ignore"):
        labels = seed.labels(x.astype(np.float64)).astype(dtype)
    if not np.all(np.isfinite(labels)):
        msg = "the default labels ½ Σ x² overflow for this x; give y"
        raise InvalidRequest([ErrorItem(loc, msg, "overflow")])
    return labels


def shaped_like_prediction(
    y: float | np.ndarray, batch: int, out: int, single: bool, dtype: type
) -> np.ndarray:
    loc: Loc = ("body", "y")
    prediction_shape = (out,) if single else (batch, out)
    if isinstance(y, float):
        if prediction_shape != (1,):
            hint = " like the prediction (a bare number fits one point with one output)"
            raise InvalidRequest([shape_error(loc, prediction_shape, (), hint)])
        y = np.array([y])
    if y.shape != prediction_shape:
        hint = " like the prediction"
        if not single and out == 1 and y.shape == (batch,):
            hint += ": one output per sample is written [[y1], [y2], …]"
        raise InvalidRequest([shape_error(loc, prediction_shape, y.shape, hint)])
    return cast(y, loc, dtype).reshape(batch, out)  # refuses a number float32 cannot hold


def class_indices(
    y: float | np.ndarray | None, batch: int, classes: int, single: bool, dtype: type
) -> np.ndarray:
    """cross_entropy's targets: one integer in [0, classes) per sample."""
    loc: Loc = ("body", "y")
    form = "a bare integer for one point" if single else f"a list of {batch} integers"
    if y is None:
        msg = f"y is required: cross_entropy takes class indices, {form}"
        raise InvalidRequest([ErrorItem(loc, msg, "missing")])
    values = np.array([y]) if isinstance(y, float) else y
    if single != isinstance(y, float) or values.shape != (batch,):
        msg = f"cross_entropy takes class indices: {form}"
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
    if sum(p.size for p in parameters(layers)) <= CACHED_PARAMETERS:
        return _cached_initial_weights(layers, seed)
    return initial_weights(layers, seed)


def weights_for(
    request: ProblemRequest, layers: tuple[Layer, ...], dtype: type, max_errors: int
) -> dict[str, np.ndarray]:
    expected = parameters(layers)
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
    names = {p.name for p in expected}
    unexpected = [name for name in given if name not in names]
    listed = names_text([p.name for p in expected])
    errors += [
        ErrorItem(
            ("body", "weights", name),
            f"unexpected name {name!r}: this network's parameters are {listed}",
            "unexpected_weight",
        )
        for name in unexpected[:max_errors]
    ]
    weights = {}
    for p in expected:
        if p.name not in given:
            continue
        loc: Loc = ("body", "weights", p.name)
        array = cast(given[p.name], loc, dtype)
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
    }
