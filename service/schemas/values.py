"""Values the domain computes and the responses carry as they are: one class each, documented
here for the spec and written by orjson natively (a dataclass is a JSON object)."""

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field


@dataclass(frozen=True)
class Tolerance:
    """How close two results must be: |a − b| ≤ atol + rtol·|reference|, entry by entry."""

    atol: float
    rtol: float


@dataclass(slots=True)  # not frozen: a frozen dataclass takes 3× as long to build, and a
class Deviation:  # response builds one per quantity
    """How far one quantity of an engine is from the reference (autograd)."""

    max_abs: Annotated[float, Field(description="max |a − b|")]
    max_rel: Annotated[float, Field(description="max |a − b| / max(|a|, |b|), 0 where both are 0")]
    agree: Annotated[bool, Field(description="every entry within atol + rtol·|reference|")]


@dataclass(frozen=True)
class Mismatch:
    """One entry of a candidate outside tolerance."""

    index: Annotated[
        tuple[int, ...], Field(description="Row-major position: [3, 1] is row 3, column 1.")
    ]
    expected: float
    got: float
    abs_error: float
    rel_error: float


@dataclass(frozen=True)
class Kink:
    """An entry whose value depends on a point where a derivative is not defined: the input sits
    on it, or a numeric step crosses it. Left out of `agree`, `max_abs` and `max_rel`."""

    quantity: Annotated[str, Field(description="A parameter's name, or `input_gradient`.")]
    index: Annotated[tuple[int, ...], Field(description="Row-major position in that quantity.")]
    layer: Annotated[
        int | None, Field(description="The layer whose kink it is; null for the loss's.")
    ]
    why: Annotated[str, Field(description="What the kink is, and the side torch takes.")]


@dataclass(frozen=True)
class EngineDeviation:
    """How far one engine is from the reference, quantity by quantity."""

    loss: Deviation
    prediction: Deviation
    gradients: dict[str, Deviation]
    input_gradient: Deviation
    updated_weights: dict[str, Deviation] | None
    max_abs: Annotated[float, Field(description="the largest max_abs above")]
    max_rel: Annotated[float, Field(description="the largest max_rel above")]
    agree: Annotated[bool, Field(description="every quantity above agrees")]
    tolerance: Annotated[Tolerance, Field(description="what `agree` was judged with")]
    kink_count: Annotated[
        int,
        Field(
            description="Entries left out of the comparison: their value depends on a kink "
            "(a point where a derivative is not defined) that the input sits on or, for the "
            "numeric engine, that its step crosses. Entries merely near one are compared."
        ),
    ] = 0
    kinks: Annotated[list[Kink], Field(description="The first of those entries (at most 100).")] = (
        field(default_factory=list)
    )


Status = Literal["ok", "mismatch", "wrong_shape", "missing"]


@dataclass(frozen=True)
class Finding:
    """How one quantity of a candidate compares with the reference."""

    status: Status
    expected_shape: tuple[int, ...]
    shape: Annotated[
        tuple[int, ...] | None, Field(description="The candidate's; null when missing or ragged.")
    ]
    entries: Annotated[int, Field(description="How many the reference has.")]
    correct: Annotated[int, Field(description="Entries within atol + rtol·|expected|.")]
    agree: Annotated[bool, Field(description="status is ok")]
    max_abs: float | None = None  # only when the shapes match
    max_rel: float | None = None
    mismatch_count: int = 0
    mismatches: Annotated[
        list[Mismatch], Field(description="The worst first, at most max_mismatches.")
    ] = field(default_factory=list)
    hint: Annotated[
        str | None,
        Field(
            description="What the mistake looks like: a transpose, the right numbers in the "
            "wrong shape, a constant factor (2, ½, −1, the batch size)."
        ),
    ] = None
    kink_count: Annotated[
        int,
        Field(
            description="Entries at a kink the input sits on, where the candidate holds a valid "
            "one-sided derivative other than torch's: counted correct."
        ),
    ] = 0


DiagnosisKind = Literal[
    "transpose", "factor", "batch_mean", "not_summed_over_batch", "single_sample", "swapped",
    "wrong_activation_derivative", "wrong_layer_input", "backprop_not_transposed", "zero",
    "precision", "entries", "error_enters_at", "kink",
]  # fmt: skip


@dataclass(frozen=True)
class Diagnosis:
    """A mistake that reproduces the candidate's numbers (tested, not guessed), or a kink."""

    kind: DiagnosisKind
    parameters: Annotated[list[str], Field(description="The quantities it explains.")]
    layer: Annotated[
        int | None,
        Field(description="The layer where the error enters the backward pass; null if none."),
    ]
    message: Annotated[str, Field(description="What went wrong, and what is right.")]


@dataclass(frozen=True)
class CheckReport:
    """A candidate's grade: a verdict, partial credit, and a finding per quantity."""

    verdict: Literal["pass", "fail"]
    score: Annotated[
        float,
        Field(
            description="A grade per bug, the same wherever it sits: 1 − bugs / quantities "
            "graded, at least 0. A bug is a diagnosis that names a mistake (one at a layer "
            "counts once however many gradients below it spoils) or a wrong quantity no named "
            "mistake explains; a kink is not one."
        ),
    ]
    entry_score: Annotated[
        float, Field(description="correct / total: the fraction of entries within tolerance.")
    ]
    correct: Annotated[int, Field(description="Entries within tolerance, over every quantity.")]
    total: int
    loss: Finding | None
    prediction: Finding | None
    input_gradient: Finding | None
    gradients: Annotated[
        dict[str, Finding], Field(description="Every parameter, missing ones included.")
    ]
    missing: list[str]
    unexpected: list[str]
    diagnoses: Annotated[
        list[Diagnosis],
        Field(description="Which mistake reproduces the wrong numbers, most specific first."),
    ]
    kink_count: Annotated[
        int,
        Field(description="Entries passed because they hold a valid one-sided derivative."),
    ] = 0
    kinks: Annotated[
        list[Kink], Field(description="The first of them (at most 100), with each kink's why.")
    ] = field(default_factory=list)


@dataclass(frozen=True)
class LeftTolerance:
    """Where a training run's manual weights first left autograd's tolerance."""

    step: Annotated[
        int, Field(description="The first step after which some weight was out of tolerance.")
    ]
    epoch: int
    max_abs: Annotated[
        float, Field(description="The largest |w_autograd − w_manual| after that step.")
    ]


@dataclass(frozen=True, kw_only=True)
class EpochReport:
    """One epoch, as it completes: a line of the x-ndjson stream."""

    type: Literal["epoch"] = "epoch"
    epoch: Annotated[int, Field(description="1 for the first.")]
    step: Annotated[int, Field(description="SGD steps taken so far, over all epochs.")]
    loss: Annotated[
        dict[str, float],
        Field(
            description="Per engine, the mean over the epoch's steps of each batch's loss, "
            "taken before that step's update."
        ),
    ]
    weight_deviation: Annotated[
        Deviation,
        Field(description="The manual engine's weights against autograd's, after the epoch."),
    ]
    elapsed_ms: Annotated[float, Field(description="The epoch's wall time.")]
    engine_ms: Annotated[dict[str, float], Field(description="Each engine's share of it.")]
