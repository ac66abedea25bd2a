"""SGD with both engines side by side, each on its own weights.

Both engines start from the same weights. At every step each one computes the batch's loss and
gradients from *its own* current weights and applies its own update (autograd's is
`torch.optim.SGD`'s `param.add_(grad, alpha=-lr)`, manual's w − lr·g), so whatever rounding
separates them compounds, as it would in two real training loops.

The order of the samples: without a shuffle seed every epoch takes them as given; with one,
epoch k takes them in the order of the k-th `permutation(n)` drawn from
`np.random.default_rng(shuffle_seed)`. Each epoch's samples are cut into batches of
`batch_size` in that order, the last one smaller when n is not a multiple of it (torch's
`DataLoader` with `drop_last=False`).

An epoch's loss is, per engine, the mean of its steps' losses, each the batch's loss before that
step's update (the running loss a torch loop prints). After every step the manual engine's
weights are compared with autograd's, entry by entry, against atol + rtol·|autograd's|; the
first step where one is out is remembered.

A run's cost is the work it does, counted before it starts (`cost`): the maths, epochs × samples
× parameters, plus what every step costs whatever its size. The second dominates small networks:
a 1-parameter network, 1 sample, 20,000,000 epochs was 20 million "sample-parameters" but
20 million steps, ~5.5 hours. Measured per step, both engines, on one core of the 2-core machine:
0.22 ms + 0.033 ms per layer (Python and bookkeeping), ~25 ns per parameter (the update, the
copies, the tolerance check), ~4 ns per sample × parameter (the maths): STEP_COST and the two
below, in units of one sample × one parameter.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from service.core.config import Settings
from service.core.exceptions import ErrorItem, InvalidRequest, LimitExceeded
from service.domain import compare, compute, network
from service.domain.compare import Deviation, Tolerance
from service.domain.compute import REFERENCE
from service.domain.datasets import seed_dataset
from service.domain.problem import prepare
from service.engines import Engine, EngineResult, Problem, autograd
from service.engines.layers import sequence
from service.schemas.models import (
    GeneratedData,
    GivenData,
    NetworkRequest,
    ProblemRequest,
    TrainRequest,
)
from service.schemas.values import EpochReport, LeftTolerance

STEP_COST = 55_000  # every step, whatever its size
LAYER_STEP_COST = 8_000  # every layer, every step
PARAMETER_STEP_COST = 6  # every parameter, every step

ENGINES: dict[str, Engine] = {name: compute.ENGINES[name] for name in (REFERENCE, "manual")}
Weights = dict[str, np.ndarray]
Batch = tuple[np.ndarray, np.ndarray]  # x and y of one step
# Each engine takes as many steps in a row as keep their weights within this many numbers
# (8 MB in float64), one step at least: all of an epoch's on small networks.
BLOCK_VALUES = 1_000_000


@dataclass(frozen=True)
class Training:
    """What to run: the whole data set with the starting weights, and the SGD settings."""

    problem: Problem  # x and y are the whole data set; learning_rate is set
    tolerance: Tolerance
    batch_size: int
    epochs: int
    shuffle_seed: int | None
    dropout_seed: int

    @property
    def samples(self) -> int:
        return int(self.problem.x.shape[0])

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.samples / self.batch_size)


@dataclass(frozen=True)
class Cost:
    """A run's work (the module's docstring), from its sizes alone: known before its data set
    is drawn or a weight is, and refused over GRADIENT_SERVICE_MAX_TRAINING_COST."""

    epochs: int
    samples: int
    batch_size: int
    layers: int
    parameters: int
    forward: int  # a sample's forward multiply-adds, where known (a given data set)

    @classmethod
    def of(cls, request: TrainRequest) -> "Cost":
        data = request.data
        layers = network.specs(request.network.layers)
        parameters = sum(p.size for p in sequence.parameters(layers))
        forward = 0
        if isinstance(data, GeneratedData):
            samples = data.n  # points of the seed's 2 features
        else:  # a batch, or one sample
            try:
                ndim = network.sample_ndim(layers, data.x.ndim)
                samples = data.x.shape[0] if data.x.ndim > ndim else 1
                forward = network.walk(layers, data.x.shape[-ndim:], samples).cost
            except InvalidRequest as exc:
                raise InvalidRequest([under_data(item, data) for item in exc.errors]) from None
        return cls(request.epochs, samples, request.batch_size, len(layers), parameters, forward)

    @property
    def per_sample(self) -> int:
        """A sample's work: its parameters' or its forward pass's multiply-adds, whichever is
        more (a convolution does many per parameter)."""
        return max(self.parameters, self.forward)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.samples / self.batch_size)

    @property
    def step(self) -> int:
        """What a step costs besides its maths."""
        return STEP_COST + LAYER_STEP_COST * self.layers + PARAMETER_STEP_COST * self.parameters

    @property
    def total(self) -> int:
        """In units of one sample × one parameter (~4 ns on one core)."""
        return self.epochs * (self.samples * self.per_sample + self.steps_per_epoch * self.step)

    def check(self, limit: int) -> None:
        if self.total > limit:
            raise LimitExceeded(
                ("body", "epochs"),
                "max_training_cost",
                limit,
                self.total,
                f"the run's cost, epochs × (samples × a sample's work + steps per epoch × "
                f"({STEP_COST:,} + {LAYER_STEP_COST:,} × layers + {PARAMETER_STEP_COST} × "
                f"parameters)) = {self.epochs:,} × ({self.samples:,} × {self.per_sample:,} + "
                f"{self.steps_per_epoch:,} × {self.step:,}), in units of ~4 ns "
                "(fewer epochs, or a larger batch_size, cost less)",
            )


class Diverged(InvalidRequest):
    """An engine's loss or weights stopped being finite: the learning rate is too large."""

    def __init__(self, engine: str, quantity: str, step: int, epoch: int) -> None:
        msg = (
            f"training diverged: the {engine} engine's {quantity} is not finite after step "
            f"{step} (epoch {epoch}); try a smaller learning_rate"
        )
        ctx = {"engine": engine, "quantity": quantity, "step": step, "epoch": epoch}
        super().__init__([ErrorItem(("body", "learning_rate"), msg, "non_finite_result", ctx)])


# --- the request -------------------------------------------------------------------------------


def prepare_training(request: TrainRequest, settings: Settings) -> Training:
    """The data set goes through `prepare()` as one x and y, with every check that implies
    (shapes, dtype, the batch and activation limits); its errors are then placed under `data`.
    The run's cost is not checked here: `Cost.of(request).check(…)` comes first."""
    # The request's network parts as they are, validated once: no copy, no validation again.
    parts = {name: value for name, value in request if name in NetworkRequest.model_fields}
    given = request.model_fields_set & set(NetworkRequest.model_fields)  # init_seed too
    data = request.data
    if isinstance(data, GeneratedData):
        if data.n > settings.max_batch:  # before the points are drawn
            loc = ("body", "data", "n")
            raise LimitExceeded(loc, "max_batch", settings.max_batch, data.n, "the data set's n")
        x, labels = seed_dataset(data.n, data.seed, data.low, data.high)  # GET /datasets/seed
        y: np.ndarray | float | None = labels
    else:
        x, y = data.x, data.y
    problem_request = ProblemRequest.model_construct(given | {"x", "y"}, **parts, x=x, y=y)
    try:
        prepared = prepare(problem_request, settings, learning_rate=request.learning_rate)
    except InvalidRequest as exc:
        raise InvalidRequest([under_data(item, data) for item in exc.errors]) from None

    problem = prepared.problem
    if not problem.weights:
        msg = "this network has no parameters: there is nothing to train"
        raise InvalidRequest([ErrorItem(("body", "network", "layers"), msg, "no_parameters")])
    samples = problem.x.shape[0]
    if request.batch_size > samples:
        msg = f"batch_size {request.batch_size} is larger than the data set ({samples} samples)"
        raise InvalidRequest([ErrorItem(("body", "batch_size"), msg, "too_large")])
    check_batches(problem, request.batch_size)
    return Training(
        problem,
        prepared.plan.tolerance,
        request.batch_size,
        request.epochs,
        request.shuffle_seed,
        request.dropout_seed,
    )


def check_batches(problem: Problem, batch_size: int) -> None:
    """Every step's batch must suit the network (batch norm needs more than one value per
    channel): batch_size, and the smaller last batch of an epoch."""
    samples = problem.x.shape[0]
    sizes = {batch_size, samples % batch_size or batch_size}
    for size in sorted(sizes):
        try:
            network.walk(problem.layers, problem.x.shape[1:], size)
        except InvalidRequest as exc:
            last = "" if size == batch_size else f" (an epoch's last batch: {samples} samples)"
            msg = f"a batch of {size}{last} does not suit this network: {exc.errors[0].msg}"
            raise InvalidRequest([ErrorItem(("body", "batch_size"), msg, "too_small")]) from None


def under_data(item: ErrorItem, data: GeneratedData | GivenData) -> ErrorItem:
    """`prepare()` names x and y at the top of the body; in a training request they are `data`'s,
    and a generated data set's only parameter a limit can be about is n."""
    loc = item.loc
    if loc[:2] not in (("body", "x"), ("body", "y")):
        return item
    if isinstance(data, GivenData):
        return ErrorItem(("body", "data", *loc[1:]), item.msg, item.type, item.ctx)
    where = ("body", "data", "n") if item.type == "limit_exceeded" else ("body", "data")
    return ErrorItem(where, item.msg, item.type, item.ctx)


# --- the run -----------------------------------------------------------------------------------


def updated(result: EngineResult) -> Weights:
    assert result.updated_weights is not None  # the problem has a learning rate
    return result.updated_weights


def within(values: np.ndarray, reference: np.ndarray, tolerance: Tolerance) -> np.ndarray:
    """Per row, whether every entry is within atol + rtol·|reference|, as
    `compare.deviation` judges `agree`."""
    with np.errstate(over="ignore"):  # a difference of ±1e308s is out of tolerance anyway
        distance = np.abs(values - reference)
        return (distance <= tolerance.atol + tolerance.rtol * np.abs(reference)).all(axis=-1)


def weight_deviation(values: Weights, reference: Weights, tolerance: Tolerance) -> Deviation:
    return compare.combine(
        [compare.deviation(values[name], w, tolerance) for name, w in reference.items()]
    )


class Stopped(Exception):
    """The run was asked to stop between two steps (the service is shutting down)."""


class Trainer:
    """One run, an epoch at a time: each engine's weights, and how far apart they have got.

    It keeps what the summary needs (the loss curves, the last epoch, the totals), not every
    epoch's report: a long run's reports go out as they come, or are kept by whoever asks.
    Not thread-safe: one epoch runs at a time, in whichever thread calls `run_epoch`.
    """

    def __init__(self, training: Training) -> None:
        self.training = training
        self.weights: dict[str, Weights] = {
            name: dict(training.problem.weights) for name in ENGINES
        }
        self.steps = 0
        self.epochs_done = 0
        self.loss_curves: dict[str, list[float]] = {name: [] for name in ENGINES}
        self.last: EpochReport | None = None
        self.elapsed_ms = 0.0
        self.engine_ms = dict.fromkeys(ENGINES, 0.0)
        self.left_tolerance: LeftTolerance | None = None
        self.masks = autograd.DropoutMasks(training.problem.layers, training.dropout_seed)
        self.draws = any(layer.draws for _, layer in network.walk_layers(training.problem.layers))
        seed = training.shuffle_seed
        self._shuffler = None if seed is None else np.random.default_rng(seed)
        self.parameters = sum(w.size for w in training.problem.weights.values())

    @property
    def done(self) -> bool:
        return self.epochs_done == self.training.epochs

    @property
    def epoch(self) -> int:
        """The epoch in progress, or the next one."""
        return self.epochs_done + 1

    def order(self) -> np.ndarray:
        """The next epoch's order of the samples (the module's docstring)."""
        n = self.training.samples
        return np.arange(n) if self._shuffler is None else self._shuffler.permutation(n)

    def step(self, x: np.ndarray, y: np.ndarray) -> dict[str, EngineResult]:
        """One SGD step of every engine on the batch (x, y), each from its own weights."""
        return {name: results[0] for name, results in self.take_steps([(x, y)]).items()}

    def take_steps(
        self, batches: list[Batch], stop: Callable[[], bool] = lambda: False
    ) -> dict[str, list[EngineResult]]:
        """An SGD step of every engine on each batch in turn, each from its own weights; `stop`
        is asked before every step.

        Each engine takes all the steps before the next engine starts: as neither reads the
        other's weights, that changes nothing in what they compute, and the core's caches hold
        one engine's code and data at a time (alternating costs ~70 µs a step on the seed
        net). The steps are then checked as if taken one of each at a time: the first engine
        and step whose loss or weights stopped being finite is the one reported, and the first
        step where manual's weights left the tolerance is the one remembered."""
        p = self.training.problem
        draws = [self.masks.next(x.shape, x.dtype) if self.draws else {} for x, _ in batches]
        flats = {name: np.empty((len(batches), self.parameters)) for name in ENGINES}
        results: dict[str, list[EngineResult]] = {name: [] for name in ENGINES}
        for name, engine in ENGINES.items():
            weights = self.weights[name]
            for k, ((x, y), drawn) in enumerate(zip(batches, draws, strict=True)):
                if stop():
                    raise Stopped
                result = engine(Problem(p.layers, weights, x, y, p.loss, p.learning_rate, drawn))
                weights = updated(result)
                np.concatenate([w.ravel() for w in weights.values()], out=flats[name][k])
                results[name].append(result)
        first = self.steps
        self.check_finite(first, results, flats)
        self.steps = first + len(batches)
        for name, taken in results.items():
            self.weights[name] = updated(taken[-1])
        if self.left_tolerance is None:
            manual_rows, reference_rows = flats["manual"], flats[REFERENCE]
            inside = within(manual_rows, reference_rows, self.training.tolerance)
            if not inside.all():
                k = int(np.argmin(inside))  # the first step out
                distance = float(compare.distance(manual_rows[k], reference_rows[k]).max())
                self.left_tolerance = LeftTolerance(first + k + 1, self.epoch, distance)
        return results

    def check_finite(
        self, first: int, results: dict[str, list[EngineResult]], flats: dict[str, np.ndarray]
    ) -> None:
        """`Diverged` for the first step, and within it the first engine, whose loss or new
        weights are not finite; steps are numbered from `first` + 1."""
        finite_rows = {name: np.isfinite(rows).all(axis=1) for name, rows in flats.items()}
        losses = {name: [float(r.loss) for r in taken] for name, taken in results.items()}
        if all(rows.all() for rows in finite_rows.values()) and all(
            math.isfinite(loss) for taken in losses.values() for loss in taken
        ):
            return
        for k in range(len(next(iter(flats.values())))):
            for name in ENGINES:
                quantity = (
                    "loss"
                    if not math.isfinite(losses[name][k])
                    else "weights"
                    if not finite_rows[name][k]
                    else None
                )
                if quantity is not None:
                    self.steps = first + k + 1
                    raise Diverged(name, quantity, self.steps, self.epoch)

    def run_epoch(self, stop: Callable[[], bool] = lambda: False) -> EpochReport:
        """The next epoch; `stop` is asked before every step, and `Stopped` raised if it says so
        (the epoch is then left unfinished)."""
        start = time.perf_counter()
        t = self.training
        order = self.order()
        x, y = t.problem.x[order], t.problem.y[order]  # each batch is then a contiguous slice
        losses: dict[str, list[float]] = {name: [] for name in ENGINES}
        engine_ms = dict.fromkeys(ENGINES, 0.0)
        batches = [
            (x[begin : begin + t.batch_size], y[begin : begin + t.batch_size])
            for begin in range(0, t.samples, t.batch_size)
        ]
        per_block = max(1, BLOCK_VALUES // self.parameters)
        for begin in range(0, len(batches), per_block):
            for name, taken in self.take_steps(batches[begin : begin + per_block], stop).items():
                losses[name] += [float(result.loss) for result in taken]
                engine_ms[name] += sum(result.elapsed_ms for result in taken)
        mean_loss = {name: sum(values) / len(values) for name, values in losses.items()}
        apart = weight_deviation(self.weights["manual"], self.weights[REFERENCE], t.tolerance)
        for name, value in mean_loss.items():
            if not math.isfinite(value):  # finite losses whose sum overflowed
                raise Diverged(name, "mean loss", self.steps, self.epoch)
        if not math.isfinite(apart.max_abs):
            raise Diverged("manual", "distance from autograd's weights", self.steps, self.epoch)
        report = EpochReport(
            epoch=self.epoch,
            step=self.steps,
            loss=mean_loss,
            weight_deviation=apart,
            elapsed_ms=(time.perf_counter() - start) * 1e3,
            engine_ms=engine_ms,
        )
        self.epochs_done += 1
        self.last = report
        self.elapsed_ms += report.elapsed_ms
        for name in ENGINES:
            self.loss_curves[name].append(mean_loss[name])
            self.engine_ms[name] += engine_ms[name]
        return report
