"""What the Python client (service.client) raises. Catch `GradientServiceError` for all of them::

    GradientServiceError              anything that kept a call from returning its result
    ├── APIError                      the service answered with an error status
    │   ├── RequestRejected      4xx  the request is wrong: `detail` names each field and why
    │   └── ServerError          5xx  the service (or a proxy in front of it) failed
    ├── TransportError                no answer: connection refused, DNS, timeout (wraps httpx's)
    └── UnexpectedResponse            an answer that is not what the API promises (a proxy's page)

`APIError.detail` holds the service's error items, `{type, loc, msg}` each (see ErrorDetail);
`str()` lists them one per line, `loc` written as a dotted path into the request.
"""

from service.schemas.responses import ErrorDetail


class GradientServiceError(Exception):
    """Base class of everything the client raises."""


class APIError(GradientServiceError):
    def __init__(self, status_code: int, detail: list[ErrorDetail], method: str, url: str) -> None:
        self.status_code = status_code
        self.detail = detail
        self.method = method
        self.url = url
        lines = [f"{method} {url} answered {status_code}:"]
        lines += [f"  {dotted(item.loc)}: {item.msg} [{item.type}]" for item in detail]
        super().__init__("\n".join(lines))


class RequestRejected(APIError):
    """A 4xx: fix the request as `detail` says."""


class ServerError(APIError):
    """A 5xx: the request may be fine; try again later or report it."""


class TransportError(GradientServiceError):
    """No HTTP answer at all; `__cause__` is the httpx exception."""


class UnexpectedResponse(GradientServiceError):
    """A success status whose body is not the documented JSON."""


def dotted(loc: list[str | int]) -> str:
    """["body", "x", 3] → "body.x[3]"; an empty loc is the request as a whole."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(request)"
