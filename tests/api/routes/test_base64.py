"""Compact tensors: {shape, dtype, data_b64} accepted for any array, chosen for responses."""

import base64

import httpx
import numpy as np
import pytest

from service.schemas.responses import GradientsResponse

X = [[0.1, 0.2], [0.3, 0.4], [0.5, -0.6]]


def b64(values: object, dtype: str = "float64") -> dict:
    array = np.asarray(values, dtype="<f8" if dtype == "float64" else "<f4")
    data = base64.b64encode(array.tobytes()).decode()
    return {"shape": list(array.shape), "dtype": dtype, "data_b64": data}


def unb64(tensor: dict) -> np.ndarray:
    dtype = "<f8" if tensor["dtype"] == "float64" else "<f4"
    return np.frombuffer(base64.b64decode(tensor["data_b64"]), dtype).reshape(tensor["shape"])


async def test_base64_in_and_out_equal_json(client: httpx.AsyncClient) -> None:
    plain = (await client.post("/gradients", json={"x": X})).json()
    compact = await client.post("/gradients", json={"x": b64(X), "encoding": "base64"})
    assert compact.status_code == 200
    body = compact.json()
    GradientsResponse.model_validate(body)
    assert body["loss"] == plain["loss"]
    for name, g in plain["gradients"].items():
        np.testing.assert_array_equal(unb64(body["gradients"][name]), g)
        np.testing.assert_array_equal(unb64(body["engines"]["manual"]["gradients"][name]),
                                      plain["engines"]["manual"]["gradients"][name])  # fmt: skip
    np.testing.assert_array_equal(unb64(body["prediction"]), plain["prediction"])
    assert body["deviations"] == plain["deviations"]


async def test_base64_weights_and_y(client: httpx.AsyncClient) -> None:
    layers = [{"type": "linear", "in_features": 2, "out_features": 1}]
    weights = {"0.weight": [[0.5, -1.25]], "0.bias": [0.125]}
    as_lists = {"network": {"layers": layers}, "weights": weights, "x": [2.0, 3.0], "y": 1.0}
    as_b64 = {"network": {"layers": layers}, "x": b64([2.0, 3.0]), "y": b64(1.0),
              "weights": {k: b64(v) for k, v in weights.items()}}  # fmt: skip
    expected = (await client.post("/gradients", json=as_lists)).json()
    got = (await client.post("/gradients", json=as_b64)).json()
    assert got["gradients"] == expected["gradients"] == {"0.weight": [[-14.5, -21.75]],
                                                          "0.bias": [-7.25]}  # fmt: skip


async def test_float32_answers_in_float32_bytes(client: httpx.AsyncClient) -> None:
    body = (await client.post("/gradients", json={"dtype": "float32", "encoding": "base64"})).json()
    tensor = body["gradients"]["2.weight"]
    assert tensor["dtype"] == "float32"
    assert len(base64.b64decode(tensor["data_b64"])) == 10 * 10 * 4


async def test_base64_candidate_is_graded(client: httpx.AsyncClient) -> None:
    reference = (await client.post("/gradients", json={})).json()["gradients"]
    candidate = {k: b64(v) for k, v in reference.items()}
    wrong = np.array(reference["2.weight"])
    wrong[4, 7] += 1.0
    candidate["2.weight"] = b64(wrong)
    response = await client.post("/gradients/check", json={"candidate": {"gradients": candidate}})
    report = response.json()["report"]
    assert report["gradients"]["2.weight"]["mismatches"][0]["index"] == [4, 7]
    assert report["correct"] == report["total"] - 1


@pytest.mark.parametrize(
    ("tensor", "loc", "words"),
    [
        ({"shape": [2], "dtype": "float64", "data_b64": "!!"}, ["body", "x", "data_b64"],
         "should match pattern"),
        ({"shape": [2], "dtype": "float64", "data_b64": "AAA"}, ["body", "x", "data_b64"],
         "not valid base64"),
        ({**b64([1.0, 2.0]), "shape": [3]}, ["body", "x", "data_b64"], "needs 3 float64 values"),
        (b64([float("nan"), 1.0]), ["body", "x", "data_b64"], "non-finite number at [0]"),
        (b64([float("inf"), 1.0], "float32"), ["body", "x", "data_b64"], "non-finite"),
        ({**b64([1.0, 2.0]), "dtype": "float16"}, ["body", "x", "dtype"], "'float64' or"),
        ({**b64([1.0] * 7), "shape": [1] * 7}, ["body", "x", "shape"], "at most 6"),
        ({**b64([1.0, 2.0]), "shape": [1, 1, 2]}, ["body", "x"], "this x has 3"),
        ({**b64([1.0, 2.0]), "extra": 1}, ["body", "x", "extra"], "Extra inputs"),
    ],
)  # fmt: skip
async def test_bad_base64_tensors_are_422(
    client: httpx.AsyncClient, tensor: dict, loc: list, words: str
) -> None:
    response = await client.post("/gradients", json={"x": tensor})
    assert response.status_code == 422
    item = response.json()["detail"][0]
    assert item["loc"] == loc
    assert words in item["msg"]
