"""Answers compared without the fields that vary from run to run (timings)."""

from collections.abc import Set
from typing import Any


def without(value: Any, keys: Set[str]) -> Any:
    """`value`, a decoded JSON answer, with every object's `keys` left out, at any depth."""
    if isinstance(value, dict):
        return {k: without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without(v, keys) for v in value]
    return value
