"""Whatever a client sent, made encodable as JSON: for error bodies, answers and log lines.

Two things a client can send that orjson cannot write back: a lone surrogate (`"\\ud800"` is valid
JSON, and Python decodes it, but it is not UTF-8) and an integer past 64 bits (a query parameter
of 2⁶⁴). They reach an answer when it echoes the request (a weight's name, a limit's `asked`);
`encodable` writes the one as its escape (`\\ud800`) and the other as a string. This module
imports nothing of the app, so the log formatter can use it cheaply.
"""

from typing import Any

INT64 = range(-(2**63), 2**64)  # what orjson writes as a JSON integer


def text(value: str) -> str:
    """`value` with every lone surrogate written as its backslash escape."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def encodable(value: Any) -> Any:
    """`value` with its strings (keys too) and integers made encodable; arrays are left as they
    are. Called only once orjson has refused `value`, so its cost is paid by hostile requests."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, int) and not isinstance(value, bool) and value not in INT64:
        return str(value)
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(item) for item in value]
    return value
