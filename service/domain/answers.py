"""What each endpoint answers, built as the response models themselves (`service.schemas.models`).

The models are constructed without validation (`model_construct`): every number in them was
computed here and checked finite, and the arrays stay NumPy arrays, which the API's one serialiser
(`service.api.http.dumps`) writes natively. Values the domain computes as they are (a `Deviation`,
a `Finding`, an `EpochReport`) are dataclasses from `service.schemas.values`, used as they are.
"""

from collections.abc import Mapping
from typing import Any, TypeVar, cast

import numpy as np

from service.domain.compute import Report
from service.domain.problem import Prepared
from service.domain.training import Trainer
from service.engines import EngineResult, TraceStep
from service.schemas.responses import (
    ActivationName,
    CheckResponse,
    EngineOutput,
    Expected,
    Gradients,
    GradientsResponse,
    OtherKind,
    TraceActivation,
    TraceLinear,
    TraceOther,
    TrainResponse,
)
from service.schemas.tensors import DType, EngineName, Tensor
from service.schemas.values import CheckReport

T = TypeVar("T")


def per_point(values: np.ndarray, single: bool) -> Tensor:
    """Drop the batch axis when x was one point, as torch does for `net(x)` with a 1-D x."""
    return tensor(values[0] if single else values)


def tensor(array: np.ndarray) -> Tensor:
    """An array where a response declares a tensor: the serialiser writes it as one."""
    return cast(Tensor, array)


def tensors(arrays: Mapping[str, np.ndarray]) -> Gradients:
    return {name: tensor(array) for name, array in arrays.items()}


def dtype_of(array: np.ndarray) -> DType:
    return cast(DType, array.dtype.name)


def by_engine(values: Mapping[str, T]) -> dict[EngineName, T]:
    return cast(dict[EngineName, T], dict(values))


def engine_output(result: EngineResult, single: bool) -> EngineOutput:
    return EngineOutput.model_construct(
        loss=float(result.loss),
        prediction=per_point(result.prediction, single),
        gradients=tensors(result.gradients),
        input_gradient=per_point(result.input_gradient, single),
        updated_weights=None if result.updated_weights is None else tensors(result.updated_weights),
        elapsed_ms=result.elapsed_ms,
    )


def trace_layer(step: TraceStep, single: bool) -> TraceLinear | TraceActivation | TraceOther:
    """One layer's values, named as the derivation names them: a linear layer maps its input to
    z, an activation maps z to a; any other kind maps input to output."""

    def values(array: np.ndarray) -> Tensor:
        return per_point(array, single)

    kind = step.layer.kind
    if kind == "linear":
        return TraceLinear.model_construct(
            index=step.index,
            type="linear",
            input=values(step.input),
            z=values(step.output),
            grad_z=values(step.grad_output),
            grad_input=values(step.grad_input),
        )
    if step.layer.elementwise:
        return TraceActivation.model_construct(
            index=step.index,
            type=cast(ActivationName, kind),
            z=values(step.input),
            a=values(step.output),
            grad_a=values(step.grad_output),
            grad_z=values(step.grad_input),
        )
    sample_ndim = {step.input.ndim, step.output.ndim}  # extras batch-first like either
    extras = {
        name: values(array) if array.ndim in sample_ndim else tensor(array)
        for name, array in step.extras.items()
    }
    return TraceOther.model_construct(
        index=step.index,
        type=cast(OtherKind, kind),
        input=values(step.input),
        output=values(step.output),
        grad_output=values(step.grad_output),
        grad_input=values(step.grad_input),
        values=extras or None,
    )


def used_weights(prepared: Prepared, asked: bool) -> Gradients | None:
    return tensors(prepared.problem.weights) if asked else None


def gradients_answer(
    report: Report, prepared: Prepared, trace: bool, return_weights: bool = False
) -> GradientsResponse:
    single = prepared.single
    reference = report.reference
    manual = report.results.get("manual")
    steps = manual.trace if trace and manual is not None else None
    return GradientsResponse.model_construct(
        reference="autograd",
        loss=float(reference.loss),
        prediction=per_point(reference.prediction, single),
        gradients=tensors(reference.gradients),
        input_gradient=per_point(reference.input_gradient, single),
        updated_weights=None
        if reference.updated_weights is None
        else tensors(reference.updated_weights),
        trace=None if steps is None else [trace_layer(step, single) for step in steps],
        weights=used_weights(prepared, return_weights),
        engines={name: engine_output(r, single) for name, r in report.results.items()},
        deviations=report.deviations,
        agree=report.agree,
        dtype=dtype_of(prepared.problem.x),
        tolerance=prepared.plan.tolerance,
    )


def expected(reference: EngineResult, single: bool) -> Expected:
    """The reference values a candidate is graded on, shaped as a response shapes them."""
    return Expected.model_construct(
        loss=float(reference.loss),
        prediction=per_point(reference.prediction, single),
        gradients=tensors(reference.gradients),
        input_gradient=per_point(reference.input_gradient, single),
    )


def check_answer(
    expected: Expected, report: CheckReport, prepared: Prepared, return_weights: bool = False
) -> CheckResponse:
    return CheckResponse.model_construct(
        reference="autograd",
        expected=expected,
        report=report,
        weights=used_weights(prepared, return_weights),
        dtype=dtype_of(prepared.problem.x),
        tolerance=prepared.plan.tolerance,
    )


def training_summary(
    trainer: Trainer, history: list[Any] | None = None, return_weights: bool = False
) -> TrainResponse:
    """The run's summary: the stream's last line (without `history`), or the JSON answer."""
    t = trainer.training
    assert trainer.last is not None  # at least one epoch ran
    return TrainResponse.model_construct(
        type="summary",
        epochs=trainer.epochs_done,
        steps=trainer.steps,
        samples=t.samples,
        loss_curves=by_engine(trainer.loss_curves),
        final_weights=by_engine({n: tensors(w) for n, w in trainer.weights.items()}),
        weight_deviation=trainer.last.weight_deviation,
        within_tolerance=trainer.left_tolerance is None,
        left_tolerance=trainer.left_tolerance,
        tolerance=t.tolerance,
        dtype=dtype_of(t.problem.x),
        elapsed_ms=trainer.elapsed_ms,
        weights=tensors(t.problem.weights) if return_weights else None,
        engine_ms=by_engine(trainer.engine_ms),
        history=history,
    )
