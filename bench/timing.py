"""timeit-style timing: warm up, calibrate the calls per repeat, take the median of the repeats.

What is compared is timed interleaved, one repeat of each in turn, so that a change in the
machine's load while the benchmark runs hits the measured figure and its baseline alike.
"""

import statistics
import time
import timeit
from collections.abc import Callable, Mapping
from dataclasses import dataclass


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
    numbers = {name: calls_per_repeat(call, budget) for name, call in calls.items()}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(budget.repeats):
        for name, call in calls.items():
            samples[name].append(timeit.Timer(call).timeit(numbers[name]) / numbers[name])
    return {name: statistics.median(times) for name, times in samples.items()}
