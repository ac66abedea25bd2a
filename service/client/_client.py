"""A typed Python client for gradient-service, synchronous and asynchronous, on httpx.

    from service.client import GradientClient

    with GradientClient("http://127.0.0.1:8000") as client:
        answer = client.gradients({"x": [0.5, -1.0]})  # a GradientsResponse
        print(answer.loss, answer.agree, answer.gradients["4.bias"])

`AsyncGradientClient` has the same methods, to be awaited, and is `async with`-able. A request is
a model from service.schemas.models or a plain dict; a dict is sent as it is, so that the
service checks it and names any bad field, and may hold NumPy arrays or torch tensors (`{"weights":
net.state_dict(), ...}`). Results are the same pydantic models the service answers with.
Everything raised is a `GradientServiceError`; service.client.exceptions draws the hierarchy.
"""

import json
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from service.client.exceptions import (
    APIError,
    RequestRejected,
    ServerError,
    TransportError,
    UnexpectedResponse,
)
from service.schemas.responses import (
    CheckResponse,
    ErrorDetail,
    ErrorResponse,
    GradientsResponse,
    Health,
    TrainResponse,
)

if TYPE_CHECKING:  # the request models hold NumPy arrays; the client sends them as JSON
    from service.schemas.models import CheckRequest, GradientsRequest, TrainRequest

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0  # seconds, for connecting, sending and reading each
API_KEY_HEADER = "X-API-Key"
JSON = {"Content-Type": "application/json"}

Result = TypeVar("Result", bound=BaseModel)
Example = dict[str, Any]  # a request body as JSON gives it
Body = BaseModel | Mapping[str, Any]


def _headers(api_key: str | None) -> dict[str, str]:
    return {API_KEY_HEADER: api_key} if api_key else {}


def _encode(body: Body | None) -> bytes | None:
    """JSON for the body. A dict may hold arrays and tensors (anything with `.tolist()`) and
    non-finite numbers, sent as NaN or Infinity for the service to name the field."""
    if body is None:
        return None
    if isinstance(body, BaseModel):
        return body.model_dump_json(exclude_unset=True).encode()  # what the caller chose, only
    return json.dumps(body, default=_tolist).encode()


def _tolist(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _no_answer(method: str, url: httpx.URL, exc: httpx.TransportError) -> TransportError:
    return TransportError(f"{method} {url}: no answer: {exc or type(exc).__name__}")


def _result(response: httpx.Response, model: type[Result] | None) -> Any:
    """The answer read as `model`, or as plain JSON (model None)."""
    request = response.request
    if response.is_error:
        raise _api_error(response)
    try:
        if model is None:
            return response.json()
        return model.model_validate_json(response.content)
    except (ValidationError, ValueError) as exc:
        answer = f"{request.method} {request.url} answered {response.status_code}"
        wanted = "JSON" if model is None else model.__name__
        raise UnexpectedResponse(f"{answer}, not a {wanted}: {exc}") from exc


def _api_error(response: httpx.Response) -> APIError:
    try:
        detail = ErrorResponse.model_validate_json(response.content).detail
    except ValidationError:  # not the service's JSON, e.g. a proxy's error page
        text = response.text.strip()[:200] or response.reason_phrase
        detail = [ErrorDetail(type="http_error", loc=[], msg=text)]
    kind = RequestRejected if response.is_client_error else ServerError
    return kind(response.status_code, detail, response.request.method, str(response.request.url))


class GradientClient:
    """The service at `base_url`; `api_key` is sent as the X-API-Key header when given.

    `transport` replaces the network, e.g. with `httpx.MockTransport` in tests.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, headers=_headers(api_key), transport=transport
        )

    def gradients(self, request: "GradientsRequest | Mapping[str, Any]") -> GradientsResponse:
        """POST /gradients: loss, prediction and gradients from every engine, compared."""
        return self._call("POST", "/gradients", GradientsResponse, request)

    def check(self, request: "CheckRequest | Mapping[str, Any]") -> CheckResponse:
        """POST /gradients/check: grade the request's candidate against the reference."""
        return self._call("POST", "/gradients/check", CheckResponse, request)

    def train(self, request: "TrainRequest | Mapping[str, Any]") -> TrainResponse:
        """POST /train: both engines trained side by side; the whole run in one answer."""
        return self._call("POST", "/train", TrainResponse, request)

    def example(self) -> Example:
        """GET /examples/seed: the course assignment's worked example, as a request body to
        send (or change) as it is."""
        return self._call("GET", "/examples/seed", None)

    def health(self) -> Health:
        """GET /healthz."""
        return self._call("GET", "/healthz", Health)

    def _call(
        self, method: str, path: str, model: type[Result] | None, body: Body | None = None
    ) -> Any:
        try:
            response = self._http.request(method, path, content=_encode(body), headers=JSON)
        except httpx.TransportError as exc:
            raise _no_answer(method, self._http.base_url.join(path), exc) from exc
        return _result(response, model)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncGradientClient:
    """`GradientClient` for asyncio: the same methods, awaited; `async with` closes it."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, headers=_headers(api_key), transport=transport
        )

    async def gradients(self, request: "GradientsRequest | Mapping[str, Any]") -> GradientsResponse:
        return await self._call("POST", "/gradients", GradientsResponse, request)

    async def check(self, request: "CheckRequest | Mapping[str, Any]") -> CheckResponse:
        return await self._call("POST", "/gradients/check", CheckResponse, request)

    async def train(self, request: "TrainRequest | Mapping[str, Any]") -> TrainResponse:
        return await self._call("POST", "/train", TrainResponse, request)

    async def example(self) -> Example:
        return await self._call("GET", "/examples/seed", None)

    async def health(self) -> Health:
        return await self._call("GET", "/healthz", Health)

    async def _call(
        self, method: str, path: str, model: type[Result] | None, body: Body | None = None
    ) -> Any:
        try:
            response = await self._http.request(method, path, content=_encode(body), headers=JSON)
        except httpx.TransportError as exc:
            raise _no_answer(method, self._http.base_url.join(path), exc) from exc
        return _result(response, model)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
