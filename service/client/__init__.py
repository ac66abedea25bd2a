"""The Python client: `GradientClient` and `AsyncGradientClient`, and the errors they raise
(`service.client.exceptions` draws the hierarchy)."""

from service.client._client import DEFAULT_URL, AsyncGradientClient, GradientClient
from service.client.exceptions import (
    APIError,
    GradientServiceError,
    RequestRejected,
    ServerError,
    TransportError,
    UnexpectedResponse,
)

__all__ = [
    "DEFAULT_URL",
    "APIError",
    "AsyncGradientClient",
    "GradientClient",
    "GradientServiceError",
    "RequestRejected",
    "ServerError",
    "TransportError",
    "UnexpectedResponse",
]
