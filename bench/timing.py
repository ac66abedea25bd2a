"""timeit-style timing: warm up, calibrate the calls per repeat, take the median of the repeats.

What is compared is timed interleaved, one repeat of each in turn, so that a change in the
machine's load while the benchmark runs hits the measured figure and its baseline alike.
"""

import gc
import math
import statistics
import time
import timeit
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Budget:
    """How long to spend on one timing; `python -m bench --quick` uses the small one."""

    warmup_s: float  # call for at least this long before measuring (and at least once)
    repeat_s: float  # each repeat runs enough calls to last at least this long
    repeats: int  # the figure is the median over this many repeats
    load_rounds: int  # HTTP: rounds of load on each endpoint in turn, after a warm-up round
    round_s: int  # HTTP: seconds of one round


FULL = Budget(warmup_s=0.3, repeat_s=0.1, repeats=15, load_rounds=5, round_s=2)
QUICK = Budget(warmup_s=0.05, repeat_s=0.02, repeats=3, load_rounds=1, round_s=2)


def calls_per_repeat(call: Callable[[], object], budget: Budget) -> int:
    """Warm `call` up, and say how many calls last `budget.repeat_s`."""
    calls = 0
    start = time.perf_counter()
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget.warmup_s:
            return max(1, round(budget.repeat_s * calls / elapsed))


def median_seconds(calls: Mapping[str, Callable[[], object]], budget: Budget) -> dict[str, float]:
    """Median seconds per call of each of `calls`, their repeats interleaved."""
    return interleaved(calls, budget).medians


@dataclass(frozen=True)
class Timings:
    medians: dict[str, float]  # per callable: the median over the repeats of seconds per call
    each: dict[str, list[float]]  # per callable timed one call at a time: every call's seconds


def interleaved(
    calls: Mapping[str, Callable[[], object]],
    budget: Budget,
    one_by_one: Mapping[str, float] | None = None,
) -> Timings:
    """Time each of `calls`, their repeats interleaved. A callable named in `one_by_one` is timed
    call by call instead, for percentiles, each repeat lasting at least that many times
    `budget.repeat_s` (more calls, for a steadier tail)."""
    one_by_one = one_by_one or {}

    def scaled(name: str) -> Budget:
        return replace(budget, repeat_s=budget.repeat_s * one_by_one.get(name, 1.0))

    numbers = {name: calls_per_repeat(call, scaled(name)) for name, call in calls.items()}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    each: dict[str, list[float]] = {name: [] for name in one_by_one}
    clock = time.perf_counter
    for _ in range(budget.repeats):
        for name, call in calls.items():
            number = numbers[name]
            if name in one_by_one:
                times = []
                gc_was_enabled = gc.isenabled()
                gc.disable()  # as timeit does
                try:
                    for _ in range(number):
                        start = clock()
                        call()
                        times.append(clock() - start)
                finally:
                    if gc_was_enabled:
                        gc.enable()
                each[name] += times
                samples[name].append(sum(times) / number)
            else:
                samples[name].append(timeit.Timer(call).timeit(number) / number)
    medians = {name: statistics.median(times) for name, times in samples.items()}
    return Timings(medians, each)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, nearest rank."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
