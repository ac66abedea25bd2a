import numpy as np

from service.domain.compare import Deviation, Tolerance, combine, deviation, deviations

TOL = Tolerance(atol=1e-3, rtol=0.1)


def test_max_abs_and_max_rel_by_hand() -> None:
    d = deviation(np.array([1.0, -2.0, 0.0]), np.array([1.5, -2.0, 0.0]), TOL)
    assert d.max_abs == 0.5
    assert d.max_rel == 0.5 / 1.5  # max(|1|, |1.5|) = 1.5; both-zero entries count as 0
    assert d.agree is False  # 0.5 > 1e-3 + 0.1·1.5


def test_agree_uses_the_reference_for_the_relative_part() -> None:
    # |a − b| = 0.1 ≤ 1e-3 + 0.1·|b| holds for b = 1.0 (0.101) and fails for b = 0.9 (0.091)
    assert deviation(np.array([1.1]), np.array([1.0]), TOL).agree
    assert not deviation(np.array([1.0]), np.array([0.9]), TOL).agree


def test_zeros_and_empty() -> None:
    assert deviation(np.zeros(3), np.zeros(3), TOL) == Deviation(0.0, 0.0, True)
    assert deviation(np.zeros((0, 2)), np.zeros((0, 2)), TOL) == Deviation(0.0, 0.0, True)
    assert deviation(np.array([1e-9]), np.array([0.0]), TOL).max_rel == 1.0


def test_empty_pairs_among_others_keep_their_place() -> None:
    empty = (np.zeros((0, 2)), np.zeros((0, 2)))
    found = deviations([empty, (np.array([2.0]), np.array([1.0])), empty], TOL)
    assert found == [
        Deviation(0.0, 0.0, True),
        Deviation(1.0, 0.5, False),
        Deviation(0.0, 0.0, True),
    ]
    assert deviations([empty, empty], TOL) == [Deviation(0.0, 0.0, True)] * 2


def test_the_smallest_numbers_and_nan() -> None:
    tiny = np.nextafter(0.0, 1.0)  # a subnormal: its own scale, not rounded to zero
    assert deviation(np.array([tiny, 0.0]), np.array([0.0, 0.0]), TOL).max_rel == 1.0
    nan = deviation(np.array([np.nan, 1.0]), np.array([1.0, 1.0]), TOL)
    assert np.isnan(nan.max_abs)
    assert nan.agree is False  # a NaN is never within tolerance


def test_float32_is_compared_in_float64() -> None:
    a = np.array([0.1], dtype=np.float32)
    d = deviation(a, np.array([0.1]), TOL)
    assert d.max_abs == abs(float(a[0]) - 0.1) > 0


def test_combine_takes_the_worst() -> None:
    worst = combine([Deviation(1.0, 0.1, True), Deviation(0.5, 0.2, False)])
    assert worst == Deviation(1.0, 0.2, False)
    assert combine([]) == Deviation(0.0, 0.0, True)


def test_many_pairs_at_once_equal_one_by_one() -> None:
    rng = np.random.default_rng(1)
    pairs = [
        (np.zeros(0), np.zeros(0)),
        (rng.normal(size=(3, 2)), rng.normal(size=(3, 2))),
        (np.array(1.0), np.array(1.0 + 1e-4)),
        (np.zeros((0, 4)), np.zeros((0, 4))),
        (np.zeros(5), np.zeros(5)),
        (rng.normal(size=7), rng.normal(size=7)),
    ]
    together = deviations(pairs, TOL)
    assert together == [by_hand(a, b) for a, b in pairs]
    assert together[0] == together[3] == Deviation(0.0, 0.0, True)
    assert together[2].agree  # 1e-4 ≤ 1e-3 + 0.1
    assert together[2].max_abs == abs(1.0 - (1.0 + 1e-4))


def by_hand(a: np.ndarray, b: np.ndarray) -> Deviation:
    """max |a − b|, max |a − b| / max(|a|, |b|) and agree, entry by entry in plain Python."""
    if a.size == 0:
        return Deviation(0.0, 0.0, True)
    pairs = list(zip(a.ravel().tolist(), b.ravel().tolist(), strict=True))
    max_abs = max(abs(x - y) for x, y in pairs)
    max_rel = max(
        abs(x - y) / max(abs(x), abs(y)) if max(abs(x), abs(y)) else 0.0 for x, y in pairs
    )
    agree = all(abs(x - y) <= TOL.atol + TOL.rtol * abs(y) for x, y in pairs)
    return Deviation(max_abs, max_rel, agree)
