"""A request's arrays, from parsed JSON to float64 NumPy arrays: measured first, then converted
a chunk at a time.

x, y, the weights, a candidate's arrays and a training set are most of a request's bytes.
Checked by pydantic number by number they held the GIL for seconds (1.7 s for a 15 MiB
candidate, the event loop frozen all along), made a Python float of every number, and an error of
every bad one (a million `true`s made a 150 MB answer). Here every array is

1. measured before anything is allocated: its nesting level by level (a list's length is free
   to read, and every entry of it cost the client body bytes), and a base64 tensor's shape,
   which costs the client nothing, against the largest dimension the service ever takes,
   max(MAX_BATCH, MAX_WIDTH), before its data is decoded: a shape of [80000000, 0] is refused
   at once rather than becoming 80 million empty rows;
2. converted with NumPy CHUNK numbers at a time, each chunk first checked to hold JSON numbers
   only; Python runs between chunks, so a worker thread converting a large array leaves the
   event loop free to answer meanwhile;
3. checked for non-finite numbers (NaN and Infinity arrive only through the lenient parser).

Errors carry pydantic's types and messages (`float_type`, `finite_number`, `list_type`) and the
element's index, so they read like every other validation error; one request's validation makes
at most `Bounds.max_errors` of them and only counts the rest.
"""

import math
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pybase64
from pydantic_core import InitErrorDetails, PydanticCustomError

from service.core.config import limit_msg
from service.schemas.constraints import MAX_DIMS, Bounds, refuse

CHUNK = 16_384  # numbers per NumPy call, well under a millisecond: the GIL changes hands often
NUMBERS = frozenset({int, float})  # JSON numbers; `true` is a bool, refused like any non-number
FLOAT64_MAX = float(np.finfo(np.float64).max)
EMPTY = np.empty(0)  # stands in for an array whose errors went unreported (the request fails)
NONE_BAD = np.empty(0, dtype=np.intp)


@dataclass(frozen=True)
class Ragged:
    """A candidate's array whose rows differ in length or depth: a finding, not an error."""

    values: list[Any]


def details(error: Any) -> InitErrorDetails:
    """One of pydantic's reported errors (`ValidationError.errors()`), to be raised again."""
    found = InitErrorDetails(type=error["type"], loc=error["loc"], input=error["input"])
    if "ctx" in error:
        found["ctx"] = error["ctx"]
    return found


def element_error(value: Any, loc: tuple[int | str, ...]) -> InitErrorDetails:
    """Pydantic's error for a bad entry: a NaN or an infinity, or not a number at all."""
    kind = "finite_number" if isinstance(value, float) else "float_type"
    return InitErrorDetails(type=kind, loc=loc, input=value)


def check_dimensions(
    shape: tuple[int, ...], bounds: Bounds | None, loc: tuple[int | str, ...] = ()
) -> None:
    """Refuse a dimension larger than any the service takes, before anything is allocated."""
    if bounds is None:
        return
    for size in shape:
        if size > bounds.max_dimension:
            msg = limit_msg("a dimension", size, bounds.max_dimension, bounds.dimension_limit)
            msg += ": no array the service takes is larger in any dimension"
            ctx = {"limit": bounds.dimension_limit, "value": bounds.max_dimension, "asked": size}
            error = PydanticCustomError("limit_exceeded", msg, ctx)
            refuse(bounds, [InitErrorDetails(type=error, loc=loc, input=list(shape))])
            raise _Refused


class _Refused(Exception):
    """An array refused with its errors already counted but not reported (over the budget)."""


def fill(values: list[Any], out: np.ndarray) -> np.ndarray:
    """Copy `values` into the flat float64 `out`, CHUNK at a time; an entry that is not a finite
    JSON number is left NaN. Returns the positions of those entries."""
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        if set(map(type, chunk)) <= NUMBERS:
            try:
                out[start : start + len(chunk)] = chunk
                continue
            except OverflowError:  # an integer beyond float64: found one by one below
                pass
        for i, value in enumerate(chunk, start):
            fits = type(value) in NUMBERS and abs(value) <= FLOAT64_MAX
            out[i] = value if fits else np.nan
    finite = np.isfinite(out)
    return NONE_BAD if finite.all() else np.flatnonzero(~finite)


def fill_rows(
    rows: Iterable[list[Any]],
    outs: Iterable[np.ndarray],
    loc_of: Callable[[int], tuple[int, ...]],
    bounds: Bounds | None,
) -> None:
    """`fill` each row into its out; refuse the bad entries, `loc_of(r)` naming row r."""
    room = bounds.max_errors if bounds else sys.maxsize
    errors: list[InitErrorDetails] = []
    found = 0
    for r, (row, out) in enumerate(zip(rows, outs, strict=True)):
        bad = fill(row, out)
        found += len(bad)
        for j in bad[: max(room - len(errors), 0)]:
            errors.append(element_error(row[j], (*loc_of(r), int(j))))
    if found:
        refuse(bounds, errors, found)
        raise _Refused


def regular(rows: list[list[Any]], shape: tuple[int, ...], bounds: Bounds | None) -> np.ndarray:
    """The array of `shape` whose innermost lists, in row-major order, are `rows`."""
    out = np.empty((len(rows), shape[-1]))
    outer = shape[:-1]
    fill_rows(rows, out, lambda r: tuple(int(i) for i in np.unravel_index(r, outer)), bounds)
    return out.reshape(shape)


def tensor(value: list[Any], bounds: Bounds | None) -> np.ndarray:
    """A JSON vector `[…]`, matrix `[[…], …]` or deeper nesting (up to MAX_DIMS), its depth
    read down the first entries: every list at one depth must have the same length."""
    try:
        if not (value and type(value[0]) is list):
            nested = next((i for i, v in enumerate(value) if type(v) is list), None)
            if nested is not None:  # numbers, then a list: not one array
                refuse(bounds, [mixed((nested,), value[nested])])
                raise _Refused
            return regular([value], (len(value),), bounds)
        if not any(type(row) is list and row and type(row[0]) is list for row in value[:1]):
            return matrix(value, bounds)
        return deeper(value, bounds)
    except _Refused:
        return EMPTY


def deeper(value: list[Any], bounds: Bounds | None) -> np.ndarray:
    """Lists nested three deep or more: the shape read down the first entries, then each
    depth checked level by level (no recursion) before the numbers are read."""
    shape: list[int] = []
    node: Any = value
    while type(node) is list:
        shape.append(len(node))
        node = node[0] if node else None
    if len(shape) > MAX_DIMS:
        msg = f"lists nested {len(shape)} deep; arrays have at most {MAX_DIMS} axes"
        ctx = {"depth": len(shape), "limit": MAX_DIMS}
        too_deep = PydanticCustomError("too_deep", msg, ctx)
        refuse(bounds, [InitErrorDetails(type=too_deep, loc=(), input=None)])
        raise _Refused
    check_dimensions(tuple(shape), bounds)
    level: list[Any] = value
    for depth in range(1, len(shape)):
        wrong = [k for k, node in enumerate(level) if type(node) is not list]
        wrong = wrong or [k for k, node in enumerate(level) if len(node) != shape[depth]]
        if wrong:
            k = wrong[0]
            path = tuple(int(i) for i in np.unravel_index(k, shape[:depth]))
            if type(level[k]) is not list:
                error = mixed(path, level[k])
            else:
                first = [0] * depth
                msg = (
                    f"entry {list(path)} has {len(level[k])} entries but entry {first} has "
                    f"{shape[depth]}: every list at one depth must have the same length"
                )
                kind = PydanticCustomError("ragged_array", msg)
                error = InitErrorDetails(type=kind, loc=path, input=None)
            refuse(bounds, [error])
            raise _Refused
        if depth < len(shape) - 1:
            level = [item for node in level for item in node]
    return regular(level, tuple(shape), bounds)


def mixed(path: tuple[int, ...], value: Any) -> InitErrorDetails:
    """A number (or anything else) where the first entry at its depth is a list: the nesting
    is not regular, which the JSON Schema of nested lists cannot say."""
    first = [0] * len(path)
    msg = (
        f"entry {list(path)} is {'a list' if type(value) is list else 'not a list'} where entry "
        f"{first} is {'not ' if type(value) is list else ''}one: an array's entries at one depth "
        "are all lists of the same length, or all numbers"
    )
    return InitErrorDetails(type=PydanticCustomError("ragged_array", msg), loc=path, input=value)


def matrix(rows: list[Any], bounds: Bounds | None) -> np.ndarray:
    not_lists = [i for i, row in enumerate(rows) if type(row) is not list]
    lengths = {len(row) for row in rows if type(row) is list}
    if not_lists:
        errors = [mixed((i,), rows[i]) for i in not_lists]
        refuse(bounds, errors)
        raise _Refused
    if len(lengths) == 1:
        return regular(rows, (len(rows), lengths.pop()), bounds)
    # Ragged: its numbers are checked first, then its shape.
    fill_rows(rows, (np.empty(len(row)) for row in rows), lambda r: (r,), bounds)
    first = len(rows[0])
    i = next(i for i, row in enumerate(rows) if len(row) != first)
    msg = (
        f"row {i} has {len(rows[i])} entries but row 0 has {first}: every row must have the "
        "same length"
    )
    refuse(
        bounds,
        [InitErrorDetails(type=PydanticCustomError("ragged_array", msg), loc=(i,), input=None)],
    )
    raise _Refused


def any_nesting(value: list[Any], bounds: Bounds | None, max_depth: int) -> np.ndarray | Ragged:
    """A candidate's array: lists nested up to `max_depth` deep, of any shape (a wrong one is a
    finding). Measured level by level, without recursion; the array if it is regular, else the
    lists as they are, their numbers checked."""
    try:
        shape: list[int] = []
        level: list[Any] = [value]
        rows: list[list[Any]] = []
        uniform = True
        while lists := [node for node in level if type(node) is list]:
            lengths = {len(node) for node in lists}
            uniform = uniform and len(lists) == len(level) and len(lengths) == 1
            shape.append(max(lengths))
            rows, level = lists, [item for node in lists for item in node]
        if len(shape) > max_depth:
            msg = f"lists nested {len(shape)} deep; at most {max_depth} levels are read"
            ctx = {"depth": len(shape), "limit": max_depth}
            error = PydanticCustomError("too_deep", msg, ctx)
            refuse(bounds, [InitErrorDetails(type=error, loc=(), input=None)])
            raise _Refused
        if uniform:
            return regular(rows, tuple(shape), bounds)
        check_leaves(value, bounds)
        return Ragged(value)
    except _Refused:
        return EMPTY


def walk(value: list[Any]) -> Iterator[tuple[tuple[int, ...], Any]]:
    """Every entry of a nesting of lists that is not a list, with its index path, in order."""
    stack: list[tuple[tuple[int, ...], Any]] = [((), value)]
    while stack:
        path, node = stack.pop()
        if type(node) is list:
            stack.extend(((*path, i), item) for i, item in reversed(list(enumerate(node))))
        else:
            yield path, node


def check_leaves(value: list[Any], bounds: Bounds | None) -> None:
    """Every number of a ragged nesting; the paths are found again only for the bad ones."""
    leaves = [leaf for _, leaf in walk(value)]
    bad = fill(leaves, np.empty(len(leaves)))
    if len(bad):
        shown = set((bad[: bounds.max_errors] if bounds else bad).tolist())
        errors = [element_error(leaf, path) for k, (path, leaf) in enumerate(walk(value))
                  if k in shown]  # fmt: skip
        refuse(bounds, errors, len(bad))
        raise _Refused


def number(value: Any, bounds: Bounds | None) -> float:
    """A bare JSON number, finite."""
    if type(value) not in NUMBERS or not abs(value) <= FLOAT64_MAX:
        refuse(bounds, [element_error(value, ())])
        return 0.0
    return float(value)


def decode(shape: tuple[int, ...], dtype: str, data_b64: str, bounds: Bounds | None) -> np.ndarray:
    """A base64 tensor's values as float64, its shape measured before its data is decoded."""
    try:
        check_dimensions(shape, bounds, ("shape",))
    except _Refused:
        return EMPTY
    itemsize = 8 if dtype == "float64" else 4
    count = math.prod(shape)
    try:
        raw = pybase64.b64decode(data_b64, validate=True)
    except ValueError:
        return data_error(bounds, "base64_invalid", "not valid base64")
    if len(raw) != count * itemsize:
        msg = (
            f"shape {list(shape)} needs {count:,} {dtype} values ({count * itemsize:,} bytes); "
            f"the data has {len(raw):,} bytes"
        )
        return data_error(bounds, "wrong_length", msg)
    values = np.frombuffer(raw, dtype="<f8" if itemsize == 8 else "<f4").reshape(shape)
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        where = [int(i) for i in bad[0]]
        msg = f"the data holds a non-finite number at {where}; numbers must be finite"
        return data_error(bounds, "non_finite_data", msg)
    return values.astype(np.float64)


def data_error(bounds: Bounds | None, kind: str, msg: str) -> np.ndarray:
    error = InitErrorDetails(type=PydanticCustomError(kind, msg), loc=("data_b64",), input=None)
    refuse(bounds, [error])
    return EMPTY


def as_lists(value: np.ndarray | Ragged | float) -> Any:
    """How a request model writes an array back out (the client sends models this way)."""
    if isinstance(value, Ragged):
        return value.values
    return value.tolist() if isinstance(value, np.ndarray) else value
