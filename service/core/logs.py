"""Logs as JSON lines on stderr: one object per record, through the standard `logging` module.

Every line has `time` (UTC, ISO 8601), `level`, `logger` and `message`; a record logged with
`extra={"fields": {...}}` adds those fields at the top level (the access log does). The level
comes from the environment variable `LOG_LEVEL` (default `info`). This module imports neither
torch nor the app, so `gradient-service serve` can configure uvicorn with it cheaply.
"""

import asyncio
import atexit
import logging
import math
import os
import sys
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple, TextIO

import orjson

from service.core.jsonsafe import encodable

LOGGER = "gradient_service"


@lru_cache(maxsize=4)
def utc_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def utc_time(created: float) -> str:
    """`created` as ISO 8601 in UTC to the millisecond (`isoformat(timespec="milliseconds")`),
    the date and time of day formatted once per second: a line per request is written."""
    fraction, whole = math.modf(created)
    seconds, microseconds = int(whole), round(fraction * 1e6)  # as datetime rounds
    if microseconds >= 1_000_000:
        seconds, microseconds = seconds + 1, microseconds - 1_000_000
    elif microseconds < 0:  # before 1970
        seconds, microseconds = seconds - 1, microseconds + 1_000_000
    return f"{utc_second(seconds)}.{microseconds // 1000:03d}+00:00"


def json_line(created: float, level: int, logger: str, message: str, fields: dict[str, Any]) -> str:
    """One record as its JSON line (without the newline)."""
    entry: dict[str, Any] = {
        "time": utc_time(created),
        "level": logging.getLevelName(level).lower(),
        "logger": logger,
        "message": message,
        **fields,
    }
    try:
        return orjson.dumps(entry, default=str).decode()
    except orjson.JSONEncodeError:  # a lone surrogate from a client, in a message or a field
        return orjson.dumps(encodable(entry), default=str).decode()


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        if record.exc_info:
            fields = {**fields, "exception": self.formatException(record.exc_info)}
        return json_line(record.created, record.levelno, record.name, record.getMessage(), fields)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is when a record arrives (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def write(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """What `logger.log(level, message, extra={"fields": fields})` writes, with less work.

    A line per request is worth writing cheaply: when the record would reach nothing but the
    handler `configure_logging` installs (no filters on the way), its line is written straight
    to that handler, without a LogRecord; otherwise (a handler or filter added since, a test's
    log capture) it goes through `logging` as usual. Either way the line is the same.

    Inside an event loop an info or debug line waits in `pending` for at most FLUSH_SECONDS or
    MAX_PENDING lines, then they all go out in one write: a write to a pipe that a reader waits
    on (a container's log collector) costs the worker about 15 µs, as much as the rest of a
    small request's middleware. A warning or an error goes out at once, after what waits; what
    waits at exit is written then."""
    if not logger.isEnabledFor(level):
        return
    handler = sole_json_handler(logger, level)
    if handler is None:
        logger.log(level, "%s", message, extra={"fields": fields})
        return
    text = json_line(time.time(), level, logger.name, message, fields)
    line = Line(logger, level, message, fields, text)
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:  # a worker thread, or no loop at all
        loop = None
    if loop is None or level >= logging.WARNING:
        emit(handler, [*take_pending(), line])
        return
    if not pending:
        loop.call_later(FLUSH_SECONDS, flush)
    pending.append(line)
    if len(pending) >= MAX_PENDING:
        flush()


class Line(NamedTuple):
    logger: logging.Logger
    level: int
    message: str
    fields: dict[str, Any]
    text: str  # as json_line wrote it


FLUSH_SECONDS = 0.05
MAX_PENDING = 256
pending: list[Line] = []  # lines waiting to be written together


def take_pending() -> list[Line]:
    """The lines that wait, taken off `pending`: only those, so that a line another thread
    appends meanwhile (a worker thread's warning) stays to be written, not lost."""
    count = len(pending)
    lines = pending[:count]
    del pending[:count]
    return lines


def flush() -> None:
    """Write the lines that wait, now (a test calls it before it reads stderr)."""
    lines = take_pending()
    if not lines:
        return
    handler = sole_json_handler(lines[0].logger, lines[0].level)
    if handler is None:  # logging was configured otherwise meanwhile
        for line in lines:
            line.logger.log(line.level, "%s", line.message, extra={"fields": line.fields})
        return
    emit(handler, lines)


atexit.register(flush)


def emit(handler: StderrHandler, lines: list[Line]) -> None:
    """The lines, in one write to the handler's stream."""
    text = "".join(line.text + handler.terminator for line in lines)
    try:
        with handler.lock or nullcontext():
            handler.stream = sys.stderr
            handler.stream.write(text)
            handler.flush()
    except Exception:  # a closed or broken stderr: logging's own error handling, as it would
        for line in lines:
            line.logger.log(line.level, "%s", line.message, extra={"fields": line.fields})


def sole_json_handler(logger: logging.Logger, level: int) -> StderrHandler | None:
    """The one handler a record of `logger` at `level` reaches, if it is configure_logging's
    and nothing filters on the way."""
    handlers: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        handlers += current.handlers
        if not current.propagate:
            break
        current = current.parent
    if len(handlers) != 1:
        return None
    [handler] = handlers
    if not isinstance(handler, StderrHandler) or type(handler.formatter) is not JSONFormatter:
        return None
    return handler if not handler.filters and handler.level <= level else None


def configure_logging(level: str | None = None) -> None:
    """The service's loggers write JSON lines to stderr at `level` (default: env LOG_LEVEL).

    Records leave out what no line shows (the logging HOWTO's "Optimization"): the calling
    function, thread and process names, which the standard library otherwise looks up for every
    record, the access log's one per request included."""
    logging._srcfile = None  # no caller lookup: findCaller walks the stack for every record
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = StderrHandler()
    handler.setFormatter(JSONFormatter())
    logger = logging.getLogger(LOGGER)
    logger.handlers = [handler]
    logger.setLevel((level or os.environ.get("LOG_LEVEL") or "info").upper())
    logger.propagate = False


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own messages (start-up, shutdown, errors) as JSON lines too, for `log_config`.

    Run uvicorn with `access_log=False`: the service writes its own (service.api.observability).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JSONFormatter}},
        "handlers": {"stderr": {"()": StderrHandler, "formatter": "json"}},
        "loggers": {"uvicorn": {"handlers": ["stderr"], "propagate": False}},
    }
