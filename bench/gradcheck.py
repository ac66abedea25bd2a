"""Section d: torch.autograd.gradcheck on the seed net in float64, slow and fast mode, and the
service's numeric engine in-process against both.

gradcheck checks the loss's gradient with respect to every parameter tensor and x, taken as
separate float64 inputs; the numeric engine computes the same gradient entries by central
differences (and the loss and prediction). gradcheck is also reported against one run of the
autograd engine on the same problem, as the cost of a check in units of one exact gradient.
"""

from collections.abc import Callable

import numpy as np
import torch

from bench.problems import NETWORKS, SEED, problem
from bench.report import Row, Section, seconds
from bench.timing import Budget, median_seconds
from service.domain.compare import Tolerance, deviation
from service.engines import Problem, autograd, numeric
from service.engines.layers import sequence

MODES = {"slow": False, "fast_mode=True": True}


def gradcheck(p: Problem, fast_mode: bool) -> None:
    """`torch.autograd.gradcheck` of the loss as a function of every parameter tensor and of x
    (float64, default eps 1e-6, atol 1e-5, rtol 1e-3): in slow mode, every entry's central
    difference against the full autograd gradient; with `fast_mode=True`, one random direction
    per input tensor, vᵀJu by central differences against autograd's."""
    names = list(p.weights)
    y = torch.from_numpy(p.y)

    def loss(*tensors: torch.Tensor) -> torch.Tensor:
        *weights, x = tensors
        params = dict(zip(names, weights, strict=True))
        return p.loss.torch_value(sequence.torch_forward(p.layers, x, params), y)

    inputs = [torch.from_numpy(a).requires_grad_() for a in (*p.weights.values(), p.x)]
    if not torch.autograd.gradcheck(loss, inputs, fast_mode=fast_mode):
        raise RuntimeError("gradcheck failed on the seed net")


def checked_entries(p: Problem) -> str:
    """What gradcheck and the numeric engine cover: "6 parameter tensors and x, 153 entries"."""
    entries = sum(w.size for w in p.weights.values()) + p.x.size
    return f"{len(p.weights)} parameter tensors and x, {entries} entries"


def check_numeric(p: Problem) -> None:
    """The numeric engine's gradients agree with autograd's within its own tolerance."""
    exact, approx = autograd.run(p), numeric.run(p)
    tol = Tolerance(*numeric.tolerance(float(exact.loss)))
    pairs = [(approx.gradients[k], exact.gradients[k]) for k in p.weights]
    pairs.append((approx.input_gradient, exact.input_gradient))
    for a, e in pairs:
        if not deviation(a, e, tol).agree:
            raise RuntimeError("the numeric engine disagrees with autograd on the seed net")


def run(budget: Budget) -> Section:
    p = problem(NETWORKS[SEED], 1, np.float64)
    section = Section(
        "d. torch.autograd.gradcheck and the numeric engine in-process, seed net, batch 1, float64"
    )
    check_numeric(p)
    calls: dict[str, Callable[[], object]] = {
        "autograd": lambda: autograd.run(p),
        "numeric": lambda: numeric.run(p),
    }
    calls |= {mode: lambda fast=fast: gradcheck(p, fast) for mode, fast in MODES.items()}
    t = median_seconds(calls, budget)
    section.rows += [
        Row(
            f"gradcheck {mode} ÷ one autograd run",
            f"gradcheck {seconds(t[mode])}",
            f"autograd {seconds(t['autograd'])}",
            t[mode] / t["autograd"],
        )
        for mode in MODES
    ]
    section.rows += [
        Row(
            f"numeric engine ÷ gradcheck {mode}",
            f"numeric {seconds(t['numeric'])}",
            f"gradcheck {seconds(t[mode])}",
            t["numeric"] / t[mode],
        )
        for mode in MODES
    ]
    section.notes += [
        f"gradcheck and the numeric engine both cover the sse loss's gradient over the "
        f"{checked_entries(p)}",
        "numeric engine: numeric.run, loss, prediction and every entry by central differences "
        "(it checks nothing itself); checked to agree with autograd before it is timed",
        "no targets: informational",
    ]
    return section
