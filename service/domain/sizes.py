"""How large an answer will be, known from the problem's shapes before anything is computed.

A 415-byte request (a 2-1410-tanh-1410-tanh-1 network from a seed, with learning_rate and trace)
asked for a 259 MB answer: two million parameters, each gradient and updated weight written once
per engine and once more for the reference. An answer's size is arrays × entries × bytes per
number, so one over GRADIENT_SERVICE_MAX_RESPONSE_BYTES is refused before any work, with a 422
that says what it would weigh and which options would make it fit.

Bytes per number are upper bounds, so an answer is never larger than its estimate: in JSON a
float64 takes at most 25 bytes with its comma ("-2.2250738585072014e-308,"), a float32 at most
16; base64 takes 4 characters per 3 bytes. Keys, names and deviations add a little per array.
"""

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any

from service.core.config import Settings
from service.core.exceptions import ErrorItem, InvalidRequest, Loc
from service.domain import network
from service.domain.compute import REFERENCE
from service.domain.problem import Sizing
from service.engines.layers import sequence
from service.schemas.models import CheckRequest, GradientsRequest, TrainRequest

JSON_BYTES = {"float64": 25, "float32": 16}  # per number, comma included
ARRAY_BYTES = 100  # per array: its key, brackets, or {"shape", "dtype", "data_b64"}
NAMED_BYTES = 250  # per parameter and engine: its deviations, or its finding in a check
FIXED_BYTES = 4096  # the rest: loss, agree, dtype, tolerance, timings
EPOCH_BYTES = 400  # one epoch's report (a test renders the longest one possible)
MISMATCH_BYTES = 150  # one mismatch listed by /gradients/check: its index and four numbers


def number_bytes(dtype: str, encoding: str = "json") -> float:
    if encoding == "base64":
        return (8 if dtype == "float64" else 4) * 4 / 3
    return JSON_BYTES[dtype]


@dataclass(frozen=True)
class AnswerShape:
    """What a request's answer is made of, known from its layers and x before any weight is
    drawn: the batch, the widths (x's, then every layer's output), the parameters."""

    batch: int
    widths: tuple[int, ...]
    parameters: int
    names: int

    @classmethod
    def of(cls, sized: Sizing) -> "AnswerShape":
        """From the request's `sizing` (its checks and limits passed)."""
        batched, found = sized.batched, sized.parameters
        widths = (math.prod(batched[1:]), *(math.prod(shape) for shape in sized.shapes.outputs))
        return cls(batched[0], widths, sum(p.size for p in found), len(found))


@dataclass(frozen=True)
class GradientsAnswer:
    """A POST /gradients answer: the options that size it, and the problem's shapes."""

    encoding: str
    engines: tuple[str, ...]  # as asked for, the reference first
    learning_rate: bool
    trace: bool  # the manual engine's: it runs whether asked for or not
    return_weights: bool
    dtype: str
    shapes: AnswerShape

    @classmethod
    def of(cls, request: GradientsRequest, sized: Sizing) -> "GradientsAnswer":
        return cls(
            encoding=request.encoding,
            engines=tuple(dict.fromkeys([REFERENCE, *request.engines])),
            learning_rate=request.learning_rate is not None,
            trace=request.trace,
            return_weights=request.return_weights,
            dtype=request.dtype,
            shapes=AnswerShape.of(sized),
        )

    @property
    def size(self) -> int:
        """Every engine's prediction, input gradient, gradients (and updated weights), the
        reference's once more at the top, and the trace."""
        s = self.shapes
        engines = set(self.engines) | ({"manual"} if self.trace else set())
        copies = len(engines) + 1
        weights = s.parameters * (2 if self.learning_rate else 1)
        values = copies * (s.batch * (s.widths[0] + s.widths[-1]) + weights)
        arrays = copies * (2 + s.names * (2 if self.learning_rate else 1))
        if self.return_weights:
            values += s.parameters
            arrays += s.names
        if self.trace:  # per layer 4 arrays: input, output and their gradients
            pairs = zip(s.widths, s.widths[1:], strict=False)
            values += sum(2 * s.batch * (a + b) for a, b in pairs)
            arrays += 4 * (len(s.widths) - 1)
        number = number_bytes(self.dtype, self.encoding)
        named = NAMED_BYTES * s.names * copies
        return math.ceil(values * number) + ARRAY_BYTES * arrays + named + FIXED_BYTES

    def changes(self) -> list[tuple[str, dict[str, Any]]]:
        """What a request can change to make its answer smaller, as it would write it."""
        found: list[tuple[str, dict[str, Any]]] = []
        if self.encoding == "json":
            found.append(('"encoding": "base64"', {"encoding": "base64"}))
        if self.trace:
            found.append(('no "trace"', {"trace": False}))
        if self.learning_rate:
            found.append(('no "learning_rate"', {"learning_rate": False}))
        if self.return_weights:
            found.append(('no "return_weights"', {"return_weights": False}))
        if len(self.engines) > 1:
            found.append(('"engines": ["autograd"]', {"engines": self.engines[:1]}))
        return found


def check_gradients_answer(request: GradientsRequest, sized: Sizing, settings: Settings) -> None:
    """Refuse an answer over `limit`, naming each smallest set of changes that would fit."""
    answer = GradientsAnswer.of(request, sized)
    limit = settings.max_response_bytes
    if answer.size <= limit:
        return
    changes = answer.changes()
    fitting: list[tuple[tuple[int, ...], int]] = []  # indices into `changes`, and the size
    for count in range(1, len(changes) + 1):
        for chosen in itertools.combinations(range(len(changes)), count):
            if any(set(smaller) <= set(chosen) for smaller, _ in fitting):
                continue  # a part of it fits already
            together = {key: value for i in chosen for key, value in changes[i][1].items()}
            size = replace(answer, **together).size
            if size <= limit:
                fitting.append((chosen, size))
    options: list[tuple[str, int | None]] = [
        (", ".join(changes[i][0] for i in chosen), size) for chosen, size in fitting
    ]
    refuse(("body",), answer.size, limit, options, "a smaller network or batch")


def check_check_answer(request: CheckRequest, sized: Sizing, settings: Settings) -> None:
    """POST /gradients/check: the reference's values, and a finding per quantity with up to
    max_mismatches mismatches listed."""
    s = AnswerShape.of(sized)
    limit = settings.max_response_bytes
    arrays = [p.size for p in sized.parameters]
    if request.return_weights:
        arrays += arrays
    arrays += [s.batch * s.widths[0], s.batch * s.widths[-1]]  # input gradient, prediction
    listed = MISMATCH_BYTES * sum(min(request.max_mismatches, size) for size in arrays)
    values = JSON_BYTES[request.dtype] * sum(arrays)
    size = values + listed + (NAMED_BYTES + ARRAY_BYTES) * (len(arrays) + 1) + FIXED_BYTES
    if size > limit:
        options: list[tuple[str, int | None]] = (
            [('"max_mismatches": 0', size - listed)] if listed else []
        )
        refuse(("body",), size, limit, options, "a smaller network or batch")


def training_answer(request: TrainRequest, epochs: int) -> int:
    """Every epoch's report (a line each, or the JSON answer's history), both engines' loss
    curves and final weights."""
    found = sequence.parameters(network.specs(request.network.layers))
    number = JSON_BYTES[request.dtype]
    copies = 3 if request.return_weights else 2  # each engine's final weights, the first ones
    weights = copies * (sum(p.size for p in found) * number + ARRAY_BYTES * len(found))
    return epochs * (EPOCH_BYTES + 2 * number) + weights + FIXED_BYTES


def check_training_answer(request: TrainRequest, settings: Settings) -> None:
    size = training_answer(request, request.epochs)
    limit = settings.max_response_bytes
    if size > limit:
        per_epoch = EPOCH_BYTES + 2 * JSON_BYTES[request.dtype]
        fits = (limit - training_answer(request, 0)) // per_epoch
        options: list[tuple[str, int | None]] = [(f'"epochs": {fits:,}', None)] if fits > 0 else []
        refuse(("body", "epochs"), size, limit, options, "a smaller network")


def refuse(
    loc: Loc, size: int, limit: int, options: list[tuple[str, int | None]], otherwise: str
) -> None:
    """A 422 naming the limit and the options that would fit (with their sizes when known)."""
    fitting = [(text, n) for text, n in options if n is None or n <= limit]
    ways = " or ".join(text if n is None else f"{text} ({megabytes(n)})" for text, n in fitting)
    msg = (
        f"the answer would be about {megabytes(size)}, above the limit of {megabytes(limit)} "
        f"(GRADIENT_SERVICE_MAX_RESPONSE_BYTES); ask for less: {ways or otherwise}"
    )
    ctx: dict[str, Any] = {
        "limit": "max_response_bytes",
        "value": limit,
        "asked": size,
        "fits_with": [{"change": text, "bytes": n} for text, n in fitting],
    }
    raise InvalidRequest([ErrorItem(loc, msg, "limit_exceeded", ctx)])


def megabytes(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"
