"""Readiness: the service is ready once the seed example has gone through every engine and the
answer is the known one.

The self-check runs in a thread started by the app's lifespan, so the process answers /healthz
(liveness) at once while /readyz says 503 `starting`; it flips to 200 `ready` when the check
passes, or stays 503 `failed` with the reason when it does not (the process keeps running, out of
rotation, for someone to look at its log).
"""

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI

from service import __version__
from service.core.config import Settings
from service.domain.compute import ENGINES, compute
from service.domain.problem import prepare
from service.schemas.models import GradientsRequest

logger = logging.getLogger(__name__)

# The seed example's loss, float64, init_seed 0: the README's worked example.
SEED_LOSS = 0.9877350778792013


class SelfCheckFailed(Exception):
    pass


def self_check(settings: Settings) -> None:
    """The seed example through every engine: they must agree, and on the known loss."""
    prepared = prepare(GradientsRequest(), settings, list(ENGINES))
    report = compute(prepared.problem, prepared.plan, prepared.single)
    if not report.agree:
        worst = max(d.max_abs for d in report.deviations.values())
        raise SelfCheckFailed(f"the engines disagree on the seed example (max_abs {worst:g})")
    loss = float(report.reference.loss)
    if not math.isclose(loss, SEED_LOSS, rel_tol=1e-12):
        raise SelfCheckFailed(f"the seed example's loss is {loss!r}, not {SEED_LOSS!r}")


@dataclass
class ReadinessState:
    status: Literal["starting", "ready", "failed"] = "starting"
    reason: str | None = "the start-up self-check has not finished"

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "version": __version__}

    async def check(self, settings: Settings) -> None:
        start = time.perf_counter()
        try:
            await asyncio.to_thread(self_check, settings)
        except Exception as error:
            self.status, self.reason = "failed", f"the start-up self-check failed: {error}"
            logger.exception("the start-up self-check failed; /readyz answers 503")
            return
        self.status, self.reason = "ready", None
        logger.info("self-check passed in %.0f ms; ready", (time.perf_counter() - start) * 1e3)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    readiness: ReadinessState = app.state.readiness
    check = asyncio.create_task(readiness.check(app.state.settings))
    try:
        yield
    finally:
        check.cancel()
        with suppress(asyncio.CancelledError):
            await check
