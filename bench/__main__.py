"""`python -m bench [--quick] [--only SECTION ...]`: run the benchmark and print its table."""

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from importlib.metadata import PackageNotFoundError, version

import torch

from bench import (
    cnn_layers,
    cost,
    engines,
    gradcheck,
    large_request,
    overhead,
    three_engines,
    throughput,
    training,
)
from bench.report import Section, render
from bench.server import ServerLog, server
from bench.timing import FULL, QUICK

SECTIONS = (
    *("engines", "http", "request", "gradcheck", "three-engine", "plain", "train", "cnn"),
    "chart",
)
NEED_SERVER = {"http", "request", "three-engine", "train", "chart"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--quick", action="store_true", help="a smoke run: short timings, 2 s of HTTP load"
    )
    p.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="run only this section (repeatable): engines (a), http (b), request (c), "
        "gradcheck (d), three-engine (e), plain (f), train (g), cnn (h), chart (i: draws "
        "bench/cost.svg); default: all",
    )
    return p


def installed(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def environment() -> str:
    text = (
        f"Python {platform.python_version()}, NumPy {installed('numpy')}, "
        f"torch {installed('torch')}, JAX {installed('jax')}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} (other work on the machine skews the figures); "
        f"threads: torch {torch.get_num_threads()}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if coretype:
        text += f"; OPENBLAS_CORETYPE={coretype} is set, which slows NumPy's kernels"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    budget = QUICK if args.quick else FULL
    only = set(args.only or SECTIONS)
    start = time.monotonic()
    print(f"gradient-service benchmark ({'quick' if args.quick else 'full'} run)")
    print(environment())
    print("each ratio is measured ÷ baseline, both timed in this run; absolutes are for context\n")

    def progress(name: str) -> None:
        print(f"running {name} ...", file=sys.stderr, flush=True)

    sections: list[Section] = []
    if "engines" in only:
        progress("a. engines")
        sections.append(engines.run(budget))
    if "plain" in only:
        progress("f. engines ÷ plain code")
        sections.append(overhead.run(budget))
    if "cnn" in only:
        progress("h. small CNN")
        sections.append(cnn_layers.run(budget))
    log = ServerLog()
    with ExitStack() as stack:
        port = stack.enter_context(server(log)) if only & NEED_SERVER else 0
        if "http" in only:
            progress("b. HTTP throughput")
            sections.append(throughput.run(port, budget))
        if "request" in only:
            progress("c. large request")
            sections.append(large_request.run(port, budget))
        if "gradcheck" in only:  # in-process: the server, if up, is idle
            progress("d. gradcheck")
            sections.append(gradcheck.run(budget))
        if "three-engine" in only:
            progress("e. three engines over HTTP")
            sections.append(three_engines.run(port, budget))
        if "train" in only:
            progress("g. POST /train")
            sections.append(training.run(port, budget))
        if "chart" in only:
            progress("i. cost chart")
            sections.append(cost.run(port, args.quick))
    sections.sort(key=lambda section: section.title)
    print(render(sections))
    if only & NEED_SERVER:
        print(f"\nthe server wrote {log.access_lines:,} JSON access-log lines (a pipe)")
    print(f"\n{time.monotonic() - start:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
