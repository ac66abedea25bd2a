"""Logs as JSON lines on stderr: one object per record, through the standard `logging` module.

Every line has `time` (UTC, ISO 8601), `level`, `logger` and `message`; a record logged with
`extra={"fields": {...}}` adds those fields at the top level (the access log does). The level
comes from the environment variable `LOG_LEVEL` (default `info`). This module imports neither
torch nor the app, so `gradient-service serve` can configure uvicorn with it cheaply.
"""

import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from service.core.jsonsafe import encodable

LOGGER = "gradient_service"
LEVELS = ("critical", "error", "warning", "info", "debug")


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:  # a lone surrogate from a client, in a message or a field
            return orjson.dumps(encodable(entry), default=str).decode()


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is when a record arrives (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


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
