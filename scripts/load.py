"""Load run: 16 connections for 60 s against `gradient-service serve --workers 2` on 127.0.0.1.

    python scripts/load.py [--duration 60] [--connections 16] [--workers 2] [--warmup 10]

Starts its own server on a free 127.0.0.1 port (never another address), warms it up, then runs
wrk (Debian: `apt-get install -y wrk`) with scripts/load.lua over a mix of requests: the seed
example in float64 and float32, a batch of 32 with an SGD step, a 20-64-64-4 network with a
batch of 64 (computed in the thread pool), and POST /gradients/check. It samples the workers'
resident memory (VmRSS from /proc, summed over the worker processes) after the warm-up, every
second of the run, and at its end.

It prints the figures and exits non-zero if any request failed (a socket error, a timeout or a
status other than 200) or the workers' RSS grew by 10 % or more over the run.
"""

import argparse
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
ERRORS = ("connect", "read", "write", "status", "timeout")  # wrk's; status = not 2xx/3xx


def mlp(sizes: tuple[int, ...], activation: str) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append({"type": activation})
        layers.append({"type": "linear", "in_features": n_in, "out_features": n_out})
    return layers


def requests() -> list[tuple[str, dict[str, Any]]]:
    rng = np.random.default_rng(0)
    wide = {
        "network": {"layers": mlp((20, 64, 64, 4), "tanh")},
        "x": rng.uniform(-1, 1, (64, 20)).round(6).tolist(),
        "y": rng.uniform(-1, 1, (64, 4)).round(6).tolist(),
        "loss": "mse",
    }
    batch = rng.uniform(-1, 1, (32, 2)).round(6).tolist()
    return [
        ("/gradients", {}),
        ("/gradients", {"dtype": "float32"}),
        ("/gradients", {"x": batch, "learning_rate": 0.05, "init_seed": 3}),
        ("/gradients", wide),
        ("/gradients/check", {"candidate": {"gradients": {"4.bias": [-1.98]}, "loss": 0.98}}),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def workers_rss_mib(master: int) -> float:
    total_kib = 0
    for pid in worker_pids(master):
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        total_kib += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return total_kib / 1024


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def server(workers: int) -> Iterator[tuple[str, int]]:
    """`gradient-service serve` on a free 127.0.0.1 port: its URL and its master's pid."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port",
               str(port), "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, cwd=HERE.parent, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while len(worker_pids(process.pid)) < workers or not ready(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the server did not start:\n{log.read()}")
                time.sleep(0.5)
            yield url, process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)


def wrk(url: str, seconds: int, connections: int, bodies: Path) -> dict[str, int]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(HERE / "load.lua"), url, "--", str(bodies)]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, int] = json.loads(output.strip().splitlines()[-1])
    return result


def sample(master: int, samples: list[float], stop: threading.Event) -> None:
    while not stop.wait(1.0):
        samples.append(workers_rss_mib(master))


def run(args: argparse.Namespace) -> tuple[dict[str, int], float, list[float], float]:
    """wrk's result, and the workers' RSS after the warm-up, during the run and after it."""
    with server(args.workers) as (url, master), tempfile.NamedTemporaryFile("w") as bodies:
        bodies.writelines(f"{path}\t{json.dumps(body)}\n" for path, body in requests())
        bodies.flush()
        wrk(url, args.warmup, args.connections, Path(bodies.name))
        before = workers_rss_mib(master)
        samples: list[float] = []
        stop = threading.Event()
        sampler = threading.Thread(target=sample, args=(master, samples, stop))
        sampler.start()
        try:
            result = wrk(url, args.duration, args.connections, Path(bodies.name))
        finally:
            stop.set()
            sampler.join()
        return result, before, samples, workers_rss_mib(master)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds of load (60)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (16)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (2)")
    parser.add_argument("--warmup", type=int, default=10, help="seconds of load before (10)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    result, before, samples, after = run(args)
    errors = sum(result[kind] for kind in ERRORS)
    growth = (after - before) / before * 100
    seconds = result["duration_us"] / 1e6
    print(f"wrk -t2 -c{args.connections} -d{args.duration}s against {args.workers} workers; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"requests      {result['requests']} in {seconds:.1f} s: "
          f"{result['requests'] / seconds:.1f} req/s")  # fmt: skip
    print(f"latency       p50 {result['p50_us'] / 1e3:.1f} ms, "
          f"p99 {result['p99_us'] / 1e3:.1f} ms, max {result['max_us'] / 1e3:.1f} ms")  # fmt: skip
    print(f"errors        {errors} ("
          + ", ".join(f"{kind} {result[kind]}" for kind in ERRORS) + ")")  # fmt: skip
    peak = max(samples, default=after)
    print(f"workers' RSS  {before:.1f} MiB after the warm-up, peak {peak:.1f} MiB, "
          f"{after:.1f} MiB at the end: {growth:+.1f} %")  # fmt: skip
    passed = errors == 0 and growth < 10
    print("PASS" if passed else "FAIL: a request failed, or the RSS grew by 10 % or more")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
