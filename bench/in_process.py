"""Where the seed `POST /gradients {}` spends its time, in-process (no sockets, no wrk):

    python -m bench.in_process 2>/dev/null    # the access log goes to stderr

First the whole request through bench.app's ASGI app, called directly (the production app and
the bare one beside it, and `GET /healthz` against the bare GET), then each stage of the
request timed alone, the way `service.api.routes.gradients` runs them, and last the autograd
engine timed right after other steps of a request. Timed alone, the stages add up to much less
than the request: each step of a request (the framework's most of all) leaves the CPU's caches
to the next one cold, and the engines pay for it. No targets: section b of `python -m bench`
measures the service over HTTP; this says where the time goes.
"""

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from starlette.types import Message

from bench.app import app, production
from bench.timing import FULL, Budget, median_seconds
from service.api.http import JSONResponse
from service.api.routes.common import report_of
from service.api.routes.gradients import respond
from service.core.config import Settings
from service.domain.answers import gradients_answer
from service.domain.problem import prepare, sizing
from service.domain.sizes import check_gradients_answer
from service.engines import autograd, manual
from service.schemas.models import GradientsRequest

BODY = b"{}"


def request(method: str, path: str, body: bytes = b"") -> Callable[[], Awaitable[None]]:
    """One request through the ASGI app, as uvicorn makes it; the answer must be a 200."""
    headers = [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip

    async def call() -> None:
        messages: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
        status: list[object] = []

        async def receive() -> Message:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(dict(scope), receive, send)
        assert status == [200], (path, status)

    return call


def whole_requests(budget: Budget = FULL) -> dict[str, float]:
    """Each request's median time, the requests timed interleaved as `median_seconds` does
    (here on the event loop, as the app's coroutines need one)."""
    calls = {
        "POST /gradients": request("POST", "/gradients", BODY),
        "POST /bare/gradients": request("POST", "/bare/gradients", BODY),
        "GET /healthz": request("GET", "/healthz"),
        "GET /bare/healthz": request("GET", "/bare/healthz"),
    }

    async def timed() -> dict[str, float]:
        async with production.router.lifespan_context(production):
            counts = {name: await calls_per_repeat(call, budget) for name, call in calls.items()}
            times: dict[str, list[float]] = {name: [] for name in calls}
            for _ in range(budget.repeats):
                for name, call in calls.items():
                    start = time.perf_counter()
                    for _ in range(counts[name]):
                        await call()
                    times[name].append((time.perf_counter() - start) / counts[name])
            return {name: statistics.median(values) for name, values in times.items()}

    return asyncio.run(timed())


async def calls_per_repeat(call: Callable[[], Awaitable[None]], budget: Budget) -> int:
    """Warm `call` up, and say how many calls last `budget.repeat_s`."""
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < budget.warmup_s or not calls:
        await call()
        calls += 1
    return max(1, round(budget.repeat_s * calls / elapsed))


def stages() -> dict[str, float]:
    settings = Settings()
    body = GradientsRequest.model_validate({})
    sized = sizing(body, settings)
    prepared = prepare(body, settings, list(body.engines), None, body.numeric, sized)
    report = report_of(prepared)
    answer = gradients_answer(report, prepared, False, False)
    calls: dict[str, Callable[[], object]] = {
        "validate the body": lambda: GradientsRequest.model_validate_json(BODY),
        "sizing": lambda: sizing(body, settings),
        "check the answer's size": lambda: check_gradients_answer(body, sized, settings),
        "prepare": lambda: prepare(body, settings, list(body.engines), None, body.numeric, sized),
        "autograd.run": lambda: autograd.run(prepared.problem),
        "manual.run": lambda: manual.run(prepared.problem),
        "compute (both engines, compare)": lambda: report_of(prepared),
        "gradients_answer": lambda: gradients_answer(report, prepared, False, False),
        "JSONResponse (orjson)": lambda: JSONResponse(answer),
        "respond (compute, answer, JSON)": lambda: respond(body, prepared),
    }
    return median_seconds(calls, FULL)


def autograd_after(budget: Budget = FULL) -> dict[str, float]:
    """`autograd.run` on the seed problem, timed right after each of: nothing, the manual
    engine, a bare FastAPI request, `GET /healthz`, the seed `POST /gradients` (mean of the
    calls). How much slower it gets says how much of the CPU's caches the step before it took
    over: reading 8 MB between calls, as a check, takes it to about twice its time alone."""
    settings = Settings()
    body = GradientsRequest.model_validate({})
    problem = prepare(body, settings, ["autograd"], None, body.numeric, sizing(body, settings))
    rounds = max(300, round(budget.repeats * budget.repeat_s / 100e-6))

    async def nothing() -> None:
        return None

    async def manual_engine() -> None:
        manual.run(problem.problem)

    before: dict[str, Callable[[], Awaitable[None]]] = {
        "nothing": nothing,
        "manual.run": manual_engine,
        "POST /bare/gradients": request("POST", "/bare/gradients", BODY),
        "GET /healthz": request("GET", "/healthz"),
        "POST /gradients": request("POST", "/gradients", BODY),
    }

    async def timed() -> dict[str, float]:
        async with production.router.lifespan_context(production):
            found = {}
            for name, step in before.items():
                total = 0.0
                for k in range(rounds + 100):  # the first 100: a warm-up
                    await step()
                    start = time.perf_counter()
                    autograd.run(problem.problem)
                    total += (time.perf_counter() - start) if k >= 100 else 0.0
                found[name] = total / rounds
            return found

    return asyncio.run(timed())


def main() -> None:
    whole = whole_requests()
    print("a whole request through the ASGI app, in-process")
    for name, seconds in whole.items():
        print(f"  {name:34s} {seconds * 1e6:8.1f} µs")
    print("the seed POST /gradients's stages, each timed alone")
    for name, seconds in stages().items():
        print(f"  {name:34s} {seconds * 1e6:8.1f} µs")
    print("autograd.run on the seed problem, right after")
    for name, seconds in autograd_after().items():
        print(f"  {name:34s} {seconds * 1e6:8.1f} µs")


if __name__ == "__main__":
    main()
