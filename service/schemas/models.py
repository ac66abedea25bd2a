"""The contract: what a request may hold and what a response holds (see DESIGN.md).

Models are strict: numbers must be JSON numbers (`false` and `"1.0"` are not), non-finite
numbers are refused wherever they appear, and unknown fields are errors, not silently ignored.
A request's arrays are validated by `service.schemas.arrays` into float64 NumPy arrays (the schema
shows them as the JSON they are sent as); validated with a `Bounds` context, as the HTTP layer
does, sizes are measured before anything is allocated and errors are capped. Shapes, chaining
and the other limits need the whole request and are checked in `problem.py`.
"""

from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from service.core import seed
from service.core.config import limit_msg
from service.schemas.arrays import (
    EMPTY,
    Ragged,
    any_nesting,
    as_lists,
    decode,
    details,
    number,
    tensor,
)
from service.schemas.constraints import (
    Bounds,
    Count,
    Finite,
    Integral,
    Natural,
    PositiveFinite,
    Strict,
    refuse,
)
from service.schemas.layers import LayerModel
from service.schemas.losses import LossModel
from service.schemas.tensors import (
    Base64Tensor,
    DType,
    EngineName,
    Nested,
    Tensor,
    TensorOrNumber,
)

# --- arrays in a request: validated by service.schemas.arrays with NumPy, documented as above


def _bounds(info: ValidationInfo) -> Bounds | None:
    """The request's limits and error count; None when a model is built in Python."""
    return info.context if isinstance(info.context, Bounds) else None


def _base64(value: Any, bounds: Bounds | None) -> np.ndarray:
    if not isinstance(value, Base64Tensor):
        try:
            value = Base64Tensor.model_validate(value, context=bounds)
        except ValidationError as exc:
            refuse(bounds, [details(error) for error in exc.errors()])
            return EMPTY
    return decode(tuple(value.shape), value.dtype, value.data_b64, bounds)


def _tensor(value: Any, info: ValidationInfo) -> np.ndarray:
    bounds = _bounds(info)
    if isinstance(value, np.ndarray):  # from Python: a request built from another one's arrays
        return value
    if isinstance(value, dict | Base64Tensor):
        return _base64(value, bounds)
    if isinstance(value, list):
        return tensor(value, bounds)
    refuse(bounds, [InitErrorDetails(type="list_type", loc=(), input=value)])
    return EMPTY


def _tensor_or_number(value: Any, info: ValidationInfo) -> np.ndarray | float:
    if isinstance(value, int | float):
        return number(value, _bounds(info))
    array = _tensor(value, info)
    return float(array) if array.ndim == 0 else array  # a base64 tensor of shape []


def _candidate_array(value: Any, info: ValidationInfo) -> np.ndarray | Ragged:
    bounds = _bounds(info)
    if isinstance(value, np.ndarray | Ragged):
        return value
    if isinstance(value, dict | Base64Tensor):
        return _base64(value, bounds)
    if isinstance(value, list):
        return any_nesting(value, bounds, MAX_CANDIDATE_DEPTH)
    return np.asarray(number(value, bounds))


def _array_field(validate: Any, schema: Any) -> tuple[PlainValidator, PlainSerializer]:
    return (
        PlainValidator(validate, json_schema_input_type=schema),
        PlainSerializer(as_lists, return_type=schema),
    )


TensorIn = Annotated[np.ndarray, *_array_field(_tensor, Tensor)]
TensorOrNumberIn = Annotated[np.ndarray | float, *_array_field(_tensor_or_number, TensorOrNumber)]


# --- the network: every layer kind's model is in service.schemas.layers -------------------------

SEED_LAYERS: list[LayerModel] = TypeAdapter(list[LayerModel]).validate_python(seed.LAYERS)


def _count_layers(layers: list[Any], limit: int) -> int:
    """Layers in a raw network, those inside blocks included, counted level by level without
    recursion and only up to just past `limit`: a deep nest of blocks costs no more."""
    count, level = 0, list(layers)
    while level and count <= limit:
        count += len(level)
        level = [
            inner
            for layer in level
            if isinstance(layer, dict) and isinstance(layer.get("layers"), list)
            for inner in layer["layers"]
        ]
    return count


class Network(Strict):
    layers: list[LayerModel] = Field(
        default=SEED_LAYERS,
        min_length=1,
        description="Applied in order, like `torch.nn.Sequential`. Default: the seed's "
        "2-10-10-1 sigmoid network.",
    )

    def __hash__(self) -> int:
        """Frozen, and its layers read only: hashable, so that pydantic shares `Network()`, the
        default, between requests instead of deep-copying it for each (18 µs)."""
        return hash(tuple(self.layers))

    @field_validator("layers", mode="before")
    @classmethod
    def _at_most_max_layers(cls, layers: Any, info: ValidationInfo) -> Any:
        """Counted before each layer is validated, blocks' layers included: 5 million junk
        layers would be 5 million errors, and blocks nested a million deep a recursion that
        never ends (network.check_layers checks it again for a network built in Python)."""
        bounds = info.context
        if isinstance(bounds, Bounds) and isinstance(layers, list):
            limit = bounds.max_layers
            asked = _count_layers(layers, limit)
            if asked > limit:
                msg = limit_msg("the number of layers", asked, limit, "max_layers")
                ctx = {"limit": "max_layers", "value": limit, "asked": asked}
                raise PydanticCustomError("limit_exceeded", msg, ctx)
        return layers


class RequestedTolerance(Strict):
    """`agree` holds where |engine − reference| ≤ atol + rtol·|reference| for every entry."""

    atol: Annotated[Finite, Field(ge=0)] | None = Field(
        None, description="Default: 1e-12 for float64, 1e-5 for float32."
    )
    rtol: Annotated[Finite, Field(ge=0)] | None = Field(
        None, description="Default: 1e-9 for float64, 1e-4 for float32."
    )


# --- POST /gradients ---------------------------------------------------------------------------


class NumericOptions(Strict):
    """The numeric engine: central differences in float64."""

    step: Annotated[Finite, Field(gt=0, le=0.1)] = Field(
        6e-6, description="h = step·max(1, |θ|) per entry; ∛ε balances truncation and rounding."
    )
    tolerance: RequestedTolerance = Field(
        default_factory=RequestedTolerance,
        description="Default: atol 1e-7·max(1, |L|/10), rtol 1e-6 (float64); for float32 "
        "problems at least the float32 defaults.",
    )


class NetworkRequest(Strict):
    """What every endpoint that computes or trains needs: the network, its weights (or the seed
    they are drawn from), dropout's seed, the loss, the dtype and the tolerance."""

    network: Network = Network()
    weights: dict[str, TensorOrNumberIn] | None = Field(
        None,
        description='Keyed like `nn.Sequential(...).state_dict()`: "0.weight" (out × in), '
        '"0.bias", "2.weight", … A real state_dict\'s buffers (batch norm\'s running_mean, '
        "running_var, num_batches_tracked) are accepted and get no gradient. Default: "
        "initialised from `init_seed`.",
    )
    init_seed: Natural = Field(
        seed.INIT_SEED,
        description="Without `weights`: the weights `torch.manual_seed(init_seed)` then "
        "building the network gives.",
    )
    dropout_seed: Natural = Field(
        0,
        description="Dropout's masks are the ones torch draws in train mode after "
        "`torch.manual_seed(dropout_seed)`: for one forward pass (`trace` shows them), or, in "
        "training, step after step from that one seed; every engine uses the same masks.",
    )
    loss: LossModel = Field(
        seed.LOSS,
        description='A name, or an object with options (`{"type": "huber", '
        '"delta": 0.5}`): `sse` = Σ(prediction − y)²; `mse` = its mean; `cross_entropy` '
        "(logits, class indices); `bce_with_logits` (logits, y in [0, 1]); `nll` (log-"
        "probabilities, class indices); `l1`; `smooth_l1` (beta); `huber` (delta); "
        "`multi_margin` (margin, p; class indices) — torch.nn's, each a mean over the batch "
        "but sse.",
    )
    dtype: DType = "float64"
    tolerance: RequestedTolerance = Field(
        default_factory=RequestedTolerance,
        description="How close the other engines must come to autograd (in training: the "
        "manual engine's weights, after every step).",
    )
    return_weights: bool = Field(
        False,
        description="Also answer `weights`: the weights used (drawn from `init_seed`, or as "
        "sent), keyed like state_dict, in the dtype; in training, the starting ones. A grader "
        "in any language gets torch's initial weights this way.",
    )


class ProblemRequest(NetworkRequest):
    """One problem: the network's request parts, and x and y."""

    x: TensorIn | None = Field(
        None,
        description="One sample of the network's input shape (`[x1, x2, …]` for a linear "
        "first layer, `[C, H, W]` for conv2d) or a batch of them, with one more leading "
        "axis. Default: the seed's point [0.9861, 0.6680].",
    )
    y: TensorOrNumberIn | None = Field(
        None,
        description="The prediction's shape; a bare number for one sample with one output. "
        "For cross_entropy, nll and multi_margin, class indices: a bare integer for one "
        "sample, [c1, c2, …] for a batch. Default (sse and mse): 0.7093 with the seed's x, "
        "else ½ Σ x² per sample (one output only).",
    )


class GradientsRequest(ProblemRequest):
    model_config = ConfigDict(json_schema_extra={"examples": [seed.request_body()]})

    engines: Annotated[list[EngineName], Field(min_length=1, max_length=3)] = Field(
        ["autograd", "manual"],
        description="Which engines to run: autograd (torch), manual (NumPy backprop), numeric "
        "(central differences). autograd always runs: it is the reference.",
    )
    numeric: NumericOptions = Field(default_factory=NumericOptions)
    learning_rate: PositiveFinite | None = Field(
        None,
        description="If set, every engine also takes one SGD step: `updated_weights` = "
        "w − learning_rate·g (the seed uses 0.05).",
    )
    encoding: Literal["json", "base64"] = Field(
        "json",
        description="How the response writes its arrays: nested lists, or compact base64 "
        "tensors {shape, dtype, data_b64} (much faster for large networks).",
    )
    trace: bool = Field(
        False,
        description="Add the manual engine's step-by-step values: each layer's input, output "
        "and the gradients flowing back through it.",
    )


# --- responses ---------------------------------------------------------------------------------


# --- POST /gradients/check --------------------------------------------------------------------


def _nested_or_base64(value: Any) -> str:
    return "base64" if isinstance(value, dict | Base64Tensor) else "nested"


CandidateSchema = Annotated[
    Annotated[Nested, Tag("nested")] | Annotated[Base64Tensor, Tag("base64")],
    Discriminator(_nested_or_base64),
]
MAX_TRACE_STEPS = 256  # as many as a network may have layers
MAX_CANDIDATE_DEPTH = 8  # the expected arrays have at most 2 dimensions; NumPy takes at most 64
CandidateArray = Annotated[np.ndarray | Ragged, *_array_field(_candidate_array, CandidateSchema)]


class CandidateStep(Strict):
    """One layer's backward step as the caller computed it, named as the trace names it."""

    index: Natural = Field(description="The layer's index in the network.")
    grad_output: CandidateArray | None = Field(None, description="dL/d(output)")
    grad_input: CandidateArray | None = Field(None, description="dL/d(input)")
    grad_z: CandidateArray | None = Field(
        None, description="dL/dz: a linear layer's dL/d(output), an activation's dL/d(input)."
    )
    grad_a: CandidateArray | None = Field(None, description="dL/da: an activation's output's.")


class Candidate(Strict):
    """Numbers the caller computed with their own code, shaped like a /gradients response."""

    gradients: dict[str, CandidateArray] = Field(
        description='Keyed like the weights: {"0.weight": [[…]], "0.bias": […], …}.'
    )
    loss: Finite | None = None
    prediction: CandidateArray | None = None
    input_gradient: CandidateArray | None = None
    trace: Annotated[list[CandidateStep], Field(max_length=MAX_TRACE_STEPS)] | None = Field(
        None,
        description="Your own backward pass, layer by layer (any layers, any of their values): "
        "the first step that differs from the reference's is named exactly in `diagnoses`.",
    )


class CheckRequest(ProblemRequest):
    candidate: Candidate
    max_mismatches: Annotated[int, Field(ge=0, le=1000), Integral] = Field(
        10, description="At most this many mismatching entries are listed per quantity."
    )


# --- data sets and training: GET /datasets/seed, POST /train ------------------------------------

Seed = Natural
# ½ Σ x² must stay finite in float64: |x| up to 1e150 keeps it below 1e300.
COORDINATE_BOUND = 1e150
Bound = Annotated[Finite, Field(ge=-COORDINATE_BOUND, le=COORDINATE_BOUND)]


class GeneratedData(Strict):
    """The seed's data set, generated by the service exactly as GET /datasets/seed gives it."""

    generator: Literal["seed"]
    n: Count = Field(100, description="How many points; at most GRADIENT_SERVICE_MAX_BATCH.")
    seed: Seed = Field(0, description="Seeds `np.random.default_rng(seed)`.")
    low: Bound = 0.0
    high: Bound = 1.0

    @model_validator(mode="after")
    def _low_below_high(self) -> Self:
        if not self.low < self.high:
            msg = "low ({low}) must be below high ({high})"
            raise PydanticCustomError(
                "low_not_below_high", msg, {"low": self.low, "high": self.high}
            )
        return self


class GivenData(Strict):
    """Samples the caller sends: every row of x is one sample, y its target."""

    x: TensorIn = Field(description="[[x1, x2, …], …], one row per sample.")
    y: TensorOrNumberIn | None = Field(
        None,
        description="The prediction's shape, [[y1], …]; class indices for cross_entropy. "
        "Default (sse and mse, one output): ½ Σ x² per sample.",
    )


def _data_source(value: Any) -> str:
    if isinstance(value, GeneratedData) or (isinstance(value, dict) and "generator" in value):
        return "generated"
    return "given"


TrainingData = Annotated[
    Annotated[GeneratedData, Tag("generated")] | Annotated[GivenData, Tag("given")],
    Discriminator(_data_source),
]


class TrainRequest(NetworkRequest):
    """SGD with both engines, each on its own weights. `{}` trains the assignment as written."""

    data: TrainingData = Field(
        default_factory=lambda: GeneratedData(generator="seed"),
        description='`{"x": …, "y": …}`, or `{"generator": "seed", "n", "seed", "low", "high"}`. '
        "Default: the seed's 100 points (generator seed 0 in [0, 1)²).",
    )
    learning_rate: PositiveFinite = Field(
        0.05, description="SGD's: w ← w − learning_rate·g after every batch."
    )
    batch_size: Count = Field(
        1, description="Samples per step; the last batch of an epoch may be smaller."
    )
    epochs: Count = Field(
        1,
        description="Passes over the data. Default 1: the assignment's one pass, 100 steps of "
        "batch 1. The run's work (samples and steps, training.py) is at most "
        "GRADIENT_SERVICE_MAX_TRAINING_COST.",
    )
    shuffle_seed: Seed | None = Field(
        None,
        description="Without it every epoch takes the samples in order. With it, epoch k takes "
        "them in the order of the k-th `permutation(n)` drawn from "
        "`np.random.default_rng(shuffle_seed)`.",
    )
