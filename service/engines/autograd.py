"""The reference engine: the same network in PyTorch, differentiated by autograd.

Each layer kind's `torch_forward` (in `service.engines.layers`) runs on leaf tensors that share
memory with the NumPy weights; nothing global is changed per request (grad mode is thread-local
and set here; initial weights and dropout masks come from local generators).
"""

import time
from typing import cast

import numpy as np
import torch

from service.engines import EngineResult, Problem
from service.engines.layers import Layer, sequence


def run(problem: Problem) -> EngineResult:
    start = time.perf_counter()
    params = {name: torch.from_numpy(w).requires_grad_() for name, w in problem.weights.items()}
    draws = {name: torch.from_numpy(v) for name, v in problem.draws.items()}
    x = torch.from_numpy(problem.x).requires_grad_()
    with torch.enable_grad():
        out = sequence.torch_forward(problem.layers, x, params | draws)
        loss = problem.loss.torch_value(out, torch.from_numpy(problem.y))
        *grads, input_gradient = torch.autograd.grad(loss, [*params.values(), x])
    gradients = {name: g.numpy() for name, g in zip(params, grads, strict=True)}
    updated = (
        None if problem.learning_rate is None else sgd_step(params, grads, problem.learning_rate)
    )
    prediction = out.detach().numpy()
    loss_number = cast(np.floating, loss.detach().numpy()[()])  # the 0-d array's scalar
    elapsed_ms = (time.perf_counter() - start) * 1e3
    return EngineResult(
        loss_number, prediction, gradients, input_gradient.numpy(), elapsed_ms, updated
    )


def sgd_step(
    params: dict[str, torch.Tensor], grads: list[torch.Tensor], lr: float
) -> dict[str, np.ndarray]:
    """The update `torch.optim.SGD(lr).step()` makes (`param.add_(grad, alpha=-lr)`, its
    single-tensor path), into new tensors: the same kernel, out of place, so the weights the
    caller gave are untouched; a test pins it to the optimizer itself."""
    return {
        name: p.detach().add(g, alpha=-lr).numpy()
        for (name, p), g in zip(params.items(), grads, strict=True)
    }


def initial_weights(layers: tuple[Layer, ...], seed: int) -> dict[str, np.ndarray]:
    """The float32 state_dict parameters of `torch.manual_seed(seed); nn.Sequential(*layers)`,
    drawn from a local generator in the order the modules' constructors draw, so the global RNG
    is never touched."""
    return sequence.init(layers, torch.Generator().manual_seed(seed))


class DropoutMasks:
    """Dropout's masks for one forward pass after another, as torch draws them in train mode
    after one `torch.manual_seed(seed)`: a training run's stream, from a local generator."""

    def __init__(self, layers: tuple[Layer, ...], seed: int) -> None:
        self.layers = layers
        self.generator = torch.Generator().manual_seed(seed)

    def next(self, shape: tuple[int, ...], dtype: np.dtype) -> dict[str, np.ndarray]:
        """The masks of the next pass over a batch of `shape`, keyed like parameters."""
        return sequence.draw(self.layers, self.generator, shape, dtype.name)


def dropout_masks(
    layers: tuple[Layer, ...], seed: int, shape: tuple[int, ...], dtype: np.dtype
) -> dict[str, np.ndarray]:
    """The masks `torch.manual_seed(seed)` then one forward pass in train mode over a batch of
    `shape` draws, keyed like parameters ("3.mask")."""
    return DropoutMasks(layers, seed).next(shape, dtype)
