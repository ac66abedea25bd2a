"""Section f: what the engines add to the plain code a user would write, on the seed net, and
what comparing their results costs.

- the autograd engine's `run` ÷ `nn.Sequential` forward + `loss.backward()` (bench/plain.py);
- the manual engine's `run` ÷ the textbook NumPy loop doing the same backprop;
- `compute.compare` (the deviations of every quantity, manual against autograd, and the check
  that both results are finite, which it makes on the way) against a budget of 10 µs.

Each plain baseline is checked to give the engine's loss, prediction and gradients first.
"""

from collections.abc import Callable

import numpy as np

from bench.plain import numpy_step, torch_step
from bench.problems import NETWORKS, SEED, problem
from bench.report import Row, Section, Target, seconds
from bench.timing import Budget, median_seconds
from service.core.config import Settings
from service.domain.compute import compare, default_tolerance
from service.engines import EngineResult, autograd, manual

BATCHES = (1, 64)
PLAIN = Target("≤", 1.2)
COMPARISON_BUDGET_S = 10e-6
COMPARISON = Target("≤", 1.0)
AGREE = {"rtol": 1e-10, "atol": 1e-12}


def check_same(result: EngineResult, loss: object, prediction: object, input_grad: object) -> None:
    np.testing.assert_allclose(np.asarray(loss, dtype=np.float64), result.loss, **AGREE)
    np.testing.assert_allclose(np.asarray(prediction), result.prediction, **AGREE)
    np.testing.assert_allclose(np.asarray(input_grad), result.input_gradient, **AGREE)


def run(budget: Budget) -> Section:
    section = Section(
        f"f. {SEED} in-process, float64: each engine ÷ the plain code a user would write; "
        "the comparison"
    )
    layers = NETWORKS[SEED]
    tolerance = default_tolerance("float64", Settings())
    for batch in BATCHES:
        p = problem(layers, batch, np.float64)
        plain_torch, plain_numpy = torch_step(layers, p), numpy_step(layers, p)
        reference, result = autograd.run(p), manual.run(p)
        loss, prediction, input_grad = plain_torch()
        check_same(reference, loss.item(), prediction.detach().numpy(), input_grad.numpy())
        loss_np, prediction_np, *_, input_grad_np = plain_numpy()
        check_same(result, loss_np, prediction_np, input_grad_np)
        calls: dict[str, Callable[[], object]] = {
            "autograd": lambda p=p: autograd.run(p),
            "torch": plain_torch,
            "manual": lambda p=p: manual.run(p),
            "numpy": plain_numpy,
            "compare": lambda r=result, ref=reference, p=p: compare(r, ref, tolerance, p),
        }
        t = median_seconds(calls, budget)
        section.rows += [
            Row(
                f"batch {batch}: autograd engine ÷ nn.Sequential + backward",
                f"autograd.run {seconds(t['autograd'])}",
                f"plain torch {seconds(t['torch'])}",
                t["autograd"] / t["torch"],
                PLAIN,
            ),
            Row(
                f"batch {batch}: manual engine ÷ a plain NumPy loop",
                f"manual.run {seconds(t['manual'])}",
                f"plain NumPy {seconds(t['numpy'])}",
                t["manual"] / t["numpy"],
                PLAIN,
            ),
            Row(
                f"batch {batch}: comparison, every quantity (÷ a budget of 10 µs)",
                f"compare {seconds(t['compare'])}",
                f"budget {seconds(COMPARISON_BUDGET_S)}",
                t["compare"] / COMPARISON_BUDGET_S,
                COMPARISON,
            ),
        ]
    section.notes.append(
        "plain torch: nn.Sequential in float64, zero_grad, forward, F.mse_loss(sum), backward, "
        "x requiring its gradient; plain NumPy: the textbook loop (bench/plain.py); both "
        "checked to give the engines' loss, prediction and input gradient first"
    )
    return section
