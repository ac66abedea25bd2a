"""Every student in the corpus (tests/corpus/students.py) is named: its mistake's kind, the layer
where it enters and the gradients it explains, over HTTP; the right ones get no diagnosis. The
weights come from the service itself (`return_weights`), as a grader in any language gets them."""

from typing import Any

import httpx
import numpy as np
import pytest

from service.core import seed
from tests.corpus.students import CORPUS, Student
from tests.nets import mlp

NETWORKS: dict[str, list[dict[str, Any]]] = {
    "seed": seed.LAYERS,
    "tanh": mlp({"type": "tanh"}, (2, 6, 6, 1)),
    "relu": mlp({"type": "relu"}, (2, 8, 8, 1)),
    "batch_norm": [{"type": "linear", "in_features": 2, "out_features": 4},
                   {"type": "batch_norm1d", "num_features": 4}, {"type": "tanh"},
                   {"type": "linear", "in_features": 4, "out_features": 1}],
}  # fmt: skip
ONE = [0.9861, 0.668]
BATCH = [[0.9861, 0.668], [-0.5, 0.25], [0.3, -0.9], [1.2, 0.4]]


def problem(student: Student) -> dict[str, Any]:
    x = BATCH if student.batch else ONE
    y = [[0.5 * sum(v * v for v in p)] for p in x] if student.batch else [0.7093]
    return {"network": {"layers": NETWORKS[student.network]}, "x": x, "y": y,
            "loss": student.loss, "init_seed": 1}  # fmt: skip


async def report_for(client: httpx.AsyncClient, student: Student) -> dict[str, Any]:
    body = problem(student)
    given = await client.post("/gradients", json=body | {"return_weights": True})
    weights = {k: np.array(v) for k, v in given.json()["weights"].items()}
    written = student.write(weights, np.array(body["x"]), np.array(body["y"]))
    candidate = {
        "gradients": {k: np.asarray(v).tolist() for k, v in written["gradients"].items()},
        **({"trace": written["trace"]} if "trace" in written else {}),
    }
    response = await client.post("/gradients/check", json=body | {"candidate": candidate})
    assert response.status_code == 200, response.text
    return response.json()["report"]


def test_the_corpus_is_big_enough() -> None:
    wrong = [s for s in CORPUS if s.kind is not None]
    assert len(wrong) >= 20
    assert {s.network for s in wrong} == {"seed", "tanh", "relu", "batch_norm"}
    assert {s.batch for s in wrong} == {True, False}


@pytest.mark.parametrize("student", CORPUS, ids=[s.name for s in CORPUS])
async def test_every_student_is_named(client: httpx.AsyncClient, student: Student) -> None:
    report = await report_for(client, student)
    if student.kind is None:
        assert report["verdict"] == "pass", report
        assert report["diagnoses"] == []
        return
    assert report["verdict"] == "fail"
    first = report["diagnoses"][0]
    assert (first["kind"], first["layer"]) == (student.kind, student.layer), first
    assert set(student.parameters) <= set(first["parameters"]), first
    assert first["message"]


async def test_one_bug_costs_the_same_wherever_it_sits(client: httpx.AsyncClient) -> None:
    """A wrong derivative at layer 3 spoils four gradients, at layer 1 two: one bug each."""
    by_name = {s.name: s for s in CORPUS}
    high = await report_for(client, by_name["σ' at the output"])
    low = await report_for(client, by_name["σ' left out"])
    factor = await report_for(client, by_name["2 twice"])
    assert high["score"] == low["score"] == factor["score"] == pytest.approx(1 - 1 / 6)
    assert factor["entry_score"] == 0.0  # counted by entries, a one-character bug scores 0
    swapped = await report_for(client, by_name["biases swapped"])
    assert swapped["score"] == pytest.approx(1 - 1 / 6)


async def test_the_message_says_what_is_right_and_what_to_do(client: httpx.AsyncClient) -> None:
    by_name = {s.name: s for s in CORPUS}
    report = await report_for(client, by_name["σ' at the output"])
    message = report["diagnoses"][0]["message"]
    assert message.startswith("4.weight, 4.bias are right and 0.weight, 0.bias, 2.weight, 2.bias")
    assert "sigmoid derivative at layer 3 was evaluated at its output" in message
    assert "σ(z)(1 − σ(z))" in message


async def test_a_trace_names_the_first_wrong_step_exactly(client: httpx.AsyncClient) -> None:
    by_name = {s.name: s for s in CORPUS}
    report = await report_for(client, by_name["a made-up term in dL/dz, with its trace"])
    (diagnosis,) = report["diagnoses"]
    assert diagnosis["message"].startswith(
        "The first wrong step of your backward pass is dL/d(input) (grad_z) of layer 1 (sigmoid)"
    )


async def test_a_trace_that_does_not_fit_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    body = {
        "candidate": {
            "gradients": {},
            "trace": [
                {"index": 9},
                {"index": 1, "grad_z": [1.0, 2.0]},
                {"index": 0, "grad_a": [1.0]},
            ],
        }
    }
    response = await client.post("/gradients/check", json=body)
    assert response.status_code == 422
    locs = {tuple(item["loc"]): item["msg"] for item in response.json()["detail"]}
    assert locs[("body", "candidate", "trace", 0, "index")] == "the network has 5 layers, 0 to 4"
    assert locs[("body", "candidate", "trace", 1, "grad_z")] == "expected 10 numbers shaped [10]"
    assert "linear" in locs[("body", "candidate", "trace", 2, "grad_a")]


DEEP = [layer for _ in range(31) for layer in
        ({"type": "linear", "in_features": 64, "out_features": 64}, {"type": "relu"})]  # fmt: skip
DEEP += [{"type": "linear", "in_features": 64, "out_features": 1}]


def test_a_deep_wide_network_bounds_the_hypotheses_tried() -> None:
    """31 relu layers of 64 at batch 256: every rerun of the backward pass costs ~1e8
    multiply-adds, so a few are tried, not the thousands the hypotheses would take."""
    from service.domain.diagnosis import RERUN_COST, reruns_allowed
    from service.engines import Problem
    from service.engines.layers import sequence
    from service.engines.losses import SSE
    from tests.nets import layer_specs

    layers = layer_specs(DEEP)
    problem = Problem(layers, {}, np.zeros((256, 64)), np.zeros((256, 1)), SSE())
    forward = 256 * sequence.cost(layers, (64,))
    assert reruns_allowed(problem) == max(4, RERUN_COST // (3 * forward)) < 40


async def test_a_deep_network_is_still_diagnosed(client: httpx.AsyncClient) -> None:
    body = {"network": {"layers": DEEP}, "x": [[0.3] * 64] * 64, "y": [[1.0]] * 64,
            "candidate": {"gradients": {"0.bias": [1.0] * 64}}}  # fmt: skip
    report = (await client.post("/gradients/check", json=body)).json()["report"]
    assert report["verdict"] == "fail"
    assert [d["kind"] for d in report["diagnoses"]] == ["error_enters_at"]
