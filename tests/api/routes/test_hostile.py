"""Hostile input, end to end over HTTP: every one a 4xx with the error JSON, never a 500 or a hang.

Non-finite tokens in every numeric field of both computing endpoints, sizes that would allocate
gigabytes, bodies past the limit, nesting 100,000 deep, ragged arrays, wrong types and unknown
fields. (The limits' own messages are in test_limits.py; the fuzzer in test_fuzz.py.)
"""

import json
import time
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from pydantic import BaseModel

from service.api import http
from service.core.config import Settings
from service.domain import problem
from service.schemas.constraints import MAX_INTEGER
from service.schemas.models import CheckRequest, GradientsRequest
from service.schemas.responses import CheckResponse, ErrorResponse, GradientsResponse

JSON = {"content-type": "application/json"}
CANDIDATE = {"gradients": {}}


async def post_text(client: httpx.AsyncClient, path: str, text: str | bytes) -> httpx.Response:
    content = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return await client.post(path, content=content, headers=JSON)


def assert_error(response: httpx.Response, status: int) -> list[dict[str, Any]]:
    """The status, the documented error JSON, and strict JSON (orjson refuses NaN/Infinity)."""
    assert response.status_code == status, response.text[:500]
    ErrorResponse.model_validate(orjson.loads(response.content))
    detail: list[dict[str, Any]] = response.json()["detail"]
    return detail


# --- non-finite numbers in every numeric field -------------------------------------------------

MARK = "@"  # replaced by the token in the JSON text


def linear(**fields: Any) -> dict[str, Any]:
    return {"type": "linear", "in_features": 2, "out_features": 1, **fields}


def conv(**fields: Any) -> dict[str, Any]:
    return {"type": "conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 2, **fields}


# (where, body with MARK in one numeric field, loc of that field), valid for both endpoints
PROBLEM_FIELDS: list[tuple[str, dict[str, Any], list]] = [
    ("x point", {"x": [MARK, 1]}, ["body", "x", 0]),
    ("x batch", {"x": [[1, 2], [1, MARK]]}, ["body", "x", 1, 1]),
    ("y number", {"y": MARK}, ["body", "y"]),
    ("y vector", {"y": [MARK]}, ["body", "y", 0]),
    ("y matrix", {"x": [[1, 2]], "y": [[MARK]]}, ["body", "y", 0, 0]),
    ("weight", {"weights": {"0.weight": [[1, MARK]]}}, ["body", "weights", "0.weight", 0, 1]),
    ("bias", {"weights": {"0.bias": [MARK]}}, ["body", "weights", "0.bias", 0]),
    ("init_seed", {"init_seed": MARK}, ["body", "init_seed"]),
    ("atol", {"tolerance": {"atol": MARK}}, ["body", "tolerance", "atol"]),
    ("rtol", {"tolerance": {"rtol": MARK}}, ["body", "tolerance", "rtol"]),
    ("in_features", {"network": {"layers": [linear(in_features=MARK)]}},
     ["body", "network", "layers", 0, "in_features"]),
    ("out_features", {"network": {"layers": [linear(out_features=MARK)]}},
     ["body", "network", "layers", 0, "out_features"]),
    ("negative_slope", {"network": {"layers": [{"type": "leaky_relu", "negative_slope": MARK}]}},
     ["body", "network", "layers", 0, "negative_slope"]),
    ("alpha", {"network": {"layers": [{"type": "elu", "alpha": MARK}]}},
     ["body", "network", "layers", 0, "alpha"]),
    ("beta", {"network": {"layers": [{"type": "softplus", "beta": MARK}]}},
     ["body", "network", "layers", 0, "beta"]),
    ("threshold", {"network": {"layers": [{"type": "softplus", "threshold": MARK}]}},
     ["body", "network", "layers", 0, "threshold"]),
    ("base64 shape", {"x": {"shape": [MARK], "dtype": "float64", "data_b64": ""}},
     ["body", "x", "shape", 0]),
    ("dropout_seed", {"dropout_seed": MARK}, ["body", "dropout_seed"]),
    *[(option, {"network": {"layers": [layer]}}, ["body", "network", "layers", 0, *where])
      for option, layer, where in [
          ("in_channels", conv(in_channels=MARK), ["in_channels"]),
          ("out_channels", conv(out_channels=MARK), ["out_channels"]),
          ("kernel_size", conv(kernel_size=MARK), ["kernel_size"]),
          ("kernel_size pair", conv(kernel_size=[2, MARK]), ["kernel_size", 1]),
          ("stride", conv(stride=MARK), ["stride"]),
          ("padding", conv(padding=[MARK, 1]), ["padding", 0]),
          ("dilation", conv(dilation=MARK), ["dilation"]),
          ("pool stride", {"type": "max_pool2d", "kernel_size": 2, "stride": MARK}, ["stride"]),
          ("start_dim", {"type": "flatten", "start_dim": MARK}, ["start_dim"]),
          ("end_dim", {"type": "flatten", "end_dim": MARK}, ["end_dim"]),
          ("num_features", {"type": "batch_norm1d", "num_features": MARK}, ["num_features"]),
          ("eps", {"type": "batch_norm2d", "num_features": 1, "eps": MARK}, ["eps"]),
          ("normalized_shape", {"type": "layer_norm", "normalized_shape": [2, MARK]},
           ["normalized_shape", 1]),
          ("dropout p", {"type": "dropout", "p": MARK}, ["p"]),
          ("dim", {"type": "softmax", "dim": MARK}, ["dim"]),
          ("residual", {"type": "residual", "layers": [linear(out_features=MARK)]},
           ["layers", 0, "out_features"]),
      ]],
    *[(option, {"loss": loss}, ["body", "loss", option])
      for option, loss in [
          ("beta", {"type": "smooth_l1", "beta": MARK}),
          ("delta", {"type": "huber", "delta": MARK}),
          ("margin", {"type": "multi_margin", "margin": MARK}),
          ("p", {"type": "multi_margin", "p": MARK}),
      ]],
]  # fmt: skip

GRADIENTS_ONLY = [
    ("learning_rate", {"learning_rate": MARK}, ["body", "learning_rate"]),
    ("numeric step", {"numeric": {"step": MARK}}, ["body", "numeric", "step"]),
    (
        "numeric atol",
        {"numeric": {"tolerance": {"atol": MARK}}},
        ["body", "numeric", "tolerance", "atol"],
    ),
]
CHECK_ONLY = [
    ("candidate loss", {"candidate": {"gradients": {}, "loss": MARK}},
     ["body", "candidate", "loss"]),
    ("candidate gradient", {"candidate": {"gradients": {"0.weight": [[1, MARK]]}}},
     ["body", "candidate", "gradients", "0.weight", 0, 1]),
    ("candidate gradient number", {"candidate": {"gradients": {"4.bias": MARK}}},
     ["body", "candidate", "gradients", "4.bias"]),
    ("candidate prediction", {"candidate": {"gradients": {}, "prediction": [MARK]}},
     ["body", "candidate", "prediction", 0]),
    ("candidate input_gradient", {"candidate": {"gradients": {}, "input_gradient": [[[MARK]]]}},
     ["body", "candidate", "input_gradient", 0, 0, 0]),
    ("max_mismatches", {"candidate": CANDIDATE, "max_mismatches": MARK},
     ["body", "max_mismatches"]),
    ("candidate trace index", {"candidate": {"gradients": {}, "trace": [{"index": MARK}]}},
     ["body", "candidate", "trace", 0, "index"]),
    *[(f"candidate trace {name}",
       {"candidate": {"gradients": {}, "trace": [{"index": 4, name: [MARK]}]}},
       ["body", "candidate", "trace", 0, name, 0])
      for name in ("grad_output", "grad_input", "grad_z", "grad_a")],
]  # fmt: skip

FIELDS = [
    *[("/gradients", *field) for field in [*PROBLEM_FIELDS, *GRADIENTS_ONLY]],
    *[("/gradients/check", name, {"candidate": CANDIDATE, **body}, loc)
      for name, body, loc in PROBLEM_FIELDS],
    *[("/gradients/check", *field) for field in CHECK_ONLY],
]  # fmt: skip
TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize(("path", "body", "loc"), [f[0:1] + f[2:] for f in FIELDS],
                         ids=[f"{f[0]} {f[1]}" for f in FIELDS])  # fmt: skip
async def test_non_finite_token_in_every_numeric_field_is_a_422_naming_it(
    client: httpx.AsyncClient, path: str, body: dict, loc: list, token: str
) -> None:
    text = json.dumps(body).replace(f'"{MARK}"', token)
    detail = assert_error(await post_text(client, path, text), 422)
    assert loc in [item["loc"] for item in detail], detail


def numeric_fields(model: type[BaseModel]) -> set[str]:
    """The names of the model's fields (nested models' too) that hold numbers, from its schema."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})

    def holds_numbers(node: dict[str, Any], seen: frozenset[str]) -> bool:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            target = defs[name]  # a nested model's fields are visited on their own
            return (
                "properties" not in target
                and name not in seen
                and holds_numbers(target, seen | {name})
            )
        if node.get("type") in ("number", "integer"):
            return True
        parts = [*node.get("anyOf", []), *node.get("oneOf", []), *node.get("allOf", [])]
        parts += [
            node[key]
            for key in ("items", "additionalProperties")
            if isinstance(node.get(key), dict)
        ]
        return any(holds_numbers(part, seen) for part in parts)

    models = [schema, *(d for d in defs.values() if "properties" in d)]
    return {
        name
        for m in models
        for name, field in m["properties"].items()
        if holds_numbers(field, frozenset())
    }


@pytest.mark.parametrize(("path", "model"), [("/gradients", GradientsRequest),
                                             ("/gradients/check", CheckRequest)])  # fmt: skip
def test_every_numeric_field_of_the_contract_is_tried(path: str, model: type[BaseModel]) -> None:
    tried = {part for where, _, _, loc in FIELDS if where == path for part in loc[1:]}
    assert numeric_fields(model) <= tried, numeric_fields(model) - tried


# --- sizes that would allocate: refused before anything is allocated ---------------------------


@pytest.fixture
def no_weights_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("weights were initialised for a network over the limits")

    monkeypatch.setattr(problem, "initial_weights", refuse)


HUGE = [
    ("10 million parameters", [{"type": "linear", "in_features": 3163, "out_features": 3163}],
     "max_parameters"),
    ("4096 × 4096, every width allowed", [linear(in_features=4096, out_features=4096)],
     "max_parameters"),
    ("a width of 10 million", [linear(in_features=2, out_features=10_000_000)], "max_width"),
    ("a width of 2⁵³ − 1", [linear(in_features=MAX_INTEGER)], "max_width"),
    ("10,000 layers", [{"type": "relu"}] * 10_000, "max_layers"),
    ("10,000 linear layers", [linear(in_features=2, out_features=2)] * 10_000, "max_layers"),
]  # fmt: skip


@pytest.mark.usefixtures("no_weights_drawn")
@pytest.mark.parametrize(("layers", "limit"), [h[1:] for h in HUGE], ids=[h[0] for h in HUGE])
async def test_a_huge_network_is_refused_quickly_before_allocating(
    client: httpx.AsyncClient, layers: list, limit: str
) -> None:
    body = json.dumps({"network": {"layers": layers}})
    tracemalloc.start()
    start = time.perf_counter()
    try:
        response = await post_text(client, "/gradients", body)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (item,) = assert_error(response, 422)
    assert item["ctx"]["limit"] == limit
    assert elapsed < 2.0
    assert peak < 20 * 2**20  # the parsed body and its models; a 3163² float64 weight is 80 MB


@pytest.fixture
def never_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(body: bytes) -> None:
        raise AssertionError("a body over the limit was parsed")

    monkeypatch.setattr(http, "parse_json", refuse)


FIFTY_MB = 50 * 10**6


@pytest.mark.usefixtures("never_parsed")
async def test_a_50_mb_body_is_a_413_before_parsing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = b'{"x": [' + b"0," * (FIFTY_MB // 2) + b"0]}"
    response = await post_text(client, "/gradients", body)
    (item,) = assert_error(response, 413)
    assert item["ctx"]["limit"] == settings.max_body_bytes == 16 * 2**20
    assert response.headers["connection"] == "close"


@pytest.mark.usefixtures("never_parsed")
async def test_a_chunked_50_mb_body_is_a_413_read_no_further_than_the_limit(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    chunk = b"0," * 32_768
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        nonlocal sent
        for _ in range(FIFTY_MB // len(chunk)):
            sent += len(chunk)
            yield chunk

    response = await client.post("/gradients", content=chunks(), headers=JSON)
    assert_error(response, 413)
    assert sent <= settings.max_body_bytes + len(chunk)


# --- nesting -----------------------------------------------------------------------------------


def nested(depth: int, inner: str = "1", open_: str = "[", close: str = "]") -> str:
    return open_ * depth + inner + close * depth


DEEP = [
    ("top level 100k", nested(100_000), 400),
    ("top level 100k unclosed", "[" * 100_000, 400),
    ("objects 100k", nested(100_000, "1", '{"a":', "}"), 400),
    ("x 100k", '{"x": ' + nested(100_000) + "}", 400),
    ("x 100k with NaN", '{"x": ' + nested(100_000, "NaN") + "}", 400),
    ("x 1100", '{"x": ' + nested(1100) + "}", 400),  # past the 1024 levels orjson parses
    ("x 1000", '{"x": ' + nested(1000) + "}", 422),
    ("x 900 with NaN", '{"x": ' + nested(900, "NaN") + "}", 422),  # parsed again by json
    ("weights 1000", '{"weights": {"0.weight": ' + nested(1000) + "}}", 422),
    ("candidate 100k", '{"candidate": {"gradients": {"0.weight": ' + nested(100_000) + "}}}", 400),
    ("candidate 1000", '{"candidate": {"gradients": {"0.weight": ' + nested(1000) + "}}}", 422),
    ("candidate 200", '{"candidate": {"gradients": {"0.weight": ' + nested(200) + "}}}", 422),
    ("candidate 65", '{"candidate": {"gradients": {}, "prediction": ' + nested(65) + "}}", 422),
    ("candidate 9", '{"candidate": {"gradients": {}, "input_gradient": ' + nested(9) + "}}", 422),
]  # fmt: skip


@pytest.mark.parametrize("path", ["/gradients", "/gradients/check"])
@pytest.mark.parametrize(("text", "status"), [d[1:] for d in DEEP], ids=[d[0] for d in DEEP])
async def test_deep_nesting_is_a_4xx_never_a_recursion_error(
    client: httpx.AsyncClient, path: str, text: str, status: int
) -> None:
    assert_error(await post_text(client, path, text), status)


async def test_a_candidate_nested_past_eight_levels_names_the_field(
    client: httpx.AsyncClient,
) -> None:
    text = '{"candidate": {"gradients": {"0.weight": ' + nested(65) + "}}}"
    (item,) = assert_error(await post_text(client, "/gradients/check", text), 422)
    assert item["type"] == "too_deep"
    assert item["loc"] == ["body", "candidate", "gradients", "0.weight"]
    assert item["ctx"] == {"depth": 65, "limit": 8}
    shallow = '{"candidate": {"gradients": {"0.weight": ' + nested(8) + "}}}"
    response = await post_text(client, "/gradients/check", shallow)
    assert response.json()["report"]["gradients"]["0.weight"]["status"] == "wrong_shape"


# --- ragged arrays, wrong types, unknown fields ------------------------------------------------

REFUSED: list[tuple[str, str, dict[str, Any], list]] = [
    # ragged
    ("/gradients", "ragged y", {"x": [[1, 2], [3, 4]], "y": [[1], [2, 3]]}, ["body", "y", 1]),
    ("/gradients", "x row and number", {"x": [[1, 2], 3]}, ["body", "x", 1]),
    ("/gradients", "x number and row", {"x": [1, [2, 3]]}, ["body", "x", 1]),
    ("/gradients", "ragged bias row", {"weights": {"0.bias": [[1], 2]}},
     ["body", "weights", "0.bias", 1]),
    ("/gradients/check", "ragged x", {"candidate": CANDIDATE, "x": [[1, 2], [3]]},
     ["body", "x", 1]),
    # wrong types
    ("/gradients", "body a string", "x", ["body"]),
    ("/gradients", "body null", None, ["body"]),
    ("/gradients", "network a list", {"network": []}, ["body", "network"]),
    ("/gradients", "layers an object", {"network": {"layers": {"0": {"type": "relu"}}}},
     ["body", "network", "layers"]),
    ("/gradients", "layer type a number", {"network": {"layers": [{"type": 1}]}},
     ["body", "network", "layers", 0]),
    ("/gradients", "bias a string", {"network": {"layers": [linear(bias="true")]}},
     ["body", "network", "layers", 0, "bias"]),
    ("/gradients", "in_features 2.5", {"network": {"layers": [linear(in_features=2.5)]}},
     ["body", "network", "layers", 0, "in_features"]),
    ("/gradients", "in_features true", {"network": {"layers": [linear(in_features=True)]}},
     ["body", "network", "layers", 0, "in_features"]),
    ("/gradients", "in_features '2'", {"network": {"layers": [linear(in_features="2")]}},
     ["body", "network", "layers", 0, "in_features"]),
    ("/gradients", "init_seed 2⁵³", {"init_seed": 2**53}, ["body", "init_seed"]),
    ("/gradients", "init_seed 1e300", {"init_seed": 1e300}, ["body", "init_seed"]),
    ("/gradients", "weights a list", {"weights": [[1.0]]}, ["body", "weights"]),
    ("/gradients", "weight a string", {"weights": {"0.bias": "0"}}, ["body", "weights", "0.bias"]),
    ("/gradients", "engines a string", {"engines": "manual"}, ["body", "engines"]),
    ("/gradients", "tolerance a number", {"tolerance": 1e-9}, ["body", "tolerance"]),
    ("/gradients", "dtype a number", {"dtype": 64}, ["body", "dtype"]),
    ("/gradients", "loss null", {"loss": None}, ["body", "loss"]),
    ("/gradients", "trace 1", {"trace": 1}, ["body", "trace"]),
    ("/gradients/check", "no candidate", {}, ["body", "candidate"]),
    ("/gradients/check", "candidate a list", {"candidate": []}, ["body", "candidate"]),
    ("/gradients/check", "candidate gradients a list", {"candidate": {"gradients": []}},
     ["body", "candidate", "gradients"]),
    ("/gradients/check", "candidate loss a string", {"candidate": {"gradients": {}, "loss": "1"}},
     ["body", "candidate", "loss"]),
    ("/gradients/check", "candidate gradient false",
     {"candidate": {"gradients": {"0.bias": [False]}}},
     ["body", "candidate", "gradients", "0.bias", 0]),
    ("/gradients/check", "max_mismatches true", {"candidate": CANDIDATE, "max_mismatches": True},
     ["body", "max_mismatches"]),
    ("/gradients/check", "max_mismatches 1001", {"candidate": CANDIDATE, "max_mismatches": 1001},
     ["body", "max_mismatches"]),
    ("/gradients/check", "max_mismatches -1", {"candidate": CANDIDATE, "max_mismatches": -1},
     ["body", "max_mismatches"]),
    # unknown fields, at every level
    ("/gradients", "unknown top-level", {"xx": [1, 2]}, ["body", "xx"]),
    ("/gradients", "unknown in network", {"network": {"layers": [linear()], "name": "n"}},
     ["body", "network", "name"]),
    ("/gradients", "unknown in a layer", {"network": {"layers": [linear(dropout=0.5)]}},
     ["body", "network", "layers", 0, "dropout"]),
    ("/gradients", "unknown in tolerance", {"tolerance": {"eps": 1}}, ["body", "tolerance", "eps"]),
    ("/gradients/check", "learning_rate on check", {"candidate": CANDIDATE, "learning_rate": 0.1},
     ["body", "learning_rate"]),
    ("/gradients/check", "unknown in candidate", {"candidate": {"gradients": {}, "hessian": []}},
     ["body", "candidate", "hessian"]),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "loc"), [r[0:1] + r[2:] for r in REFUSED],
                         ids=[f"{r[0]} {r[1]}" for r in REFUSED])  # fmt: skip
async def test_ragged_wrong_type_or_unknown_is_a_422_naming_the_field(
    client: httpx.AsyncClient, path: str, body: Any, loc: list
) -> None:
    detail = assert_error(await client.post(path, json=body), 422)
    assert loc in [item["loc"] for item in detail], detail


async def test_an_integral_number_is_an_integer(client: httpx.AsyncClient) -> None:
    """JSON Schema's `integer` takes 4.0; so does the service, for every integer field."""
    layers = [linear(in_features=2.0, out_features=1.0)]
    as_float = await client.post("/gradients", json={"network": {"layers": layers},
                                                     "init_seed": 3.0})  # fmt: skip
    as_int = await client.post("/gradients", json={"network": {"layers": [linear()]},
                                                   "init_seed": 3})  # fmt: skip
    assert as_float.status_code == 200, as_float.text
    assert as_float.json()["loss"] == as_int.json()["loss"]
    check = await client.post("/gradients/check", json={"candidate": CANDIDATE,
                                                        "max_mismatches": 2.0})  # fmt: skip
    assert check.status_code == 200


async def test_float32_scalars_that_do_not_fit_are_a_422_not_a_500(
    client: httpx.AsyncClient,
) -> None:
    big = 3.402823466385289e38  # just past float32's largest; torch refuses it mid-way
    layers = [{"type": "leaky_relu", "negative_slope": big}, {"type": "elu", "alpha": -1e300},
              {"type": "softplus", "beta": 1e39, "threshold": big}]  # fmt: skip
    body = {"dtype": "float32", "network": {"layers": layers}, "x": [1.0], "y": [0.0],
            "learning_rate": 1e300}  # fmt: skip
    detail = assert_error(await client.post("/gradients", json=body), 422)
    assert [item["loc"][-1] for item in detail] == [
        "negative_slope", "alpha", "beta", "threshold", "learning_rate",
    ]  # fmt: skip
    assert {item["type"] for item in detail} == {"overflow"}
    body["dtype"] = "float64"  # the same numbers fit in float64
    assert (await client.post("/gradients", json=body)).status_code == 200
    for y in (1e39, [1e39], [[1e39]]):  # a bare number too, not only arrays
        one = {"dtype": "float32", "x": [[1.0, 2.0]] if y == [[1e39]] else [1.0, 2.0], "y": y}
        (item,) = assert_error(await client.post("/gradients", json=one), 422)
        assert (item["type"], item["loc"]) == ("overflow", ["body", "y"])


async def test_numbers_near_the_float64_limit_never_come_back_non_finite(
    client: httpx.AsyncClient,
) -> None:
    """Finite in, finite out: a difference of two finite numbers past 1.8e308 is reported as
    1.8e308, a tolerance past it accepts everything (both were non-finite, sent as null)."""
    net = {"layers": [{"type": "linear", "in_features": 1, "out_features": 1, "bias": False}]}
    body = {
        "network": net,
        "weights": {"0.weight": [[2e-8]]},
        "x": [5e157],
        "y": 0.0,
        "loss": "mse",
    }  # fmt: skip  (the gradient is 1e308)
    candidate = {"gradients": {"0.weight": [[-1e308]]}, "loss": -1.7e308}
    response = await client.post("/gradients/check", json={**body, "candidate": candidate})
    report = CheckResponse.model_validate(orjson.loads(response.content)).report
    finding = report.gradients["0.weight"]
    assert finding.status == "mismatch"
    assert finding.max_abs == finding.mismatches[0].abs_error == np.finfo(np.float64).max

    huge = {"atol": 1e308, "rtol": 1e308}
    both = {**body, "candidate": {"gradients": {"0.weight": [[1e308]]}}, "tolerance": huge}
    assert (await client.post("/gradients/check", json=both)).json()["report"]["verdict"] == "pass"
    response = await client.post("/gradients", json={"tolerance": {"rtol": 9e307}})
    assert GradientsResponse.model_validate(orjson.loads(response.content)).agree
