"""POST /train over HTTP: `{}` is the assignment's training, the stream is one line per epoch
then the summary, and every bad request is a 4xx naming its field."""

from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter

from service.core.config import Settings
from service.domain.training import LAYER_STEP_COST, PARAMETER_STEP_COST, STEP_COST
from service.schemas.responses import TrainResponse
from service.schemas.values import EpochReport
from tests.answers import without
from tests.domain.test_training import torch_loop

NDJSON = {"accept": "application/x-ndjson"}
TIMINGS = {"elapsed_ms", "engine_ms"}


async def train(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/train", json=body)
    assert response.status_code == 200, response.text
    TrainResponse.model_validate_json(response.content)
    return dict(response.json())


async def test_empty_body_trains_the_assignment_as_written(client: httpx.AsyncClient) -> None:
    """The seed network from init_seed 0, the seed's 100 points in order, sse, lr 0.05, batch 1,
    one epoch: 100 steps, exactly those of a torch loop."""
    body = await train(client, {})
    expected = torch_loop("float64", epochs=1, batch_size=1, shuffle_seed=None)
    assert (body["epochs"], body["steps"], body["samples"]) == (1, 100, 100)
    losses = [loss for loss, _ in expected]
    assert body["loss_curves"]["autograd"] == [sum(losses) / len(losses)]
    for name, w in expected[-1][1].items():
        np.testing.assert_array_equal(np.array(body["final_weights"]["autograd"][name]), w)
    assert body["within_tolerance"] is True
    assert body["left_tolerance"] is None
    assert body["weight_deviation"]["max_abs"] < 1e-15
    assert body["tolerance"] == {"atol": 1e-12, "rtol": 1e-9}
    assert [e["epoch"] for e in body["history"]] == [1]


async def test_the_generator_is_the_data_set_get_returns(client: httpx.AsyncClient) -> None:
    dataset = (await client.get("/datasets/seed", params={"n": 30, "seed": 5})).json()
    common = {"epochs": 2, "batch_size": 4, "shuffle_seed": 1, "dtype": "float32"}
    generated = await train(client, {**common, "data": {"generator": "seed", "n": 30, "seed": 5}})
    given = await train(client, {**common, "data": {"x": dataset["x"], "y": dataset["y"]}})
    assert without(generated, TIMINGS) == without(given, TIMINGS)
    assert generated["samples"] == 30
    assert generated["steps"] == 2 * 8  # 30 samples in batches of 4: 7 full and one of 2


async def test_the_stream_is_one_line_per_epoch_then_the_summary(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/train", json={"epochs": 3, "shuffle_seed": 0}, headers=NDJSON)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["x-accel-buffering"] == "no"  # no proxy holds the lines back
    assert response.text.endswith("\n")
    lines = [orjson.loads(line) for line in response.text.splitlines()]
    assert [line["type"] for line in lines] == ["epoch", "epoch", "epoch", "summary"]
    for number, line in enumerate(lines[:3], start=1):
        assert TypeAdapter(EpochReport).validate_python(line).epoch == number
        assert line["step"] == 100 * number
    summary = TrainResponse.model_validate(lines[-1])
    assert summary.history is None
    assert lines[-1]["history"] is None  # the stream sent them one by one
    assert summary.loss_curves["autograd"] == [line["loss"]["autograd"] for line in lines[:3]]

    whole = await train(client, {"epochs": 3, "shuffle_seed": 0})
    assert without(whole["history"], TIMINGS) == without(lines[:3], TIMINGS)
    assert without({**whole, "history": None}, TIMINGS) == without(
        {**lines[-1], "history": None}, TIMINGS
    )


@pytest.mark.parametrize(
    ("accept", "streamed"),
    [
        ("application/json", False),
        ("*/*", False),
        ("application/x-ndjson", True),
        ("text/plain, application/x-ndjson;q=0.9", True),
    ],
)
async def test_the_accept_header_chooses(
    client: httpx.AsyncClient, accept: str, streamed: bool
) -> None:
    body = {"data": {"generator": "seed", "n": 3}}
    response = await client.post("/train", json=body, headers={"accept": accept})
    assert response.status_code == 200
    expected = "application/x-ndjson" if streamed else "application/json"
    assert response.headers["content-type"] == expected


async def test_float32_drifts_but_stays_within_its_tolerance(client: httpx.AsyncClient) -> None:
    body = await train(client, {"dtype": "float32", "epochs": 2})
    assert body["dtype"] == "float32"
    assert body["tolerance"] == {"atol": 1e-5, "rtol": 1e-4}
    assert 0 < body["weight_deviation"]["max_abs"] < 1e-5
    assert body["within_tolerance"] is True
    exact = {"atol": 0, "rtol": 0}  # no difference at all allowed
    strict = await train(client, {"dtype": "float32", "epochs": 2, "tolerance": exact})
    assert strict["within_tolerance"] is False
    assert 1 <= strict["left_tolerance"]["step"] <= 200


async def test_divergence_is_a_422_or_the_streams_last_line(client: httpx.AsyncClient) -> None:
    body = {"learning_rate": 1e30}
    response = await client.post("/train", json=body)
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["type"] == "non_finite_result"
    assert item["loc"] == ["body", "learning_rate"]

    streamed = await client.post("/train", json=body, headers=NDJSON)
    assert streamed.status_code == 200
    (line,) = [orjson.loads(line) for line in streamed.text.splitlines()]
    assert line == {"type": "error", "detail": [item]}


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"data": {"x": [[1.0, 2.0, 3.0]]}}, ["body", "data", "x"], "wrong_shape"),
        ({"data": {"x": [[1.0, 2.0]], "y": [1.0]}}, ["body", "data", "y"], "wrong_shape"),
        ({"data": {"x": [[1.0, 2.0], [3.0]]}}, ["body", "data", "x", 1], "ragged_array"),
        ({"data": {"generator": "seed", "low": 2.0}}, ["body", "data"], "low_not_below_high"),
        ({"data": {"generator": "seed", "n": 0}}, ["body", "data", "n"], "greater_than_equal"),
        ({"data": {"generator": "other"}}, ["body", "data", "generator"], "literal_error"),
        ({"data": {"generator": "seed", "x": []}}, ["body", "data", "x"], "extra_forbidden"),
        ({"batch_size": 101}, ["body", "batch_size"], "too_large"),
        ({"epochs": 0}, ["body", "epochs"], "greater_than_equal"),
        ({"learning_rate": 0}, ["body", "learning_rate"], "greater_than"),
        ({"shuffle_seed": -1}, ["body", "shuffle_seed"], "greater_than_equal"),
        ({"weights": {}, "init_seed": 1}, ["body", "init_seed"], "conflict"),
        ({"epoch": 3}, ["body", "epoch"], "extra_forbidden"),
    ],
)
async def test_bad_requests_name_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list, kind: str
) -> None:
    response = await client.post("/train", json=body)
    assert response.status_code == 422, response.text
    item = response.json()["detail"][0]
    assert (item["loc"], item["type"]) == (loc, kind), item


# An epoch of the seed network (5 layers, 151 parameters) over 50 points, batch 1: its maths and
# its 50 steps' own cost.
EPOCH_COST = 50 * 151 + 50 * (STEP_COST + 5 * LAYER_STEP_COST + 151 * PARAMETER_STEP_COST)


class TestLimits:
    @pytest.fixture
    def settings(self) -> Settings:
        return Settings(max_training_cost=5 * EPOCH_COST, max_batch=50)  # 5 epochs of 50 points

    async def test_training_cost(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/train", json={"epochs": 6, "data": {"generator": "seed", "n": 50}}
        )
        assert response.status_code == 422
        (item,) = response.json()["detail"]
        assert item["type"] == "limit_exceeded"
        assert item["loc"] == ["body", "epochs"]
        ctx = {"limit": "max_training_cost", "value": 5 * EPOCH_COST, "asked": 6 * EPOCH_COST}
        assert item["ctx"] == ctx
        assert "GRADIENT_SERVICE_MAX_TRAINING_COST" in item["msg"]

    @pytest.mark.parametrize(
        ("data", "loc"),
        [
            ({"generator": "seed", "n": 51}, ["body", "data", "n"]),
            ({"x": [[0.5, 0.5]] * 51}, ["body", "data", "x"]),
        ],
    )
    async def test_data_set_size(
        self, client: httpx.AsyncClient, data: dict[str, Any], loc: list
    ) -> None:
        response = await client.post("/train", json={"data": data})
        assert response.status_code == 422
        (item,) = response.json()["detail"]
        assert (item["loc"], item["ctx"]["limit"]) == (loc, "max_batch")


def test_the_spec_documents_both_answers(app: FastAPI) -> None:
    spec = app.openapi()
    content = spec["paths"]["/train"]["post"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/TrainResponse"}
    refs = [s["$ref"] for s in content["application/x-ndjson"]["schema"]["oneOf"]]
    for ref in refs:
        assert ref.rsplit("/", 1)[1] in spec["components"]["schemas"], ref
    assert "/datasets/seed" in spec["paths"]
    assert "/" not in spec["paths"]
    assert not [p for p in spec["paths"] if p.startswith("/playground")]
