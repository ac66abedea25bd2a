"""Section b: the service against a bare FastAPI app on the same server, under load from wrk.

Two pairs: `POST /gradients {}` (the seed's worked example) ÷ `POST /bare/gradients {}` (a bare
FastAPI endpoint validating the same body), and `GET /healthz` ÷ `GET /bare/healthz` (the same
answer without the service's middleware): see bench/app.py. The four endpoints take turns, one
round of wrk each, so that a change in the machine's load hits all alike: throughput is all
requests over all rounds' time, latencies the median of the rounds'.
"""

import statistics
from dataclasses import dataclass

import numpy as np

from bench.plain import numpy_step, torch_step
from bench.problems import NETWORKS, SEED, problem
from bench.report import Row, Section, Target, per_second, seconds
from bench.server import CONNECTIONS, Load, placement, wrk, wrk_available
from bench.timing import Budget, median_seconds

WARMUP_S = 1


@dataclass(frozen=True)
class Pair:
    case: str
    path: str
    baseline: str
    body: str | None  # POSTed; None for a GET
    target: Target


PAIRS = (
    Pair("seed POST /gradients {}", "/gradients", "/bare/gradients", "{}", Target("≥", 0.5)),
    Pair("GET /healthz (middleware)", "/healthz", "/bare/healthz", None, Target("≥", 0.9)),
)


def ceiling(bare_s: float, budget: Budget) -> Row:
    """bare ÷ (bare + plain torch + plain NumPy) on the seed's worked example: the best
    `POST /gradients` ÷ `POST /bare/gradients` can be with both engines run on every request."""
    layers = NETWORKS[SEED]
    p = problem(layers, 1, np.float64)
    t = median_seconds({"torch": torch_step(layers, p), "numpy": numpy_step(layers, p)}, budget)
    return Row(
        "seed POST /gradients {}: the ceiling, bare ÷ (bare + plain code)",
        f"plain torch {seconds(t['torch'])} + NumPy {seconds(t['numpy'])}",
        f"bare {seconds(bare_s)} a request",
        bare_s / (bare_s + t["torch"] + t["numpy"]),
    )


def run(port: int, budget: Budget) -> Section:
    rounds_text = f"{budget.load_rounds} round{'s' if budget.load_rounds > 1 else ''}"
    section = Section(
        f"b. HTTP from wrk ({CONNECTIONS} connections, {budget.load_rounds * budget.round_s} s "
        f"per endpoint in {rounds_text}): the service ÷ a bare FastAPI app on the same server"
    )
    if not wrk_available():
        section.notes.append("wrk is not installed: skipped (apt-get install wrk)")
        return section
    endpoints = {path: pair.body for pair in PAIRS for path in (pair.path, pair.baseline)}
    for path, body in endpoints.items():
        wrk(port, path, body, WARMUP_S)
    rounds: dict[str, list[Load]] = {path: [] for path in endpoints}
    for _ in range(budget.load_rounds):
        for path, body in endpoints.items():
            rounds[path].append(wrk(port, path, body, budget.round_s))

    def throughput(path: str) -> float:
        return sum(r.requests for r in rounds[path]) / sum(r.seconds for r in rounds[path])

    def p50(path: str) -> float:
        return statistics.median(r.p50_s for r in rounds[path])

    def p99(path: str) -> float:
        return statistics.median(r.p99_s for r in rounds[path])

    for pair in PAIRS:
        section.rows.append(
            Row(
                f"{pair.case}: throughput",
                f"{pair.path} {per_second(throughput(pair.path))}",
                f"{pair.baseline} {per_second(throughput(pair.baseline))}",
                throughput(pair.path) / throughput(pair.baseline),
                pair.target,
            )
        )
        if pair.path == "/gradients":
            section.rows.append(ceiling(1 / throughput(pair.baseline), budget))
        section.rows.append(
            Row(
                f"{pair.case}: latency p50 / p99",
                f"{seconds(p50(pair.path))} / {seconds(p99(pair.path))}",
                f"{seconds(p50(pair.baseline))} / {seconds(p99(pair.baseline))}",
                p50(pair.path) / p50(pair.baseline),
            )
        )
    section.notes += [
        "the /bare/ endpoints: plain FastAPI, no middleware, on the same server (bench/app.py); "
        "the latency row's ratio is the p50's",
        "the ceiling: the first row's ratio for a service that added to the bare endpoint "
        "only the plain code of section f (nn.Sequential + backward, the NumPy loop), timed "
        "in-process here; no service that runs both engines on every request can pass it",
        placement(),
    ]
    return section
