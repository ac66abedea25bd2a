"""Section e: a full three-engine check over HTTP against torch.autograd.gradcheck in-process.

`POST /gradients {"engines": ["autograd", "manual", "numeric"]}` is the seed's worked example
checked three ways: autograd, the manual backprop and central differences, every gradient compared
with autograd's, the answer in JSON. Its latency, one request at a time from a sequential client,
is set against gradcheck (slow and fast mode) of the same problem in the client's process: what
checking the same gradients costs without the service.
"""

import http.client
from collections.abc import Callable

import orjson

from bench.gradcheck import MODES, checked_entries, gradcheck
from bench.report import Row, Section, Target, seconds
from bench.server import HOST, on_load_cpu, placement
from bench.timing import Budget, interleaved, percentile
from service.core.config import Settings
from service.domain.problem import prepare
from service.engines import Problem
from service.schemas.models import GradientsRequest

ENGINES = ["autograd", "manual", "numeric"]
BODY = {"engines": ENGINES}
HTTP_REPEAT_SCALE = 3.0  # an HTTP round lasts 3 × the budget's repeat, for a steadier p99
TARGETS = {"slow": Target("≤", 0.1), "fast_mode=True": Target("<", 1.0)}  # on the p50


def seed_problem() -> Problem:
    """The problem the server builds from BODY: the worked example's x and y, init_seed 0."""
    request = GradientsRequest.model_validate(BODY)
    return prepare(request, Settings(), request.engines).problem


def check_answer(status: int, content: bytes) -> None:
    """A 200 with all three engines' results, each agreeing with the reference."""
    if status != 200:
        raise RuntimeError(f"POST /gradients answered {status}: {content[:500]!r}")
    answer = orjson.loads(content)
    if sorted(answer["engines"]) != sorted(ENGINES) or not answer["agree"]:
        raise RuntimeError(f"POST /gradients: not a three-engine agreement: {content[:500]!r}")


def run(port: int, budget: Budget) -> Section:
    body = orjson.dumps(BODY)
    p = seed_problem()
    connection = http.client.HTTPConnection(HOST, port, timeout=60)

    def post() -> None:
        connection.request("POST", "/gradients", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        content = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST /gradients answered {response.status}: {content[:500]!r}")

    calls: dict[str, Callable[[], object]] = {"http": post}
    calls |= {mode: lambda fast=fast: gradcheck(p, fast) for mode, fast in MODES.items()}
    try:
        with on_load_cpu():
            connection.request("POST", "/gradients", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            check_answer(response.status, response.read())
            t = interleaved(calls, budget, one_by_one={"http": HTTP_REPEAT_SCALE})
    finally:
        connection.close()
    latencies = t.each["http"]
    section = Section(
        f"e. POST /gradients {body.decode()} (seed example, float64) over HTTP "
        "÷ gradcheck in-process"
    )
    for name in ("p50", "p99"):
        latency = percentile(latencies, float(name[1:]))
        section.rows += [
            Row(
                f"three engines over HTTP, latency {name} ÷ gradcheck {mode}",
                f"POST /gradients {seconds(latency)}",
                f"gradcheck {seconds(t.medians[mode])}",
                latency / t.medians[mode],
                TARGETS[mode] if name == "p50" else None,
            )
            for mode in MODES
        ]
    section.notes += [
        f"latency: a sequential client, one request at a time over one keep-alive connection "
        f"(http.client), from sending to the answer's last byte; {len(latencies)} requests in "
        f"{budget.repeats} rounds taking turns with gradcheck; {placement()}",
        f"gradcheck: of the problem the server builds from the same body, over the "
        f"{checked_entries(p)}; median time per call, in the client's process",
    ]
    return section
