"""The Python client: typed answers from the live server, sync and async, and every error kind."""

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from service.client import (
    APIError,
    AsyncGradientClient,
    GradientClient,
    GradientServiceError,
    RequestRejected,
    ServerError,
    TransportError,
    UnexpectedResponse,
)
from service.client.exceptions import dotted
from service.core import seed
from service.schemas.models import GradientsRequest
from service.schemas.responses import CheckResponse, GradientsResponse, Health
from tests.conftest import free_port

ONE_LINEAR = {
    "network": {"layers": [{"type": "linear", "in_features": 2, "out_features": 1}]},
    "weights": {"0.weight": [[0.5, -1.25]], "0.bias": [0.125]},
    "x": [2.0, 3.0],
    "y": 1.0,
}


@pytest.mark.live
def test_sync_client_against_the_live_server(live_url: str) -> None:
    with GradientClient(live_url) as client:
        assert client.health() == Health(
            status="ok", version="0.1.0", engines=["autograd", "manual", "numeric"]
        )
        example = client.example()
        assert example == seed.request_body()  # a body to send as it is, or to change

        answer = client.gradients(example)
        assert isinstance(answer, GradientsResponse)
        assert answer.agree
        assert answer.loss == pytest.approx(0.9877350778792013, rel=1e-15)

        by_hand = client.gradients(ONE_LINEAR)
        assert (by_hand.loss, by_hand.gradients["0.bias"]) == (13.140625, [-7.25])

        candidate = {"gradients": {"0.weight": [[-14.5, -21.75]], "0.bias": [7.25]}}
        graded = client.check({**ONE_LINEAR, "candidate": candidate})
        assert isinstance(graded, CheckResponse)
        assert graded.report.verdict == "fail"
        assert graded.report.gradients["0.bias"].status == "mismatch"


@pytest.mark.live
async def test_async_client_against_the_live_server(live_url: str) -> None:
    async with AsyncGradientClient(live_url, timeout=10) as client:
        assert (await client.health()).status == "ok"
        example = await client.example()
        answer = await client.gradients(example)
        assert answer.agree
        candidate = {"gradients": answer.gradients, "loss": answer.loss}
        graded = await client.check({**example, "candidate": candidate})
        assert (graded.report.verdict, graded.report.score) == ("pass", 1.0)


@pytest.mark.live
def test_a_422_names_the_field(live_url: str) -> None:
    bad = {**ONE_LINEAR, "weights": {"0.weight": [[0.5, -1.25]], "0.bias": [0.125], "9.bias": [1]}}
    with GradientClient(live_url) as client, pytest.raises(RequestRejected) as caught:
        client.gradients(bad)
    error = caught.value
    assert error.status_code == 422
    assert [item.loc for item in error.detail] == [["body", "weights", "9.bias"]]
    assert isinstance(error, APIError)
    assert isinstance(error, GradientServiceError)
    text = str(error)
    assert text.startswith(f"POST {live_url}/gradients answered 422:\n  body.weights.9.bias: ")


async def test_arrays_and_non_finite_numbers_in_a_dict(app: FastAPI) -> None:
    """NumPy arrays are sent as lists; NaN is sent for the service to name its field."""
    transport = httpx.ASGITransport(app=app)
    async with AsyncGradientClient("http://testserver", transport=transport) as c:
        answer = await c.gradients({**ONE_LINEAR, "x": np.array([2.0, 3.0])})
        assert answer.loss == 13.140625
        with pytest.raises(RequestRejected) as caught:
            await c.gradients({**ONE_LINEAR, "x": [2.0, float("nan")]})
    assert caught.value.detail[0].loc == ["body", "x", 1]
    assert "body.x[1]: Input should be a finite number [finite_number]" in str(caught.value)


def test_connection_refused_is_a_transport_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with GradientClient(url, timeout=5) as client, pytest.raises(TransportError) as caught:
        client.health()
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert str(caught.value).startswith(f"GET {url}/healthz: no answer: ")


def mock(handler: httpx.MockTransport) -> GradientClient:
    return GradientClient("http://service", transport=handler, api_key="secret")


def test_a_timeout_is_a_transport_error() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with mock(httpx.MockTransport(slow)) as client, pytest.raises(TransportError) as caught:
        client.gradients({})
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)


def test_a_5xx_without_json_is_a_server_error() -> None:
    def proxy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    with mock(httpx.MockTransport(proxy)) as client, pytest.raises(ServerError) as caught:
        client.health()
    assert caught.value.status_code == 502
    assert caught.value.detail[0].msg == "<html>Bad Gateway</html>"


def test_a_success_that_is_not_the_api_is_an_unexpected_response() -> None:
    def login_page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>Sign in</html>")

    with mock(httpx.MockTransport(login_page)) as client, pytest.raises(UnexpectedResponse):
        client.health()


def test_the_api_key_and_the_json_body_are_sent() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"detail": [{"type": "x", "loc": [], "msg": "no"}]})

    with mock(httpx.MockTransport(record)) as client, pytest.raises(RequestRejected):
        client.gradients(GradientsRequest(x=[1.0, 2.0]))
    [request] = seen
    assert request.headers["X-API-Key"] == "secret"
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == b'{"x":[1.0,2.0]}'  # only the fields the caller set


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        (["body", "x", 3], "body.x[3]"),
        (["body", "weights", "0.bias"], "body.weights.0.bias"),
        ([], "(request)"),
    ],
)
def test_dotted_locations(loc: list[str | int], text: str) -> None:
    assert dotted(loc) == text
