"""Reusable field types: finite numbers, bounded integers, pairs — each spelt once.

Models are strict: numbers must be JSON numbers (`false` and `"1.0"` are not), non-finite
numbers are refused wherever they appear.
"""

from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, ValidationError

if TYPE_CHECKING:
    from service.core.config import Settings

Finite = Annotated[float, Field(allow_inf_nan=False)]
PositiveFinite = Annotated[Finite, Field(gt=0)]

# The largest integer every JSON client reads and writes exactly (a float64 holds it): the upper
# bound of every integer field, so an integer in a request is never rounded on its way here.
MAX_INTEGER = 2**53 - 1
MAX_NAME = 64  # an unknown field's name is matched against the valid ones up to this length


def _integral(value: Any) -> Any:
    """4.0 is the integer 4, as JSON Schema has it (up to MAX_INTEGER, where floats are exact)."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_INTEGER:
        return int(value)
    return value


# Last in an integer field's Annotated (after its bounds, which the JSON Schema then shows):
# the field takes a JSON integer or an integral number (4 or 4.0), never 4.5, "4" or true.
Integral = BeforeValidator(_integral)

Count = Annotated[int, Field(ge=1, le=MAX_INTEGER), Integral]  # a width, a size: at least 1
Natural = Annotated[int, Field(ge=0, le=MAX_INTEGER), Integral]  # a seed, a padding: from 0
Axis = Annotated[int, Field(ge=-64, le=64), Integral]  # a dim, negative from the end


def _int_or_sequence(value: Any) -> str:
    """Tell an int from a JSON array, so an error names one of the two forms only."""
    return "sequence" if isinstance(value, list | tuple) else "int"


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value  # JSON arrays are lists


def _as_pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


def _as_sizes(value: int | tuple[int, ...]) -> tuple[int, ...]:
    return (value,) if isinstance(value, int) else value


# An int, or a pair [height, width], as torch's 2-D layers take them; always a pair once read.
CountPair = Annotated[
    Annotated[Count, Tag("int")]
    | Annotated[tuple[Count, Count], BeforeValidator(_as_tuple), Tag("sequence")],
    Discriminator(_int_or_sequence),
    AfterValidator(_as_pair),
]
NaturalPair = Annotated[
    Annotated[Natural, Tag("int")]
    | Annotated[tuple[Natural, Natural], BeforeValidator(_as_tuple), Tag("sequence")],
    Discriminator(_int_or_sequence),
    AfterValidator(_as_pair),
]
# A shape: an int n for [n], or a list of sizes, as nn.LayerNorm takes it; a tuple once read.
Sizes = Annotated[
    Annotated[Count, Tag("int")]
    | Annotated[
        tuple[Count, ...],
        Field(min_length=1, max_length=8),
        BeforeValidator(_as_tuple),
        Tag("sequence"),
    ],
    Discriminator(_int_or_sequence),
    AfterValidator(_as_sizes),
]


# --- one request's validation: its limits and its errors ---------------------------------------


@dataclass
class Bounds:
    """One request's validation context: its limits, and how many errors it has made."""

    max_dimension: int  # no array the service takes is larger in any dimension
    dimension_limit: str  # the setting behind max_dimension, for the error message
    max_layers: int
    max_errors: int
    reported: int = 0
    omitted: int = 0
    # Unknown fields' nearest valid names, by the object they were found in (kept here, so
    # that no other object takes its id while the request is read).
    suggestions: dict[int, tuple[dict[Any, Any], dict[str, str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: "Settings") -> "Bounds":
        batch, width = settings.max_batch, settings.max_width
        limit = "max_batch" if batch >= width else "max_width"
        return cls(max(batch, width), limit, settings.max_layers, settings.max_errors)

    def allow(self, found: int) -> int:
        """How many of `found` new errors may be reported; the rest are counted as omitted."""
        allowed = min(found, max(self.max_errors - self.reported, 0))
        self.reported += allowed
        self.omitted += found - allowed
        return allowed

    def suggest(self, where: dict[Any, Any], name: str, nearest: str) -> None:
        """`name`, unknown in the object `where`, is most likely `nearest`, a field there."""
        self.suggestions.setdefault(id(where), (where, {}))[1][name] = nearest

    def nearest(self, where: Any, name: str) -> str | None:
        """The valid name suggested for `name` in the object `where`, if any."""
        found, names = self.suggestions.get(id(where), (None, {}))
        return names.get(name) if found is where else None


def refuse(bounds: Bounds | None, errors: list[InitErrorDetails], found: int | None = None) -> None:
    """Raise the first of `errors` that `bounds` allows (`found` of them in all); if it allows
    none, return: the request already fails on the errors reported before."""
    found = len(errors) if found is None else found
    allowed = found if bounds is None else bounds.allow(found)
    if allowed:
        raise ValidationError.from_exception_data("array", errors[:allowed])


MAX_DIMS = 6  # axes of any array a request holds: a batch of images is [N, C, H, W]


class Strict(BaseModel):
    """Every request model: strict types, unknown fields refused, frozen once read."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _few_unknown_fields(cls, data: Any, info: ValidationInfo) -> Any:
        """Pydantic makes an error of every unknown field, each holding its value: past
        max_errors of them only the first are made, and the rest counted."""
        bounds = info.context
        if not (isinstance(bounds, Bounds) and isinstance(data, dict)):
            return data
        unknown = [key for key in data if key not in cls.model_fields]
        for key in unknown[: bounds.max_errors]:
            if isinstance(key, str) and len(key) <= MAX_NAME:  # a misspelling, not an attack
                close = get_close_matches(key, list(cls.model_fields), n=1, cutoff=0.75)
                if close:
                    bounds.suggest(data, key, close[0])
        if len(unknown) <= bounds.max_errors:
            return data
        errors = [
            InitErrorDetails(type="extra_forbidden", loc=(key,), input=data[key])
            for key in unknown[: bounds.max_errors]
        ]
        refuse(bounds, errors, len(unknown))
        return {key: value for key, value in data.items() if key in cls.model_fields}
