"""Three classic backprop bugs in a student's NumPy code for the seed assignment, checked two
ways: by the service (`POST /gradients/check`, through the Python client) and by
`torch.autograd.gradcheck` (the student's backward wrapped in a torch.autograd.Function).

    python examples/diagnoses.py            # against http://127.0.0.1:8000 (`make run`)
    GRADIENT_SERVICE_URL=http://host:port python examples/diagnoses.py
"""

import os
import textwrap

import numpy as np
import torch
from torch.autograd.gradcheck import GradcheckError

from service.client import GradientClient

NAMES = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def student(w: list[np.ndarray], x: np.ndarray, y: float, bug: str) -> list[np.ndarray]:
    """The seed network's gradients with column vectors, as a student writes them."""
    w0, b0, w2, b2, w4, b4 = w
    a0 = x.reshape(-1, 1)
    a1 = sigmoid(w0 @ a0 + b0.reshape(-1, 1))
    a3 = sigmoid(w2 @ a1 + b2.reshape(-1, 1))
    p = w4 @ a3 + b4.reshape(-1, 1)
    dp = 2 * (p - y) * (2 if bug == "the 2 applied twice" else 1)
    da3 = w4.T @ dp
    if bug == "σ' at the output":
        dz3 = da3 * sigmoid(a3) * (1 - sigmoid(a3))
    else:
        dz3 = da3 * a3 * (1 - a3)
    dz1 = (w2.T @ dz3) * a1 * (1 - a1)
    dw2 = dz3 @ a1.T
    if bug == "2.weight transposed":
        dw2 = dw2.T  # square, 10 × 10: nothing in the shape shows it
    return [dz1 @ a0.T, dz1.ravel(), dw2, dz3.ravel(), dp @ a3.T, dp.ravel()]


def gradcheck_says(w: list[np.ndarray], x: np.ndarray, y: float, bug: str) -> str:
    """What gradcheck reports when the student's backward is the one it checks."""

    class StudentNet(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *params):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(*params)
            w0, b0, w2, b2, w4, b4 = params
            a1 = torch.sigmoid(w0 @ torch.tensor(x) + b0)
            a3 = torch.sigmoid(w2 @ a1 + b2)
            return ((w4 @ a3 + b4 - y) ** 2).sum()

        @staticmethod
        def backward(ctx, grad):  # type: ignore[no-untyped-def]
            mine = student([p.detach().numpy() for p in ctx.saved_tensors], x, y, bug)
            return tuple(grad * torch.tensor(g) for g in mine)

    params = [torch.tensor(p, requires_grad=True) for p in w]
    try:
        torch.autograd.gradcheck(StudentNet.apply, params)
    except GradcheckError as error:
        return str(error).splitlines()[0]
    return "passed"


def main() -> None:
    url = os.environ.get("GRADIENT_SERVICE_URL", "http://127.0.0.1:8000")
    with GradientClient(url) as client:
        example = client.example()
        problem = {key: example[key] for key in ("network", "x", "y")}
        given = client.gradients(problem | {"return_weights": True, "engines": ["autograd"]})
        assert given.weights is not None
        w = [np.array(given.weights[name], dtype=np.float64) for name in NAMES]
        x, y = np.array(problem["x"]), float(problem["y"])
        for bug in ("σ' at the output", "2.weight transposed", "the 2 applied twice"):
            mine = student(w, x, y, bug)
            candidate = {"gradients": {n: g.tolist() for n, g in zip(NAMES, mine, strict=True)}}
            report = client.check(problem | {"candidate": candidate}).report
            first = report.diagnoses[0]
            print(f"{bug}:")
            print(f"  service:   {first.kind}, layer {first.layer}, score {report.score:.3f}")
            print(textwrap.fill(first.message, 96, initial_indent="    ", subsequent_indent="    "))
            print(f"  gradcheck: {gradcheck_says(w, x, y, bug)}")


if __name__ == "__main__":
    main()
