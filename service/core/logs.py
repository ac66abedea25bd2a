"""Logs as JSON lines on stderr: one object per record, through the standard `logging` module.

Every line has `time` (UTC, ISO 8601), `level`, `logger` and `message`; a record logged with
`extra={"fields": {...}}` adds those fields at the top level (the access log does). The level
comes from the environment variable `LOG_LEVEL` (default `info`). This module imports neither
torch nor the app, so `gradient-service serve` can configure uvicorn with it cheaply.
"""

import logging
import os
import sys
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from service.core.jsonsafe import encodable

LOGGER = "gradient_service"


def json_line(created: float, level: int, logger: str, message: str, fields: dict[str, Any]) -> str:
    """One record as its JSON line (without the newline)."""
    entry: dict[str, Any] = {
        "time": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
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
    log capture) it goes through `logging` as usual. Either way the line is the same."""
    if not logger.isEnabledFor(level):
        return
    handler = sole_json_handler(logger, level)
    if handler is None:
        logger.log(level, "%s", message, extra={"fields": fields})
        return
    line = json_line(time.time(), level, logger.name, message, fields)
    try:
        with handler.lock or nullcontext():
            handler.stream = sys.stderr
            handler.stream.write(line + handler.terminator)
            handler.flush()
    except Exception:  # a closed or broken stderr: logging's own error handling, as it would
        logger.log(level, "%s", message, extra={"fields": fields})


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
