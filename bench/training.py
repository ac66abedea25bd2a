"""Section g: `POST /train` of the seed experiment over HTTP ÷ the plain loops doing the same steps.

The request is `{"epochs": 10}`: the seed's 100 points, its network with init_seed 0, sse,
float64, SGD at learning rate 0.05, batch 1, 10 epochs: 1,000 steps of each engine, each on its
own weights, compared after every step. The baseline is a plain `torch.optim.SGD` loop plus a
plain NumPy loop (bench/plain.py) doing the same 1,000 steps each from the same weights, in the
benchmark's process, pinned to the server's CPU: the same core does both sides' maths (the
server is idle meanwhile; two cores shared with other work can differ by half). The service's
loss curves are checked against the plain loops' before anything is timed.
"""

import http.client

import numpy as np
import orjson

from bench.plain import train_numpy, train_torch
from bench.problems import specs
from bench.report import Row, Section, Target, seconds
from bench.server import HOST, SERVER_CPU, on_cpu, on_load_cpu, placement
from bench.timing import Budget, median_seconds
from service.core import seed
from service.domain.datasets import seed_dataset
from service.engines.autograd import initial_weights
from service.schemas.models import GeneratedData, TrainRequest

EPOCHS = 10
BODY = {"epochs": EPOCHS}
TARGET = Target("≤", 1.2)


def run(port: int, budget: Budget) -> Section:
    request = TrainRequest.model_validate(BODY)
    data = request.data
    assert isinstance(data, GeneratedData)
    x, y = seed_dataset(data.n, data.seed, data.low, data.high)
    layers = seed.LAYERS
    weights = {k: w.astype(np.float64) for k, w in initial_weights(specs(layers), 0).items()}
    lr, batch_size = request.learning_rate, request.batch_size
    body = orjson.dumps(BODY)
    connection = http.client.HTTPConnection(HOST, port, timeout=120)

    def post() -> bytes:
        connection.request("POST", "/train", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        content = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST /train answered {response.status}: {content[:500]!r}")
        return content

    def plain() -> None:
        with on_cpu(SERVER_CPU):
            train_torch(layers, weights, x, y, lr, batch_size, EPOCHS)
            train_numpy(layers, weights, x, y, lr, batch_size, EPOCHS)

    try:
        with on_load_cpu():
            curves = orjson.loads(post())["loss_curves"]
            torch_curve = train_torch(layers, weights, x, y, lr, batch_size, EPOCHS)
            numpy_curve = train_numpy(layers, weights, x, y, lr, batch_size, EPOCHS)
            np.testing.assert_allclose(curves["autograd"], torch_curve, rtol=1e-9)
            np.testing.assert_allclose(curves["manual"], numpy_curve, rtol=1e-9)
            t = median_seconds({"http": post, "plain": plain}, budget)
    finally:
        connection.close()
    section = Section(
        f"g. POST /train {body.decode()} (the seed's 100 points, batch 1, {EPOCHS} epochs: "
        f"{EPOCHS * data.n:,} steps per engine) over HTTP ÷ plain loops in-process"
    )
    section.rows.append(
        Row(
            "POST /train ÷ plain torch.optim.SGD loop + plain NumPy loop",
            f"POST /train {seconds(t['http'])}",
            f"plain loops {seconds(t['plain'])}",
            t["http"] / t["plain"],
            TARGET,
        )
    )
    section.notes += [
        "the service's loss curves checked against the plain loops' (rtol 1e-9) first",
        f"one request at a time over one keep-alive connection; {placement()}; the plain "
        "loops pinned to the server's CPU",
    ]
    return section
