"""How arrays look on the wire: nested lists of finite numbers, or base64 tensors; and the names
a request and a response share (dtypes, engines). Pure pydantic: the Python client reads responses
with these, without NumPy."""

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag
from typing_extensions import TypeAliasType

from service.schemas.constraints import MAX_DIMS, Finite, Natural, Strict

Matrix = list[list[Finite]]


class Base64Tensor(Strict):
    """A compact array: little-endian bytes in row-major order, base64-encoded (like the Open
    Inference Protocol's binary tensors). Accepted wherever an array is; chosen for a response's
    arrays with `"encoding": "base64"`."""

    shape: Annotated[list[Natural], Field(max_length=MAX_DIMS)]
    dtype: Literal["float64", "float32"]
    data_b64: str = Field(
        description="base64 of the raw little-endian values", pattern=r"^[A-Za-z0-9+/]*={0,2}$"
    )


# Any nesting of finite numbers, as the JSON Schema shows an array of any shape.
def _number_or_list(value: Any) -> str:
    return "list" if isinstance(value, list) else "number"


Nested = TypeAliasType(
    "Nested",
    Annotated[
        Annotated[Finite, Tag("number")] | Annotated[list["Nested"], Tag("list")],
        Discriminator(_number_or_list),
    ],
)


def _nesting(value: Any) -> str:
    """Tell a number, nested lists and a base64 tensor apart, so an error names one form only."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    if isinstance(value, dict | Base64Tensor):
        return "base64"
    return "list"


Tensor = Annotated[
    Annotated[list[Nested], Tag("list")] | Annotated[Base64Tensor, Tag("base64")],
    Discriminator(_nesting),
]


TensorOrNumber = Annotated[
    Annotated[Finite, Tag("number")]
    | Annotated[list[Nested], Tag("list")]
    | Annotated[Base64Tensor, Tag("base64")],
    Discriminator(_nesting),
]


DType = Literal["float64", "float32"]


EngineName = Literal["autograd", "manual", "numeric"]
