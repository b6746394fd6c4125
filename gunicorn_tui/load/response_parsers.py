"""Where a response ends: the load driver's HTTP/1.1 response parsers.

The driver needs three facts of a response: its status, where it ends (so
the next request can go out on the same connection) and whether the
connection may be reused. Two parsers give them with one interface:

- :class:`HttptoolsParser`, on llhttp (Node.js's C parser) through
  ``httptools``, as uvicorn uses it: a few microseconds per response, the
  body skipped in C;
- :class:`H11Parser`, on h11 (pure Python, what httpcore uses): the
  fallback where httptools is not installed, and always for HEAD requests,
  whose responses announce a body that never comes (llhttp cannot be told
  that a response answers a HEAD).

Both raise :class:`ResponseError` for what is not valid HTTP/1.1, and say
so when bytes arrive beyond the end of a response (such a connection is not
reused: they would be read as the next response).
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Protocol

import h11

httptools: ModuleType | None
try:  # a C extension: an optional speed-up, never required
    import httptools
except ImportError:  # pragma: no cover - depends on the installation
    httptools = None

_UPGRADE: type[Exception] = httptools.HttpParserUpgrade if httptools is not None else Exception
_PARSE_ERROR: type[Exception] = httptools.HttpParserError if httptools is not None else Exception
_LENGTH_HEADERS = re.compile(rb"\r\n(content-length|transfer-encoding)[ \t]*:", re.IGNORECASE)


class ResponseError(Exception):
    """The bytes received are not a valid HTTP/1.1 response."""


class ResponseParser(Protocol):
    """Fed the bytes of one response (after its request was sent)."""

    keep_alive: bool
    trailing: bool

    def feed(self, data: bytes) -> int | None:
        """Parse ``data``; the final status once the response is complete,
        else None. Raises :class:`ResponseError`."""

    def feed_eof(self) -> int | None:
        """The peer closed: the status if that completes the response (a
        body that runs to the end of the connection), else None."""


def httptools_available() -> bool:
    """Whether the C parser can be used."""
    return httptools is not None


class HttptoolsParser:
    """llhttp through httptools; one per connection, reused response after
    response (llhttp resets itself at the end of each message)."""

    __slots__ = (
        "_complete",
        "_head",
        "_headers_done",
        "_parser",
        "_status",
        "keep_alive",
        "trailing",
    )

    def __init__(self) -> None:
        if httptools is None:
            raise RuntimeError("httptools is not installed")
        self._parser = httptools.HttpResponseParser(self)
        self._status: int | None = None
        self._complete = False
        self._headers_done = False
        self._head = b""
        self.keep_alive = True
        self.trailing = False

    def reset(self) -> None:
        """Ready for the next response on the same connection."""
        self._status = None
        self._complete = False
        self._headers_done = False
        self._head = b""

    # -- llhttp's callbacks ---------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            # A second response in the same bytes: nobody asked for it.
            self.trailing = True

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_message_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            return  # an interim response (100 Continue): the real one follows
        if not self._complete:
            self._status = status
            self._complete = True
            self.keep_alive = parser.should_keep_alive()

    # -- the interface -----------------------------------------------------------

    def feed(self, data: bytes) -> int | None:
        if not self._headers_done:
            self._head += data
        try:
            self._parser.feed_data(data)
        except _UPGRADE as exc:
            raise ResponseError("the server switched protocols (101 or Upgrade)") from exc
        except _PARSE_ERROR as exc:
            raise ResponseError(f"invalid HTTP response: {exc}") from exc
        return self._status if self._complete else None

    def feed_eof(self) -> int | None:
        if self._complete:
            return self._status
        if not self._headers_done:
            return None
        # Headers in, body not finished: complete only when the body was
        # meant to run to the end of the connection (no length, not chunked).
        head_end = self._head.find(b"\r\n\r\n")
        head = self._head if head_end < 0 else self._head[:head_end]
        if _LENGTH_HEADERS.search(head) is not None:
            return None
        status: int = self._parser.get_status_code()
        self._status = status
        self._complete = True
        self.keep_alive = False
        return status


class H11Parser:
    """h11's client state machine; one per response. Told the request's
    method (a HEAD's response has no body, whatever its headers say)."""

    __slots__ = ("_conn", "_status", "keep_alive", "trailing")

    def __init__(self, method: bytes) -> None:
        conn = h11.Connection(h11.CLIENT)
        # Only the method matters to h11's framing; a minimal valid request.
        conn.send(h11.Request(method=method, target=b"/", headers=[(b"Host", b"x")]))
        conn.send(h11.EndOfMessage())
        self._conn = conn
        self._status: int | None = None
        self.keep_alive = True
        self.trailing = False

    def feed(self, data: bytes) -> int | None:
        self._conn.receive_data(data)
        return self._drain()

    def feed_eof(self) -> int | None:
        conn = self._conn
        if conn.their_state is h11.SEND_RESPONSE and not conn.trailing_data[0]:
            return None  # not one byte of a response
        try:
            conn.receive_data(b"")
            return self._drain()
        except ResponseError:
            return None

    def _drain(self) -> int | None:
        conn = self._conn
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    return None
                if event is h11.PAUSED:
                    self.trailing = True
                    return self._status
                if type(event) is h11.Response:
                    self._status = event.status_code
                elif type(event) is h11.EndOfMessage:
                    self.keep_alive = conn.our_state is h11.DONE and conn.their_state is h11.DONE
                    if conn.trailing_data[0]:
                        self.trailing = True
                    return self._status
                elif type(event) is h11.ConnectionClosed:
                    raise ResponseError("the server closed the connection mid-response")
        except h11.RemoteProtocolError as exc:
            raise ResponseError(f"invalid HTTP response: {exc}") from exc


__all__ = [
    "H11Parser",
    "HttptoolsParser",
    "ResponseError",
    "ResponseParser",
    "httptools_available",
]
