"""The service's exceptions: pure, so any layer may raise them; `service.api.handlers` turns
each into `{"detail": [...]}`.

The hierarchy::

    ServiceError                 anything the service refuses, with a status and a detail list
    └── InvalidRequest      422  the request is well-formed JSON but not a valid problem
        ├── LimitExceeded   422  a configured size limit; names the limit, its value, the ask
        └── NonFiniteResult 422  the maths overflowed; names the engine and the quantity

Each detail item is `{"type", "loc", "msg"}` (FastAPI's format), `loc` a path into the request
such as `["body", "weights", "0.weight"]`.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from service.core.config import limit_msg

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ErrorItem:
    loc: Loc
    msg: str
    type: str = "value_error"
    ctx: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {"type": self.type, "loc": list(self.loc), "msg": self.msg}
        if self.ctx:
            item["ctx"] = self.ctx
        return item


class ServiceError(Exception):
    status_code = 400

    def __init__(self, errors: Sequence[ErrorItem], omitted: int = 0) -> None:
        """`omitted`: how many more errors were found and left out of `errors`."""
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors))
        self.errors = list(errors)
        self.omitted = omitted


class InvalidRequest(ServiceError):
    status_code = 422


class LimitExceeded(InvalidRequest):
    def __init__(self, loc: Loc, limit: str, value: int, asked: int, what: str) -> None:
        msg = limit_msg(what, asked, value, limit)
        ctx = {"limit": limit, "value": value, "asked": asked}
        super().__init__([ErrorItem(loc, msg, "limit_exceeded", ctx)])


class NonFiniteResult(InvalidRequest):
    def __init__(self, engine: str, quantity: str) -> None:
        msg = (
            f"the {engine} engine's {quantity} overflowed to a non-finite value; "
            "scale the weights or inputs down"
        )
        super().__init__([ErrorItem(("body",), msg, "non_finite_result", {"quantity": quantity})])
