"""Section h, also `python -m bench.cnn_layers [--quick]`: the engines on a small CNN, manual ÷
autograd.

Input [batch, 1, 28, 28] → conv2d 8×3×3 → relu → max_pool2d 2 → flatten → linear 10, sse loss,
float64: one call is each engine's `run` as the service calls it (the loss, the prediction and
every gradient, parameters and input). Both are checked to agree before they are timed.
"""

import argparse
from collections.abc import Callable, Sequence

import numpy as np
import torch

from bench.report import Row, Section, Target, render, seconds
from bench.timing import FULL, QUICK, Budget, median_seconds
from service.engines import EngineResult, Problem, autograd, manual
from service.engines.layers import sequence
from service.engines.layers.activations import ReLU
from service.engines.layers.base import Layer
from service.engines.layers.conv import Conv2d
from service.engines.layers.flatten import Flatten
from service.engines.layers.linear import Linear
from service.engines.layers.pooling import MaxPool2d
from service.engines.losses import SSE

LAYERS: tuple[Layer, ...] = (
    Conv2d(in_channels=1, out_channels=8, kernel_size=(3, 3)),
    ReLU(),
    MaxPool2d(kernel_size=(2, 2)),
    Flatten(),
    Linear(in_features=8 * 13 * 13, out_features=10),
)
BATCHES = (1, 64)
MANUAL_VS_AUTOGRAD = Target("≤", 1.5)
AGREE = {"rtol": 1e-9, "atol": 1e-9}


def check_agree(a: EngineResult, b: EngineResult) -> None:
    np.testing.assert_allclose(a.loss, b.loss, **AGREE)
    for name, g in a.gradients.items():
        np.testing.assert_allclose(g, b.gradients[name], **AGREE)
    np.testing.assert_allclose(a.input_gradient, b.input_gradient, **AGREE)


def run(budget: Budget) -> Section:
    section = Section("h. the engines on a small CNN, float64, time per call: manual ÷ autograd")
    section.notes.append(
        "conv 8×3×3 → relu → max_pool 2 → flatten → linear 10, sse; input [batch, 1, 28, 28]; "
        f"torch threads {torch.get_num_threads()}"
    )
    rng = np.random.default_rng(0)
    generator = torch.Generator().manual_seed(0)
    params = {name: w.astype(np.float64) for name, w in sequence.init(LAYERS, generator).items()}
    for batch in BATCHES:
        x = rng.standard_normal((batch, 1, 28, 28))
        y = rng.standard_normal((batch, 10))
        p = Problem(LAYERS, params, x, y, SSE())
        check_agree(manual.run(p), autograd.run(p))
        calls: dict[str, Callable[[], object]] = {
            "manual": lambda p=p: manual.run(p),
            "autograd": lambda p=p: autograd.run(p),
        }
        t = median_seconds(calls, budget)
        section.rows.append(
            Row(
                f"batch {batch}",
                f"manual {seconds(t['manual'])}",
                f"autograd {seconds(t['autograd'])}",
                t["manual"] / t["autograd"],
                MANUAL_VS_AUTOGRAD,
            )
        )
    return section


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cnn_layers", description=__doc__)
    p.add_argument("--quick", action="store_true", help="short timings, a smoke run")
    print(render([run(QUICK if p.parse_args(argv).quick else FULL)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
