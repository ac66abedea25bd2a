"""The HTTP protocol `gradient-service serve` runs uvicorn with: uvicorn's httptools protocol,
plus what it lacks against slow or hostile clients, and a word to the app at shutdown.

- **Headers are bounded in size**: httptools has no limit, so a client could send 50 MB of one
  header (sixteen such took 760 MB). Past `MAX_HEADER_BYTES` the request is refused with a 431
  and the connection closed; a worker holds at most that plus one read (256 KiB) per connection.
  (uvicorn's h11 protocol has a limit, `h11_max_incomplete_event_size`, but parses in Python.)
- **Headers are bounded in time**: uvicorn times out idle keep-alive connections, but not a
  connection that never sends its headers, or trickles them. Past `HEADER_TIMEOUT` seconds from
  the connection or the request's first byte, a 408, and the connection is closed.
- **A client that does not read its answer is dropped**: uvicorn writes a whole answer into the
  connection's buffer and keeps it until the client reads (eight unread 259 MB answers held
  2.9 GB). When the buffer has not shrunk for `SEND_TIMEOUT` seconds the connection is aborted
  and its buffer freed; the app sees a disconnect (a /train stream stops).
- **Shutdown is announced**: uvicorn's graceful shutdown waits for every connection, and a
  /train stream would never end by itself. `shutting_down` is set as shutdown begins, so that
  streams end with a last line at their next step (service.api.routes.train).

The body's own limits (size, time) are the app's (service.api.http.BodyLimit): they hold under any
server. Refusals here happen before the app sees a request: they are logged, not counted in the
request metrics.
"""

import asyncio
import logging
import threading
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.core.config import get_settings

logger = logging.getLogger("gradient_service.http")

# Set once uvicorn starts shutting down this process; never cleared.
shutting_down = threading.Event()

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
STALL_CHECK = 1.0  # seconds between two looks at a stalled connection's buffer
LINGER = 2.0  # seconds a refused connection's incoming bytes are read and dropped


class HeadersTooLarge(Exception):
    """Raised in a parser callback to stop parsing a request whose headers are too large."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.max_header_bytes = settings.max_header_bytes
        self.header_timeout = settings.header_timeout
        self.send_timeout = settings.send_timeout
        self.in_head = True  # reading a request's headers (or waiting for its first byte)
        self.head_bytes = 0  # the URL and headers the parser has handed over so far
        self.unparsed_head = 0  # bytes received while the headers were still incomplete
        self.head_timer: asyncio.TimerHandle | None = None
        self.stall_timer: asyncio.TimerHandle | None = None
        self.buffered = 0  # the write buffer's size when last looked at
        self.stalled_for = 0.0
        self.discarding = False  # refused: what the client still sends is dropped
        self.linger_timer: asyncio.TimerHandle | None = None

    # --- headers: size and time ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.head_timer = self.loop.call_later(self.header_timeout, self.head_timed_out)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head, self.head_bytes, self.unparsed_head = True, 0, 0
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.header_timeout, self.head_timed_out)

    def on_url(self, url: bytes) -> None:
        self.count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.count_head(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def count_head(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > self.max_header_bytes:
            raise HeadersTooLarge  # stops the parser: data_received answers 431

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.cancel_head_timer()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        """uvicorn's, plus a 431 for headers too large, whether complete or still arriving
        (the parser holds an unfinished header whole: it is counted here, by the read)."""
        if self.discarding:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HeadersTooLarge):
                self.headers_too_large()
            else:
                msg = "Invalid HTTP request received."
                self.logger.warning(msg)
                self.send_400_response(msg)
            return
        if self.in_head:
            self.unparsed_head += len(data)
            if self.unparsed_head > self.max_header_bytes:
                self.headers_too_large()

    def headers_too_large(self) -> None:
        msg = (
            f"the request's headers are larger than {self.max_header_bytes:,} bytes "
            "(GRADIENT_SERVICE_MAX_HEADER_BYTES)"
        )
        self.refuse(431, "headers_too_large", msg, "max_header_bytes", self.max_header_bytes)

    def head_timed_out(self) -> None:
        self.head_timer = None
        if self.in_head and not self.transport.is_closing():
            msg = (
                f"the request's headers did not arrive within {self.header_timeout:g} s "
                "(GRADIENT_SERVICE_HEADER_TIMEOUT)"
            )
            self.refuse(408, "header_timeout", msg, "header_timeout", self.header_timeout)

    def cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def refuse(self, status: int, kind: str, msg: str, limit: str, value: float) -> None:
        """Answer in the service's error format, then close: the app never sees the request."""
        ctx = {"limit": limit, "value": value}
        body = orjson.dumps({"detail": [{"type": kind, "loc": ["header"], "msg": msg, "ctx": ctx}]})
        head = [b"HTTP/1.1 %d %s" % (status, REASONS[status])]
        head += [name + b": " + value for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json", b"content-length: %d" % len(body),
                 b"connection: close"]  # fmt: skip
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        # Closing now, with the client's bytes unread, would reset the connection and could
        # lose the answer: end our side, read and drop what still comes for LINGER seconds.
        self.discarding = True
        self.cancel_head_timer()
        self.transport.write_eof()
        self.linger_timer = self.loop.call_later(LINGER, self.transport.abort)
        fields = {"status": status, "client": self.address()}
        logger.warning("%d %s", status, msg, extra={"fields": fields})

    # --- answers the client does not read ------------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        self.buffered, self.stalled_for = self.transport.get_write_buffer_size(), 0.0
        self.stall_timer = self.loop.call_later(STALL_CHECK, self.check_stall)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.stall_timer is not None:
            self.stall_timer.cancel()
            self.stall_timer = None

    def check_stall(self) -> None:
        """Abort a connection whose unsent answer has not shrunk for SEND_TIMEOUT seconds."""
        buffered = self.transport.get_write_buffer_size()
        self.stalled_for = 0.0 if buffered < self.buffered else self.stalled_for + STALL_CHECK
        self.buffered = buffered
        if self.stalled_for < self.send_timeout:
            self.stall_timer = self.loop.call_later(STALL_CHECK, self.check_stall)
            return
        self.stall_timer = None
        logger.warning(
            "dropped a client that read nothing for %g s (%d bytes unsent)",
            self.send_timeout,
            buffered,
            extra={"fields": {"client": self.address()}},
        )
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_head_timer()
        for timer in (self.stall_timer, self.linger_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def address(self) -> str | None:
        return f"{self.client[0]}:{self.client[1]}" if self.client else None

    # --- shutdown ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        shutting_down.set()
        super().shutdown()
