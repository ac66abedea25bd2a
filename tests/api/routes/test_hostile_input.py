"""Hostile input II, in process: small requests that would cost a worker much are refused early.

Each attack is tried as the issue found it and in two or more variants that a fix tuned to the
example would miss (another field, another endpoint, another shape of the same trick). What
needs a real server (/healthz answering meanwhile, the worker's RSS, headers, slow clients,
shutdown) is in tests/test_hostile_live.py.
"""

import json
import logging
import time
import tracemalloc
from collections.abc import Awaitable
from typing import Any

import httpx
import orjson
import pytest
from fastapi import Depends, FastAPI

from service.api.app import create_app
from service.core.config import Settings
from service.core.logs import JSONFormatter
from service.domain.sizes import EPOCH_BYTES
from service.domain.training import Cost
from service.schemas.models import TrainRequest
from service.schemas.responses import ErrorResponse
from tests.nets import mlp

JSON = {"content-type": "application/json"}
SEED_NAMES = 6  # parameters of the seed network: missing when only unexpected names are sent


def error_items(response: httpx.Response, status: int) -> list[dict[str, Any]]:
    """The status, the documented error JSON, strictly encoded (orjson refuses what is not)."""
    assert response.status_code == status, response.text[:500]
    ErrorResponse.model_validate(orjson.loads(response.content))
    items: list[dict[str, Any]] = response.json()["detail"]
    return items


async def post(client: httpx.AsyncClient, path: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return await client.post(path, content=content, headers=JSON | headers)


async def measured(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float, int]:
    """The response, the seconds it took and the peak of Python's allocations meanwhile."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        response = await request
        return response, time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def base64_shape(shape: list[int]) -> dict[str, Any]:
    return {"shape": shape, "dtype": "float64", "data_b64": ""}


# --- 1. a base64 shape is measured before anything is allocated --------------------------------

HUGE_SHAPES = [
    ("y [80000000, 0]", "/gradients", {"y": base64_shape([80_000_000, 0])}, ["body", "y", "shape"]),
    ("x [2⁵³ − 1, 0]", "/gradients", {"x": base64_shape([2**53 - 1, 0])}, ["body", "x", "shape"]),
    ("a bias [0, 10¹²]", "/gradients", {"weights": {"0.bias": base64_shape([0, 10**12])}},
     ["body", "weights", "0.bias", "shape"]),
    ("a candidate's gradient", "/gradients/check",
     {"candidate": {"gradients": {"0.weight": base64_shape([80_000_000, 0])}}},
     ["body", "candidate", "gradients", "0.weight", "shape"]),
    ("a candidate's prediction [1, 2⁴⁰]", "/gradients/check",
     {"candidate": {"gradients": {}, "prediction": base64_shape([1, 2**40])}},
     ["body", "candidate", "prediction", "shape"]),
    ("a training set's y", "/train",
     {"data": {"x": [[0.5, 0.5]], "y": base64_shape([80_000_000, 0])}},
     ["body", "data", "y", "shape"]),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "loc"), [h[1:] for h in HUGE_SHAPES],
                         ids=[h[0] for h in HUGE_SHAPES])  # fmt: skip
async def test_a_huge_base64_shape_is_refused_before_anything_is_allocated(
    client: httpx.AsyncClient, path: str, body: Any, loc: list
) -> None:
    response, seconds, allocated = await measured(post(client, path, body))
    (item,) = error_items(response, 422)
    assert (item["type"], item["loc"]) == ("limit_exceeded", loc)
    assert item["ctx"]["limit"] in ("max_batch", "max_width")
    assert item["ctx"]["asked"] > item["ctx"]["value"]
    assert seconds < 1.0
    assert allocated < 5 * 2**20  # 80 million empty rows were 3.8 GB


# --- 3. error lists are capped, with a count of the rest ----------------------------------------

MANY_ERRORS = [
    # (name, path, body, errors in all, type of the listed ones)
    ("400k weight names, strings (5 MB)", "/gradients",
     {"weights": {f"w{i}": "" for i in range(400_000)}}, 400_000, "list_type"),
    ("400k weight names, numbers (5 MB)", "/gradients",
     {"weights": {f"w{i}": 0 for i in range(400_000)}}, 400_000 + SEED_NAMES, None),
    ("150k unexpected names, each a valid array", "/gradients",
     {"weights": {f"w{i}": [0.5] for i in range(150_000)}}, 150_000 + SEED_NAMES, None),
    ("x of 1.5M true", "/gradients", {"x": [True] * 1_500_000}, 1_500_000, "float_type"),
    ("a candidate of 1M strings", "/gradients/check",
     {"candidate": {"gradients": {"0.weight": [["a"] * 1000] * 1000}}}, 1_000_000, "float_type"),
    ("300k unknown fields", "/gradients", {f"field{i}": 0 for i in range(300_000)}, 300_000,
     "extra_forbidden"),
    ("60k bad base64 tensors", "/train",
     {"weights": {f"w{i}": {"shape": [1], "dtype": "float64", "data_b64": "AAAA"}
                  for i in range(60_000)}}, 60_000, "wrong_length"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "errors", "kind"), [m[1:] for m in MANY_ERRORS],
                         ids=[m[0] for m in MANY_ERRORS])  # fmt: skip
async def test_error_lists_are_capped_with_a_count_of_the_rest(
    client: httpx.AsyncClient,
    settings: Settings,
    path: str,
    body: Any,
    errors: int,
    kind: str | None,
) -> None:
    start = time.perf_counter()
    response = await post(client, path, body)
    elapsed = time.perf_counter() - start
    items = error_items(response, 422)
    *listed, rest = items
    assert len(listed) == settings.max_errors
    if kind is not None:
        assert {item["type"] for item in listed} == {kind}
    assert rest["type"] == "too_many_errors"
    assert rest["ctx"] == {"limit": "max_errors", "value": 25, "omitted": errors - 25}
    assert "GRADIENT_SERVICE_MAX_ERRORS" in rest["msg"]
    assert len(response.content) < 16_000  # the 400k names were a 658 MB answer
    assert elapsed < 10.0


async def test_an_unexpected_name_lists_the_expected_ones_once_and_short(
    client: httpx.AsyncClient,
) -> None:
    layers = [{"type": "linear", "in_features": 2, "out_features": 2}] * 20  # 40 names
    weights = {f"{i}.{kind}": [[0.5] * 2] * 2 if kind == "weight" else [0.5] * 2
               for i in range(20) for kind in ("weight", "bias")}  # fmt: skip
    body = {"network": {"layers": layers}, "weights": weights | {"extra": [1.0]}, "y": [0.0, 0.0]}
    response = await post(client, "/gradients", body)
    (item,) = error_items(response, 422)
    assert item["loc"] == ["body", "weights", "extra"]
    assert item["msg"].endswith("'0.weight', '0.bias', '1.weight', '1.bias', '2.weight', "
                                "'2.bias', '3.weight', '3.bias', … (40 in all)")  # fmt: skip


BRACKETS = [
    b"[" + b"[]," * 1_000_000 + b"[]]",  # 1.2 s and 64 MB to parse
    b'{"x": [' + b"{}," * 300_000 + b"{}]}",
    b'{"weights": {' + b",".join(b'"w%d": [0]' % i for i in range(250_000)) + b"}}",
]


@pytest.mark.parametrize("body", BRACKETS, ids=["1M [], top level", "300k {} in x", "250k arrays"])
async def test_a_body_of_many_arrays_or_objects_is_refused_before_parsing(
    client: httpx.AsyncClient, settings: Settings, body: bytes
) -> None:
    response, seconds, allocated = await measured(post(client, "/gradients", body))
    (item,) = error_items(response, 413)
    assert item["type"] == "body_too_complex"
    assert item["ctx"]["value"] == settings.max_json_containers < item["ctx"]["asked"]
    assert seconds < 0.5
    assert allocated < len(body) + 2**20  # the body itself, not its parsed form


# --- 4. an answer's size is estimated, and refused with how to ask for less ---------------------


# 2-200-tanh-200-tanh-1, 40,801 parameters: with learning_rate and trace, 6 copies in JSON (6 MB),
# to a limit of 2 MiB, as the 2-1410-1410-1 (2 million) is to the default 64 MiB.
NETWORK_40K = {"layers": mlp({"type": "tanh"}, (2, 200, 200, 1))}


class TestAnswerSize:
    @pytest.fixture
    def settings(self) -> Settings:
        return Settings(max_response_bytes=2 * 2**20)

    @pytest.mark.parametrize(
        "body",
        [
            {"learning_rate": 0.05, "trace": True},
            {"learning_rate": 0.05, "encoding": "base64"},
            {"engines": ["autograd", "manual", "numeric"], "x": [[0.1, 0.2]] * 4},
            {"dtype": "float32", "trace": True, "x": [[0.1, 0.2]] * 100, "encoding": "base64"},
            {"return_weights": True, "learning_rate": 0.05},
        ],
        ids=[
            "the issue's: lr and trace",
            "base64 with lr",
            "three engines",
            "float32 trace",
            "weights returned",
        ],
    )
    async def test_refused_with_options_that_really_fit(
        self, client: httpx.AsyncClient, settings: Settings, body: dict[str, Any]
    ) -> None:
        body = {"network": NETWORK_40K, "init_seed": 3, **body}
        start = time.perf_counter()
        (item,) = error_items(await post(client, "/gradients", body), 422)
        assert time.perf_counter() - start < 0.5  # refused before computing
        assert item["type"] == "limit_exceeded"
        assert item["ctx"]["limit"] == "max_response_bytes"
        assert item["ctx"]["value"] == settings.max_response_bytes < item["ctx"]["asked"]
        assert "GRADIENT_SERVICE_MAX_RESPONSE_BYTES" in item["msg"]
        fits = item["ctx"]["fits_with"]
        assert fits
        for option in fits:
            assert option["change"] in item["msg"]
            response = await post(client, "/gradients", asking_less(body, option["change"]))
            assert response.status_code == 200, (option, response.text[:300])
            assert len(response.content) <= option["bytes"] <= settings.max_response_bytes

    async def test_a_check_is_refused_and_fits_without_mismatches(
        self, client: httpx.AsyncClient
    ) -> None:
        """Five 100-wide layers, every candidate entry wrong and up to 1000 listed per
        quantity: the listed mismatches are half the answer."""
        network = {"layers": mlp({"type": "tanh"}, (2, 100, 100, 100, 100, 100, 1))}
        body = {"network": network, "candidate": {"gradients": {}}, "max_mismatches": 1000}
        limit = 1_200_000
        transport = httpx.ASGITransport(app=create_app(Settings(max_response_bytes=limit)))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as tight:
            (item,) = error_items(await post(tight, "/gradients/check", body), 422)
            (option,) = item["ctx"]["fits_with"]
            assert option["change"] == '"max_mismatches": 0'
            response = await post(tight, "/gradients/check", body | {"max_mismatches": 0})
        assert response.status_code == 200
        assert len(response.content) <= option["bytes"] <= limit

    @pytest.mark.parametrize("stream", [False, True], ids=["json", "ndjson"])
    async def test_a_training_run_is_refused_and_fits_with_fewer_epochs(
        self, client: httpx.AsyncClient, settings: Settings, stream: bool
    ) -> None:
        body = {"epochs": 5000, "data": {"generator": "seed", "n": 1}}  # 5000 × 400 bytes
        headers = {"accept": "application/x-ndjson"} if stream else {}
        (item,) = error_items(await post(client, "/train", body, **headers), 422)
        assert item["loc"] == ["body", "epochs"]
        (option,) = item["ctx"]["fits_with"]
        epochs = int(option["change"].split(": ")[1].replace(",", ""))
        assert 1000 < epochs < 5000
        response = await post(client, "/train", body | {"epochs": epochs}, **headers)
        assert response.status_code == 200
        assert len(response.content) <= settings.max_response_bytes


def asking_less(body: dict[str, Any], change: str) -> dict[str, Any]:
    """`body` with the changes an error's `fits_with` names, as a client would make them."""
    less = dict(body)
    for part in change.split(", "):
        if part.startswith("no "):
            less.pop(part[4:-1])
        else:
            less |= json.loads("{" + part + "}")
    return less


ANSWERS = [
    {},
    {"encoding": "base64"},
    {"x": [0.3, -0.2], "trace": True, "learning_rate": 0.1},
    {"x": [[0.3, -0.2]] * 7, "trace": True, "learning_rate": 0.1, "encoding": "base64"},
    {"dtype": "float32", "x": [[1e-30, 1e5]] * 3, "trace": True},
    {"engines": ["autograd", "manual", "numeric"], "x": [[0.3, -0.2]] * 5},
    {"return_weights": True, "learning_rate": 0.1, "x": [[0.3, -0.2]] * 3},
    {"network": {"layers": mlp({"type": "relu"}, (2, 64, 3))}, "y": [[0.0] * 3] * 64,
     "x": [[1e-300, -2.2250738585072014e-308]] * 64, "learning_rate": 1e-300, "trace": True},
]  # fmt: skip


@pytest.mark.parametrize("body", ANSWERS, ids=range(len(ANSWERS)))
async def test_an_answer_is_never_larger_than_its_estimate(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    tight = create_app(Settings(max_response_bytes=1))  # refuses everything: the estimate shows
    transport = httpx.ASGITransport(app=tight)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as refusing:
        (item,) = error_items(await post(refusing, "/gradients", body), 422)
    answer = await post(client, "/gradients", body)
    assert answer.status_code == 200, answer.text[:300]
    assert len(answer.content) <= item["ctx"]["asked"] < 2 * len(answer.content) + 16_000


def test_an_epoch_report_is_never_longer_than_its_estimate() -> None:
    extreme = {"type": "epoch", "epoch": 2**53 - 1, "step": 2**53 - 1,
               "loss": {"autograd": -2.2250738585072014e-308, "manual": -2.2250738585072014e-308},
               "weight_deviation": {"max_abs": -2.2250738585072014e-308,
                                    "max_rel": -2.2250738585072014e-308, "agree": False},
               "elapsed_ms": -2.2250738585072014e-308,
               "engine_ms": {"autograd": -2.2250738585072014e-308,
                             "manual": -2.2250738585072014e-308}}  # fmt: skip
    assert len(orjson.dumps(extreme)) + 1 <= EPOCH_BYTES  # with its newline


# --- 2. a training run's cost counts every step ------------------------------------------------

ONE_WIDE = {"type": "linear", "in_features": 1, "out_features": 1, "bias": False}
CHEAP_MATHS = [
    ("the issue's: 1 parameter, 1 sample, 20M epochs",
     {"network": {"layers": [ONE_WIDE]}, "data": {"x": [[0.5]], "y": [[0.1]]},
      "epochs": 20_000_000}),
    ("1 parameter, 20 samples, 1M epochs",
     {"network": {"layers": [ONE_WIDE]}, "data": {"x": [[0.5]] * 20, "y": [[0.1]] * 20},
      "epochs": 1_000_000}),
    ("64 layers, 32 parameters, 600k epochs",
     {"network": {"layers": [ONE_WIDE, {"type": "tanh"}] * 32},
      "data": {"x": [[0.5]], "y": [[0.1]]}, "epochs": 600_000}),
]  # fmt: skip


@pytest.mark.parametrize("body", [c[1] for c in CHEAP_MATHS], ids=[c[0] for c in CHEAP_MATHS])
async def test_a_run_cheap_in_maths_but_long_in_steps_is_refused(
    client: httpx.AsyncClient, settings: Settings, body: dict[str, Any]
) -> None:
    start = time.perf_counter()
    (item,) = error_items(await post(client, "/train", body), 422)
    assert time.perf_counter() - start < 1.0
    assert (item["type"], item["loc"]) == ("limit_exceeded", ["body", "epochs"])
    assert item["ctx"]["limit"] == "max_training_cost"
    assert item["ctx"]["value"] == settings.max_training_cost < item["ctx"]["asked"]
    # The old count, epochs × samples × parameters, let each through (its limit was 20 million).
    cost = Cost.of(TrainRequest.model_validate(body))
    assert cost.epochs * cost.samples * cost.parameters <= 20_000_000


def test_the_default_cost_allows_about_two_minutes_of_the_seed_experiment() -> None:
    """1000 epochs of the seed (87 ms each in the README) fit; 10,000 do not."""
    settings = Settings()
    for epochs, fits in ((1000, True), (10_000, False)):
        cost = Cost.of(TrainRequest.model_validate({"epochs": epochs})).total
        assert (cost <= settings.max_training_cost) is fits


# --- 5. lone surrogates: every answer and log line stays encodable ------------------------------

SURROGATES = [
    ("a weight's name", "/gradients", r'{"weights": {"\ud800": [1]}}', 422,
     ["body", "weights", "\\ud800"]),
    ("a candidate's name", "/gradients/check", r'{"candidate": {"gradients": {"a\udfff": [1]}}}',
     200, None),
    ("a field's name", "/gradients", r'{"x\ud83d": 1}', 422, ["body"]),
    ("a layer's type", "/gradients", r'{"network": {"layers": [{"type": "\udc00"}]}}', 422,
     ["body", "network", "layers", 0]),
    ("a number in x", "/gradients", r'{"x": ["\ud800"]}', 422, ["body", "x", 0]),
    ("the loss of a training run", "/train", r'{"loss": "\ud800sse"}', 422, ["body", "loss"]),
]  # fmt: skip


@pytest.mark.parametrize(("path", "text", "status", "loc"), [s[1:] for s in SURROGATES],
                         ids=[s[0] for s in SURROGATES])  # fmt: skip
async def test_a_lone_surrogate_anywhere_gets_an_encodable_answer_and_log_line(
    client: httpx.AsyncClient,
    capsys: pytest.CaptureFixture[str],
    path: str,
    text: str,
    status: int,
    loc: list | None,
) -> None:
    """`text` spells its surrogate as a JSON escape (valid JSON, decoded to a lone surrogate);
    the answer writes it back as the escape's text."""
    response = await post(client, path, text.encode())
    assert response.status_code == status, response.text[:300]
    answer = orjson.loads(response.content)  # strict UTF-8: no lone surrogate came back
    if loc is not None:
        assert loc in [item["loc"] for item in answer["detail"]]
    else:
        assert answer["report"]["unexpected"] == ["a\\udfff"]
    for line in capsys.readouterr().err.splitlines():
        orjson.loads(line)


async def test_a_surrogate_sent_as_raw_bytes_gets_an_encodable_answer(
    client: httpx.AsyncClient,
) -> None:
    """Not UTF-8, so orjson refuses it; Python's json reads it (surrogatepass) and names it."""
    text = '{"weights": {"\ud800": [1]}}'
    response = await post(client, "/gradients", text.encode("utf-8", "surrogatepass"))
    items = error_items(response, 422)
    assert ["body", "weights", "\\ud800"] in [item["loc"] for item in items]


def test_the_log_formatter_writes_lone_surrogates_as_escapes() -> None:
    record = logging.LogRecord("gradient_service", logging.INFO, __file__, 1,
                               "name %s", ("\ud800",), None)  # fmt: skip
    record.fields = {"path": "/x\udfff", "\ud83d": 1}
    line = orjson.loads(JSONFormatter().format(record))
    assert line["message"] == "name \\ud800"
    assert (line["path"], line["\\ud83d"]) == ("/x\\udfff", 1)


# --- 8. what used to be a 500 ----------------------------------------------------------------

NO_PARAMETERS = [
    [{"type": "relu"}],
    [{"type": "identity"}, {"type": "tanh"}],
    [{"type": "softplus", "beta": 2.0}],
]


@pytest.mark.parametrize("layers", NO_PARAMETERS, ids=["relu", "identity, tanh", "softplus"])
async def test_training_a_network_without_parameters_is_a_422(
    client: httpx.AsyncClient, layers: list[dict[str, Any]]
) -> None:
    body = {"network": {"layers": layers}, "data": {"x": [[0.5, 1.0]], "y": [[1.0, 0.5]]}}
    (item,) = error_items(await post(client, "/train", body), 422)
    assert (item["type"], item["loc"]) == ("no_parameters", ["body", "network", "layers"])


@pytest.mark.parametrize(
    "query",
    [{"n": 2**64}, {"n": 2**53}, {"n": 10**30}, {"seed": 2**64}, {"n": -(2**64)}],
    ids=["n 2⁶⁴", "n 2⁵³", "n 1e30", "seed 2⁶⁴", "n −2⁶⁴"],
)
async def test_a_data_set_with_huge_numbers_is_a_422(
    client: httpx.AsyncClient, query: dict[str, int]
) -> None:
    items = error_items(await client.get("/datasets/seed", params=query), 422)
    assert [item["loc"][:2] for item in items] == [["query", next(iter(query))]]


# --- 9. a 500 tells the client the connection is closed ----------------------------------------


async def broken_dependency() -> None:
    raise RuntimeError("a bug in a dependency")


@pytest.fixture
def broken_app(app: FastAPI) -> FastAPI:
    async def async_route() -> None:
        raise RuntimeError("a bug")

    def sync_route() -> None:  # run in the thread pool
        raise ValueError("a bug")

    async def with_dependency(_: None = Depends(broken_dependency)) -> None:
        return None

    app.add_api_route("/async", async_route)
    app.add_api_route("/sync", sync_route, methods=["POST"])
    app.add_api_route("/dependency", with_dependency)
    return app


@pytest.mark.parametrize(("method", "path"), [("GET", "/async"), ("POST", "/sync"),
                                              ("GET", "/dependency")])  # fmt: skip
async def test_a_500_says_connection_close(broken_app: FastAPI, method: str, path: str) -> None:
    transport = httpx.ASGITransport(app=broken_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.request(method, path)
    (item,) = error_items(response, 500)
    assert item["type"] == "internal_error"
    assert response.headers["connection"] == "close"


# --- 11. a body that is not plain JSON ---------------------------------------------------------

POSTS = ["/gradients", "/gradients/check", "/train"]
NOT_JSON = [
    ("curl -d", "application/x-www-form-urlencoded", b"x=1"),
    ("text", "text/plain", b"{}"),
    ("xml", "application/xml", b"<x/>"),
    ("multipart", "multipart/form-data; boundary=b", b"--b--"),
]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(("content_type", "body"), [n[1:] for n in NOT_JSON],
                         ids=[n[0] for n in NOT_JSON])  # fmt: skip
async def test_a_body_that_is_not_json_is_a_415_naming_the_type(
    client: httpx.AsyncClient, path: str, content_type: str, body: bytes
) -> None:
    response = await client.post(path, content=body, headers={"content-type": content_type})
    (item,) = error_items(response, 415)
    assert (item["type"], item["loc"]) == ("unsupported_media_type", ["header", "Content-Type"])
    assert item["ctx"] == {"expected": "application/json", "got": content_type}
    assert "application/json" in item["msg"]


@pytest.mark.parametrize("path", POSTS)
async def test_a_body_without_a_content_type_is_a_415(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, content=b"{}")  # httpx sends no Content-Type for bytes
    (item,) = error_items(response, 415)
    assert item["ctx"]["got"] is None


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate, gzip"])
async def test_a_compressed_body_is_a_415_saying_so(
    client: httpx.AsyncClient, path: str, encoding: str
) -> None:
    response = await post(client, path, b"\x1f\x8b\x08\x00", **{"content-encoding": encoding})
    (item,) = error_items(response, 415)
    assert item["type"] == "unsupported_content_encoding"
    assert item["msg"].startswith(f"Content-Encoding {encoding} is not supported")
    assert response.headers["connection"] == "close"  # the body is left unread


@pytest.mark.parametrize(
    "headers",
    [{"content-type": "application/json; charset=utf-8"},
     {"content-type": "application/merge-patch+json"},
     {"content-type": "Application/JSON", "content-encoding": "identity"}],
    ids=["charset", "+json", "identity"],
)  # fmt: skip
async def test_json_in_its_other_spellings_is_read(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/gradients", content=b"{}", headers=headers)
    assert response.status_code == 200
