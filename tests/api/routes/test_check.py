"""POST /gradients/check: an autograder's view of a caller's own gradients."""

import json

import httpx
import numpy as np
import pytest
import torch

from service.core import seed
from service.schemas.responses import CheckResponse
from tests.nets import torch_sequential


def seed_gradients() -> dict[str, np.ndarray]:
    """The seed example's gradients, from torch written in the test."""
    torch.manual_seed(0)
    net = torch_sequential(seed.LAYERS).double()
    x = torch.tensor(seed.X, dtype=torch.float64)
    torch.sum((net(x) - seed.Y) ** 2).backward()
    return {name: p.grad.numpy().copy() for name, p in net.named_parameters()}


async def check(client: httpx.AsyncClient, candidate: dict, **extra: object) -> dict:
    response = await client.post("/gradients/check", json={"candidate": candidate, **extra})
    assert response.status_code == 200, response.text
    CheckResponse.model_validate_json(response.content)
    return response.json()


def as_lists(gradients: dict[str, np.ndarray]) -> dict[str, list]:
    return {name: g.tolist() for name, g in gradients.items()}


async def test_correct_gradients_pass(client: httpx.AsyncClient) -> None:
    result = await check(client, {"gradients": as_lists(seed_gradients())})
    report = result["report"]
    assert report["verdict"] == "pass"
    assert report["score"] == 1.0
    assert (report["correct"], report["total"]) == (151, 151)
    assert report["missing"] == report["unexpected"] == []
    assert result["expected"]["gradients"] == as_lists(seed_gradients())


async def test_one_planted_wrong_entry_is_found_at_its_index(client: httpx.AsyncClient) -> None:
    gradients = seed_gradients()
    planted = gradients["2.weight"][3, 1]
    gradients["2.weight"][3, 1] = planted + 1e-3
    report = (await check(client, {"gradients": as_lists(gradients)}))["report"]
    assert report["verdict"] == "fail"
    assert (report["correct"], report["total"]) == (150, 151)
    wrong = [name for name, f in report["gradients"].items() if f["status"] != "ok"]
    assert wrong == ["2.weight"]
    finding = report["gradients"]["2.weight"]
    assert finding["mismatch_count"] == 1
    (mismatch,) = finding["mismatches"]
    assert mismatch["index"] == [3, 1]
    assert mismatch["expected"] == planted
    assert mismatch["abs_error"] == pytest.approx(1e-3, rel=1e-9)


async def test_transposed_weight_gradient_gets_the_hint(client: httpx.AsyncClient) -> None:
    gradients = as_lists(seed_gradients())
    gradients["0.weight"] = np.array(gradients["0.weight"]).T.tolist()
    report = (await check(client, {"gradients": gradients}))["report"]
    finding = report["gradients"]["0.weight"]
    assert finding["status"] == "wrong_shape"
    assert (finding["expected_shape"], finding["shape"]) == ([10, 2], [2, 10])
    assert "transpose" in finding["hint"]
    assert report["entry_score"] == (151 - 20) / 151
    assert report["score"] == 1 - 1 / 6  # one bug among six gradients
    (diagnosis,) = report["diagnoses"]
    assert (diagnosis["kind"], diagnosis["parameters"], diagnosis["layer"]) == (
        "transpose",
        ["0.weight"],
        0,
    )


async def test_mean_instead_of_sum_is_named_by_the_batch_size(client: httpx.AsyncClient) -> None:
    x = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]]
    expected = (await client.post("/gradients", json={"x": x})).json()["gradients"]
    averaged = {k: (np.array(v) / 4).tolist() for k, v in expected.items()}
    report = (await check(client, {"gradients": averaged}, x=x))["report"]
    for finding in report["gradients"].values():
        assert "divided by 4: the loss sums over the batch" in finding["hint"]


async def test_missing_unexpected_and_optional_quantities(client: httpx.AsyncClient) -> None:
    gradients = as_lists(seed_gradients())
    del gradients["4.bias"]
    gradients["1.weight"] = [[0.0]]
    reference = (await client.post("/gradients", json={})).json()
    candidate = {"gradients": gradients, "loss": reference["loss"],
                 "prediction": reference["prediction"], "input_gradient": [[0.0, 0.0]]}  # fmt: skip
    report = (await check(client, candidate))["report"]
    assert report["missing"] == ["4.bias"]
    assert report["unexpected"] == ["1.weight"]
    assert report["loss"]["status"] == report["prediction"]["status"] == "ok"
    assert report["input_gradient"]["status"] == "wrong_shape"  # one point: [2], not [[…]]
    assert report["gradients"]["4.bias"]["status"] == "missing"
    assert report["verdict"] == "fail"


async def test_max_mismatches_caps_the_list(client: httpx.AsyncClient) -> None:
    gradients = {k: (v + 1.0).tolist() for k, v in seed_gradients().items()}
    report = (await check(client, {"gradients": gradients}, max_mismatches=3))["report"]
    finding = report["gradients"]["2.weight"]
    assert finding["mismatch_count"] == 100
    assert len(finding["mismatches"]) == 3
    errors = [m["abs_error"] for m in finding["mismatches"]]
    assert errors == sorted(errors, reverse=True)
    assert report["score"] == report["entry_score"] == 0.0  # six wrong, no mistake explains them


@pytest.mark.parametrize(
    ("candidate", "loc"),
    [
        (
            {"gradients": {"0.weight": [[float("nan")]]}},
            ["body", "candidate", "gradients", "0.weight", 0, 0],
        ),
        (
            {"gradients": {"0.weight": [[1.0, "2"]]}},
            ["body", "candidate", "gradients", "0.weight", 0, 1],
        ),
        ({}, ["body", "candidate", "gradients"]),
        ({"gradients": {}, "hessian": []}, ["body", "candidate", "hessian"]),
    ],
)
async def test_bad_candidates_are_422(
    client: httpx.AsyncClient, candidate: dict, loc: list
) -> None:
    content = json.dumps({"candidate": candidate})  # writes a NaN token, as httpx would not
    response = await client.post(
        "/gradients/check", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


async def test_check_takes_the_problem_fields_only(client: httpx.AsyncClient) -> None:
    response = await client.post("/gradients/check", json={"candidate": {"gradients": {}},
                                                           "learning_rate": 0.1})  # fmt: skip
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "learning_rate"]
