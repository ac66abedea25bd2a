"""compute.compare checks both results are finite as it compares them: a NaN or an infinity in
either one is named, the reference's first, with the quantity that holds it."""

from dataclasses import replace

import numpy as np
import pytest
from pydantic import TypeAdapter

from service.core.config import Settings
from service.core.exceptions import NonFiniteResult
from service.domain.compute import compare, compute, default_tolerance
from service.domain.problem import prepare
from service.engines import EngineResult, Problem, autograd, manual
from service.schemas.constraints import Bounds
from service.schemas.models import GradientsRequest

SETTINGS = Settings()
Seed = tuple[EngineResult, EngineResult, Problem]
TOL = default_tolerance("float64", SETTINGS)


@pytest.fixture
def seed() -> Seed:
    request = TypeAdapter(GradientsRequest).validate_python({}, context=Bounds.of(SETTINGS))
    problem = prepare(request, SETTINGS).problem
    return autograd.run(problem), manual.run(problem), problem


def with_gradient(result: EngineResult, name: str, value: float) -> EngineResult:
    gradients = dict(result.gradients)
    gradients[name] = gradients[name].copy()
    gradients[name].flat[3] = value
    return replace(result, gradients=gradients)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_non_finite_entry_of_the_result_is_named(seed: Seed, value: float) -> None:
    reference, result, problem = seed
    with pytest.raises(NonFiniteResult) as raised:
        compare(with_gradient(result, "2.weight", value), reference, TOL, problem, engine="manual")
    [item] = raised.value.errors
    assert item.msg.startswith("the manual engine's gradient of 2.weight overflowed")


def test_the_reference_is_named_first(seed: Seed) -> None:
    reference, result, problem = seed
    both = with_gradient(reference, "0.bias", np.inf), with_gradient(result, "0.bias", np.inf)
    with pytest.raises(NonFiniteResult) as raised:
        compare(both[1], both[0], TOL, problem, engine="manual")
    assert raised.value.errors[0].msg.startswith("the autograd engine's gradient of 0.bias")


def test_finite_values_that_differ_past_the_largest_float_are_an_overflow(seed: Seed) -> None:
    reference, result, problem = seed
    big = 1.7e308
    with pytest.raises(NonFiniteResult) as raised:
        compare(
            with_gradient(result, "0.bias", big),
            with_gradient(reference, "0.bias", -big),
            TOL,
            problem,
            engine="manual",
        )
    assert "deviation from the reference" in raised.value.errors[0].msg


def test_the_reference_alone_is_checked_too(seed: Seed) -> None:
    _, _, problem = seed
    huge = {name: np.full_like(w, 1e200) for name, w in problem.weights.items()}
    request = TypeAdapter(GradientsRequest).validate_python(
        {"engines": ["autograd"]}, context=Bounds.of(SETTINGS)
    )
    prepared = prepare(request, SETTINGS)
    with pytest.raises(NonFiniteResult) as raised:
        compute(replace(prepared.problem, weights=huge, x=np.full((1, 2), 1e200)), prepared.plan)
    assert raised.value.errors[0].msg.startswith("the autograd engine's")
