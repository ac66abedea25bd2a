"""Section b: `POST /gradients {}` under load, against `POST /baseline {}` on the same server.

The endpoints take turns, one round of wrk each, so that a change in the machine's load hits both
alike: throughput is all requests over all rounds' time, latencies the median of the rounds'.
"""

import statistics

from bench.report import Row, Section, Target, per_second, seconds
from bench.server import CONNECTIONS, Load, placement, wrk, wrk_available
from bench.timing import Budget

BODY = "{}"
PATHS = ("/gradients", "/baseline")
WARMUP_S = 1
THROUGHPUT = Target("≥", 0.5)


def run(port: int, budget: Budget) -> Section:
    rounds_text = f"{budget.load_rounds} round{'s' if budget.load_rounds > 1 else ''}"
    section = Section(
        f"b. HTTP, POST {BODY} from wrk ({CONNECTIONS} connections, "
        f"{budget.load_rounds * budget.round_s} s per endpoint in {rounds_text}): "
        "/gradients ÷ /baseline"
    )
    if not wrk_available():
        section.notes.append("wrk is not installed: skipped (apt-get install wrk)")
        return section
    for path in PATHS:
        wrk(port, path, BODY, WARMUP_S)
    rounds: dict[str, list[Load]] = {path: [] for path in PATHS}
    for _ in range(budget.load_rounds):
        for path in PATHS:
            rounds[path].append(wrk(port, path, BODY, budget.round_s))

    def throughput(path: str) -> float:
        return sum(r.requests for r in rounds[path]) / sum(r.seconds for r in rounds[path])

    def p50(path: str) -> float:
        return statistics.median(r.p50_s for r in rounds[path])

    def p99(path: str) -> float:
        return statistics.median(r.p99_s for r in rounds[path])

    section.rows.append(
        Row(
            "seed net: throughput",
            f"/gradients {per_second(throughput('/gradients'))}",
            f"/baseline {per_second(throughput('/baseline'))}",
            throughput("/gradients") / throughput("/baseline"),
            THROUGHPUT,
        )
    )
    section.rows += [
        Row(
            f"seed net: latency {name}",
            f"/gradients {seconds(latency('/gradients'))}",
            f"/baseline {seconds(latency('/baseline'))}",
            latency("/gradients") / latency("/baseline"),
        )
        for name, latency in (("p50", p50), ("p99", p99))
    ]
    section.notes.append(placement())
    return section
