"""Section a: the engines in-process on the same problems, manual ÷ autograd and ÷ jax.jit."""

from collections.abc import Callable
from types import ModuleType

import numpy as np

from bench.problems import MLP, NETWORKS, SEED, problem
from bench.report import Row, Section, Target, seconds
from bench.timing import Budget, median_seconds
from service.engines import autograd, manual

jaxnet: ModuleType | None
try:
    from bench import jaxnet
except ImportError:  # JAX is optional: its rows are skipped with a note
    jaxnet = None

CASES = [(SEED, 1), (SEED, 64), (MLP, 1), (MLP, 64), (MLP, 512)]
DTYPES: tuple[type[np.floating], ...] = (np.float32, np.float64)
MANUAL_VS_AUTOGRAD = Target("≤", 1.0)  # at every size
MANUAL_VS_JAX = {SEED: Target("≤", 1.5)}  # on the seed net; elsewhere reported only


def run(budget: Budget) -> Section:
    section = Section("a. engines in-process, time per call (loss, prediction, every gradient)")
    section.notes.append("every engine on one thread")
    if jaxnet is None:
        section.notes.append("JAX is not importable: manual ÷ jax.jit skipped (see README)")
    else:
        section.notes.append(
            "jax.jit is compiled, and checked to give the manual engine's loss and gradients, "
            "before it is timed on arrays already on its device"
        )
    for network, batch in CASES:
        for dtype in DTYPES:
            p = problem(NETWORKS[network], batch, dtype)
            calls: dict[str, Callable[[], object]] = {
                "manual": lambda p=p: manual.run(p),
                "autograd": lambda p=p: autograd.run(p),
            }
            if jaxnet is not None:
                calls["jax.jit"] = jaxnet.loss_and_gradients(p, manual.run(p))
            t = median_seconds(calls, budget)
            case = f"{network}, batch {batch}, {np.dtype(dtype).name}"
            measured = f"manual {seconds(t['manual'])}"
            targets = {"autograd": MANUAL_VS_AUTOGRAD, "jax.jit": MANUAL_VS_JAX.get(network)}
            section.rows += [
                Row(case, measured, f"{name} {seconds(t[name])}", t["manual"] / t[name], target)
                for name, target in targets.items()
                if name in t
            ]
    return section
