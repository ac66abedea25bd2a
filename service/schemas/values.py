"""Values the domain computes and the responses carry as they are: one class each, documented
here for the spec and written by orjson natively (a dataclass is a JSON object)."""

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field


@dataclass(frozen=True)
class Deviation:
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
class LeftTolerance:
    """Where a training run's manual weights first left autograd's tolerance."""

    step: Annotated[
        int, Field(description="The first step after which some weight was out of tolerance.")
    ]
    epoch: int
    max_abs: Annotated[
        float, Field(description="The largest |w_autograd − w_manual| after that step.")
    ]
