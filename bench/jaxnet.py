"""The same networks and losses in jax.numpy, as `jax.jit(jax.value_and_grad(loss))`.

Importing this module fails with ImportError where JAX is not installed; the engines section then
skips JAX with a note. float64 needs `jax_enable_x64`, set here once: float32 inputs stay float32.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from service.engines import EngineResult, Problem
from service.engines.layers import Layer, ReLU, Sigmoid
from service.engines.layers.linear import Linear

jax.config.update("jax_enable_x64", True)

Params = dict[str, jax.Array]


def forward(layers: tuple[Layer, ...], params: Params, x: jax.Array) -> jax.Array:
    a = x
    for index, layer in enumerate(layers):
        match layer:
            case Linear(bias=bias):
                a = a @ params[f"{index}.weight"].T
                if bias:
                    a = a + params[f"{index}.bias"]
            case Sigmoid():
                a = jax.nn.sigmoid(a)
            case ReLU():
                a = jax.nn.relu(a)
            case _:
                raise NotImplementedError(f"the JAX network has no {layer.kind} layer")
    return a


def loss_and_gradients(problem: Problem, expected: EngineResult) -> Callable[[], object]:
    """One call of the compiled loss-and-gradients on the problem's arrays, already on device.

    Like the service's engines it gives the loss, the prediction (as aux) and the gradients of every
    parameter and of x. Its loss and gradients are checked against `expected` (another engine's, on
    the same problem) before it is returned, so it is known to compute the same thing.
    """

    def loss(params: Params, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        prediction = forward(problem.layers, params, x)
        squares = jnp.square(prediction - y)
        return (jnp.sum(squares) if problem.loss.name == "sse" else jnp.mean(squares)), prediction

    compiled = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
    params = {name: jnp.asarray(w) for name, w in problem.weights.items()}
    x, y = jnp.asarray(problem.x), jnp.asarray(problem.y)

    (value, _), (gradients, _) = compiled(params, x, y)
    rtol = 1e-3 if problem.dtype == np.float32 else 1e-9
    close = np.allclose(value, expected.loss, rtol=rtol) and all(
        np.allclose(gradients[name], g, rtol=rtol, atol=rtol * np.abs(g).max())
        for name, g in expected.gradients.items()
    )
    if not close:
        raise RuntimeError("the JAX network does not compute the service's loss and gradients")

    def call() -> object:
        return jax.block_until_ready(compiled(params, x, y))

    return call
