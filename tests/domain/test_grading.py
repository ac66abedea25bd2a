"""The grading of a candidate, on hand-made arrays: localisation, shapes, hints, score."""

import numpy as np
import pytest

from service.domain.compare import Tolerance
from service.domain.grading import candidate_shape, grade, grade_one
from service.schemas.arrays import Ragged
from service.schemas.responses import Expected

TOL = Tolerance(atol=1e-9, rtol=1e-7)
W = np.arange(1.0, 7.0).reshape(3, 2)  # [[1, 2], [3, 4], [5, 6]]


def test_candidate_shape() -> None:
    assert candidate_shape(1.0) == ()
    assert candidate_shape(np.array([1.0, 2.0])) == (2,)
    assert candidate_shape(np.zeros((2, 1))) == (2, 1)
    assert candidate_shape(Ragged([[1.0], [2.0, 3.0]])) is None
    assert candidate_shape(np.empty(0)) == (0,)


def test_exact_candidate_passes() -> None:
    f, _ = grade_one(W, W, TOL, 10, 1)
    assert (f.status, f.correct, f.entries, f.max_abs, f.hint) == ("ok", 6, 6, 0.0, None)


def test_one_planted_error_is_localised() -> None:
    wrong = W.copy()
    wrong[2, 1] = 6.5
    f, _ = grade_one(wrong, W, TOL, 10, 1)
    assert f.status == "mismatch"
    assert f.correct == 5
    assert f.mismatch_count == 1
    (m,) = f.mismatches
    assert (m.index, m.expected, m.got, m.abs_error) == ((2, 1), 6.0, 6.5, 0.5)
    assert m.rel_error == 0.5 / 6.5
    assert f.hint is None  # one wrong entry is not a constant factor


def test_worst_first_and_capped() -> None:
    wrong = W + np.array([[0.1, 0.0], [0.3, 0.0], [0.2, 0.0]])
    f, _ = grade_one(wrong, W, TOL, 2, 1)
    assert f.mismatch_count == 3
    assert [m.index for m in f.mismatches] == [(1, 0), (2, 0)]


def test_transpose_is_named() -> None:
    f, _ = grade_one(W.T, W, TOL, 10, 1)
    assert f.status == "wrong_shape"
    assert f.shape == (2, 3)
    assert f.correct == 0
    assert f.hint is not None
    assert f.hint.startswith("this is the transpose of the expected [3, 2]")


def test_reshaped_is_named() -> None:
    f, _ = grade_one(W.ravel(), W, TOL, 10, 1)
    assert f.hint == "the right numbers in the wrong shape: expected [3, 2] (row-major)"


def test_ragged_is_a_finding() -> None:
    f, _ = grade_one(Ragged([[1.0, 2.0], [3.0]]), W, TOL, 10, 1)
    assert (f.status, f.shape) == ("wrong_shape", None)
    assert f.hint == "rows of different lengths; expected shape [3, 2]"


@pytest.mark.parametrize(
    ("factor", "batch", "words"),
    [
        (2.0, 1, "off by a factor of 2:"),
        (0.5, 1, "off by a factor of 0.5: half"),
        (-1.0, 1, "sign flipped"),
        (8.0, 8, "8 times the expected values: the loss averages"),
        (1 / 8, 8, "divided by 8: the loss sums"),
        (3.7, 1, "off by a constant factor of 3.7"),
    ],
)
def test_constant_factors_are_named(factor: float, batch: int, words: str) -> None:
    f, _ = grade_one(factor * W, W, TOL, 10, batch)
    assert f.status == "mismatch"
    assert f.hint is not None
    assert words in f.hint


def test_grade_missing_unexpected_and_score() -> None:
    expected = Expected.model_construct(
        loss=2.0, prediction=[1.0], input_gradient=[0.5, 0.5],
        gradients={"0.weight": W, "0.bias": np.array([1.0, 2.0, 3.0])},
    )  # fmt: skip
    candidate = {"loss": 2.0, "gradients": {"0.weight": W, "1.weight": np.zeros(1)}}
    g = grade(candidate, expected, TOL, 10, 1)
    assert g.loss is not None  # only what the candidate sent is graded
    assert g.prediction is None
    assert g.input_gradient is None
    assert g.gradients["0.bias"].status == "missing"
    assert g.missing == ["0.bias"]
    assert g.unexpected == ["1.weight"]
    assert (g.correct, g.total) == (7, 10)
    assert g.entry_score == 0.7
    assert g.score == 1 - 1 / 3  # loss, 0.weight and 0.bias graded; 0.bias missing: 1 bug
    assert g.verdict == "fail"
    g = grade({"gradients": {"0.weight": W, "0.bias": np.array([1.0, 2.0, 3.0])}}, expected,
              TOL, 10, 1)  # fmt: skip
    assert g.verdict == "pass"
    assert g.score == 1.0
