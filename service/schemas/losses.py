"""The losses a request may name: torch.nn.functional's, as a name or an object with options.

`"huber"` and `{"type": "huber"}` are the same loss; `{"type": "huber", "delta": 0.5}` sets an
option. Each model's fields are the engine-side loss's (`service.engines.losses`), with the same
names and defaults. This module needs pydantic only (the client imports it).
"""

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from service.schemas.constraints import Finite, PositiveFinite, Strict


class SSE(Strict):
    """Σ (prediction − y)²: the seed's loss."""

    type: Literal["sse"]


class MSE(Strict):
    """The mean of (prediction − y)²: `nn.MSELoss`."""

    type: Literal["mse"]


class CrossEntropy(Strict):
    """`nn.CrossEntropyLoss` on logits; y holds class indices; the mean over the batch."""

    type: Literal["cross_entropy"]


class BCEWithLogits(Strict):
    """`nn.BCEWithLogitsLoss` on logits; y in [0, 1], the prediction's shape; the mean."""

    type: Literal["bce_with_logits"]


class NLL(Strict):
    """`nn.NLLLoss`: the mean of −prediction[y], y class indices (meant for log-probabilities,
    e.g. after `log_softmax`; like torch, not checked)."""

    type: Literal["nll"]


class L1(Strict):
    """`nn.L1Loss`: the mean of |prediction − y|."""

    type: Literal["l1"]


class SmoothL1(Strict):
    """`nn.SmoothL1Loss`: ½d²/beta where |d| < beta, |d| − ½beta elsewhere; the mean."""

    type: Literal["smooth_l1"]
    beta: Annotated[Finite, Field(ge=0)] = 1.0


class Huber(Strict):
    """`nn.HuberLoss`: ½d² where |d| < delta, delta(|d| − ½delta) elsewhere; the mean."""

    type: Literal["huber"]
    delta: PositiveFinite = 1.0


class MultiMargin(Strict):
    """`nn.MultiMarginLoss`, the multiclass hinge: Σ_{i≠y} max(0, margin − p[y] + p[i])^p / C,
    the mean over the batch; y class indices."""

    type: Literal["multi_margin"]
    margin: Finite = 1.0
    p: Literal[1, 2] = 1


LossName = Literal[
    "sse", "mse", "cross_entropy", "bce_with_logits", "nll", "l1", "smooth_l1", "huber",
    "multi_margin",
]  # fmt: skip

LossObject = Annotated[
    SSE | MSE | CrossEntropy | BCEWithLogits | NLL | L1 | SmoothL1 | Huber | MultiMargin,
    Field(discriminator="type"),
]


def _name_or_object(value: Any) -> str:
    return "name" if isinstance(value, str) else "object"


LossModel = Annotated[
    Annotated[LossName, Tag("name")] | Annotated[LossObject, Tag("object")],
    Discriminator(_name_or_object),
]
