"""What the service answers: the documented response models. The domain builds them without
validation (service.domain.answers); the Python client reads them back. Pure pydantic and the
value classes of service.schemas.values: no NumPy."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from service.schemas.constraints import Finite
from service.schemas.tensors import DType, EngineName, Matrix, Tensor
from service.schemas.values import (
    CheckReport,
    Deviation,
    EngineDeviation,
    EpochReport,
    LeftTolerance,
    Tolerance,
)

Gradients = dict[str, Tensor]


class EngineOutput(BaseModel):
    loss: Finite
    prediction: Tensor
    gradients: Gradients
    input_gradient: Tensor = Field(description="dL/dx, the shape of x.")
    updated_weights: Gradients | None = Field(
        None, description="w − learning_rate·g with a learning rate; else null."
    )
    elapsed_ms: Finite


ActivationName = Literal[
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu", "silu", "mish"
]


OtherKind = Literal[
    "conv2d", "max_pool2d", "avg_pool2d", "flatten", "batch_norm1d", "batch_norm2d",
    "layer_norm", "dropout", "softmax", "log_softmax", "residual",
]  # fmt: skip


class TraceLinear(BaseModel):
    """z = input·Wᵀ + b, and backward: dL/dW = grad_zᵀ·input, grad_input = grad_z·W."""

    index: int
    type: Literal["linear"]
    input: Tensor
    z: Tensor
    grad_z: Tensor = Field(description="dL/dz")
    grad_input: Tensor = Field(description="dL/d(input)")


class TraceActivation(BaseModel):
    """a = f(z), and backward: grad_z = grad_a · f'(z)."""

    index: int
    type: ActivationName
    z: Tensor
    a: Tensor
    grad_a: Tensor = Field(description="dL/da")
    grad_z: Tensor = Field(description="dL/dz")


class TraceOther(BaseModel):
    """output = f(input), and backward: grad_input from grad_output, each kind's own way."""

    index: int
    type: OtherKind
    input: Tensor
    output: Tensor
    grad_output: Tensor = Field(description="dL/d(output)")
    grad_input: Tensor = Field(description="dL/d(input)")
    values: dict[str, Tensor] | None = Field(
        None,
        description="What else the layer computed: batch and layer norm's `mean` and `var`, "
        "dropout's `mask`, max-pool's `indices` (per sample where batch-first).",
    )


TraceLayer = Annotated[TraceLinear | TraceActivation | TraceOther, Field(discriminator="type")]


class GradientsResponse(BaseModel):
    reference: Literal["autograd"] = "autograd"
    loss: Finite = Field(description="The reference engine's loss.")
    prediction: Tensor = Field(description="`[out]` for one point, `[batch, out]` for a batch.")
    gradients: Gradients = Field(description="The reference engine's, keyed like the weights.")
    input_gradient: Tensor = Field(description="The reference engine's dL/dx, the shape of x.")
    updated_weights: Gradients | None = Field(
        None,
        description="The reference's w − learning_rate·g (`torch.optim.SGD(lr).step()`) with a "
        "learning rate; else null.",
    )
    trace: list[TraceLayer] | None = Field(
        None, description="With `trace`: the manual engine's values, layer by layer; else null."
    )
    weights: Gradients | None = Field(
        None,
        description="With `return_weights`: the weights used, keyed like state_dict; else null.",
    )
    engines: dict[str, EngineOutput]
    deviations: dict[str, EngineDeviation] = Field(
        description="Each engine but the reference, against the reference."
    )
    agree: bool
    dtype: DType
    tolerance: Tolerance = Field(description="The analytic engines' (manual's).")


class Expected(BaseModel):
    loss: Finite
    prediction: Tensor
    gradients: Gradients
    input_gradient: Tensor


class CheckResponse(BaseModel):
    reference: Literal["autograd"] = "autograd"
    expected: Expected = Field(description="The reference values the candidate was graded on.")
    report: CheckReport
    weights: Gradients | None = Field(
        None,
        description="With `return_weights`: the weights used, keyed like state_dict; else null.",
    )
    dtype: DType
    tolerance: Tolerance


class ErrorDetail(BaseModel):
    type: str = Field(description="A machine-readable kind, e.g. `wrong_shape`, `limit_exceeded`.")
    loc: list[str | int] = Field(description='Where, as a path into the request: ["body", "x", 3].')
    msg: str = Field(description="What is wrong and what was expected.")
    input: Any = Field(None, description="The rejected value, when it is a small scalar.")
    ctx: dict[str, Any] | None = Field(None, description="Particulars, e.g. a limit's value.")


class ErrorResponse(BaseModel):
    detail: list[ErrorDetail]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    engines: list[str]


class Readiness(BaseModel):
    status: Literal["starting", "ready", "failed"] = Field(
        description="`ready` once the start-up self-check (the seed example through every "
        "engine) has passed."
    )
    reason: str | None = Field(description="Why the service is not ready; null when it is.")
    version: str


class SeedDataset(BaseModel):
    """n points uniform in [low, high)², labelled ½ Σ x²: `{"x": …, "y": …}` is a POST /train
    `data` as it stands."""

    x: Matrix = Field(description="[[x1, x2], …], one row per point.")
    y: Matrix = Field(description="[[½ Σ x²], …], one row per point: the prediction's shape.")
    n: int
    seed: int
    low: float
    high: float


class TrainResponse(BaseModel):
    """The whole run: the JSON answer, and the last line of the x-ndjson stream."""

    type: Literal["summary"] = "summary"
    epochs: int
    steps: int
    samples: int
    loss_curves: dict[EngineName, list[Finite]] = Field(description="Each epoch's mean loss.")
    final_weights: dict[EngineName, Gradients] = Field(
        description="Each engine's weights after the last step, keyed like state_dict."
    )
    weight_deviation: Deviation = Field(description="manual's final weights against autograd's.")
    within_tolerance: bool = Field(
        description="After every step, every weight of manual was within atol + rtol·|autograd's|."
    )
    left_tolerance: LeftTolerance | None = Field(
        description="Where they first were not; null if they never left."
    )
    tolerance: Tolerance
    dtype: DType
    elapsed_ms: Finite
    weights: Gradients | None = Field(
        None,
        description="With `return_weights`: the starting weights, keyed like state_dict; "
        "else null.",
    )
    engine_ms: dict[EngineName, Finite] = Field(description="Each engine's time over the run.")
    history: list[EpochReport] | None = Field(
        None,
        description="Every epoch's report; null in the stream's summary line, as the stream "
        "sent them one by one before it.",
    )
