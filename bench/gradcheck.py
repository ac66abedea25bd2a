"""Section d: torch.autograd.gradcheck on the seed net in float64, slow and fast mode.

Baselines only, for now: a later section compares the service's numeric engine with them. Each is
reported against one run of the autograd engine on the same problem.
"""

from collections.abc import Callable

import numpy as np
import torch

from bench.problems import NETWORKS, SEED, problem
from bench.report import Row, Section, seconds
from bench.timing import Budget, median_seconds
from service.engines import Problem, autograd
from service.engines.autograd import layer_forward, loss_value


def gradcheck(p: Problem, fast_mode: bool) -> None:
    """Check the loss's gradients with respect to every parameter and to x."""
    names = list(p.weights)
    y = torch.from_numpy(p.y)

    def loss(*tensors: torch.Tensor) -> torch.Tensor:
        *weights, out = tensors
        params = dict(zip(names, weights, strict=True))
        for index, layer in enumerate(p.layers):
            out = layer_forward(index, layer, out, params)
        return loss_value(p.loss, out, y)

    inputs = [torch.from_numpy(a).requires_grad_() for a in (*p.weights.values(), p.x)]
    if not torch.autograd.gradcheck(loss, inputs, fast_mode=fast_mode):
        raise RuntimeError("gradcheck failed on the seed net")


def run(budget: Budget) -> Section:
    section = Section("d. torch.autograd.gradcheck, seed net, batch 1, float64 (baselines only)")
    p = problem(NETWORKS[SEED], 1, np.float64)
    modes = {"slow": False, "fast_mode=True": True}
    calls: dict[str, Callable[[], object]] = {"autograd": lambda: autograd.run(p)}
    calls |= {mode: lambda fast=fast: gradcheck(p, fast) for mode, fast in modes.items()}
    t = median_seconds(calls, budget)
    section.rows += [
        Row(
            f"gradcheck {mode} ÷ one autograd run",
            f"gradcheck {seconds(t[mode])}",
            f"autograd {seconds(t['autograd'])}",
            t[mode] / t["autograd"],
        )
        for mode in modes
    ]
    section.notes.append("no target yet: these are the baselines for the numeric engine")
    return section
