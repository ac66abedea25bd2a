"""`python -m bench.cnn_layers [--quick]`: the layer units on a small CNN, manual ÷ autograd.

Input [batch, 1, 28, 28] → conv2d 8×3×3 → relu → max_pool2d 2 → flatten → linear 10, sse loss,
float64: one call is the forward pass, the loss and every gradient (parameters and input), as an
engine computes them. The NumPy side runs `sequence.forward` / `backward`; the torch side runs
the same layers' `torch_forward` under autograd, as the autograd engine does. Both are checked
to agree before they are timed.
"""

import argparse
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from bench.report import Row, Section, Target, render, seconds
from bench.timing import FULL, QUICK, median_seconds
from service.engines.layers import sequence
from service.engines.layers.activations import ReLU
from service.engines.layers.base import Array, Layer
from service.engines.layers.conv import Conv2d
from service.engines.layers.flatten import Flatten
from service.engines.layers.linear import Linear
from service.engines.layers.pooling import MaxPool2d
from service.engines.losses import SSE

LAYERS: list[Layer] = [
    Conv2d(in_channels=1, out_channels=8, kernel_size=(3, 3)),
    ReLU(),
    MaxPool2d(kernel_size=(2, 2)),
    Flatten(),
    Linear(in_features=8 * 13 * 13, out_features=10),
]
BATCHES = (1, 64)
MANUAL_VS_AUTOGRAD = Target("≤", 1.5)
AGREE = {"rtol": 1e-9, "atol": 1e-9}

Result = tuple[float, dict[str, Array], Array]  # loss, parameter gradients, input gradient


def manual(params: dict[str, Array], x: Array, y: Array) -> Result:
    tape = sequence.forward(LAYERS, params, x)
    loss, grad = SSE().value_and_gradient(tape[-1].output, y)
    gradients, flowing = sequence.backward(tape, grad)
    return float(loss), gradients, flowing[0]


def autograd(params: dict[str, Array], x: Array, y: Array) -> Result:
    leaves = {name: torch.from_numpy(w).requires_grad_() for name, w in params.items()}
    xt = torch.from_numpy(x).requires_grad_()
    with torch.enable_grad():
        prediction = sequence.torch_forward(LAYERS, xt, leaves)
        loss = F.mse_loss(prediction, torch.from_numpy(y), reduction="sum")
        *grads, grad_x = torch.autograd.grad(loss, [*leaves.values(), xt])
    gradients = {name: g.numpy() for name, g in zip(leaves, grads, strict=True)}
    return loss.item(), gradients, grad_x.numpy()


def check_agree(a: Result, b: Result) -> None:
    np.testing.assert_allclose(a[0], b[0], **AGREE)
    for name, g in a[1].items():
        np.testing.assert_allclose(g, b[1][name], **AGREE)
    np.testing.assert_allclose(a[2], b[2], **AGREE)


def run(quick: bool) -> Section:
    section = Section("layer units: small CNN, float64, time per call (loss and every gradient)")
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
        check_agree(manual(params, x, y), autograd(params, x, y))
        calls: dict[str, Callable[[], object]] = {
            "manual": lambda x=x, y=y: manual(params, x, y),
            "autograd": lambda x=x, y=y: autograd(params, x, y),
        }
        t = median_seconds(calls, QUICK if quick else FULL)
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
    print(render([run(p.parse_args(argv).quick)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
