"""The load driver's HTTP/1.1 client: keep-alive connections to one origin.

Built for a load driver's one job, sending the same few requests again and
again at the least CPU per request, so that the client does not take the
CPU of the server it measures:

- each connection is an ``asyncio.Protocol`` (no stream reader, no task per
  connection): the response is parsed in ``data_received`` and its status
  handed to the waiting request through one future;
- responses are parsed by llhttp (``httptools``, C) where installed, else
  by h11 (pure Python); see :mod:`gunicorn_tui.load.response_parsers`;
- a request is prepared once, as the bytes to write (a ``{n}`` path only
  swaps its request line);
- timeouts are deadlines that one sweeper task checks every few
  milliseconds, not a timer per request: a request that runs out of time
  fails within ``timeout_s`` plus at most a twentieth of it (100 ms at
  most), with the httpx timeout of the step it was in.

Errors are httpx's exception types (``ConnectError``, ``ReadError``,
``RemoteProtocolError``, ``ReadTimeout``...) with the socket or TLS error
as the cause, as :func:`~gunicorn_tui.load.outcome.classify_exception`
expects. No retries: a request that fails is counted as what really
happened. A connection that the server closed (or sent unasked bytes on)
while it was idle is noticed before it is used and replaced; one the server
closes just as a request goes out fails that request.

The pool is bound to one origin (scheme, host, port; or a Unix socket) and
to the event loop it is first used on: the load driver sends every request
to its target's base URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from gunicorn_tui.load.response_parsers import (
    H11Parser,
    HttptoolsParser,
    ResponseError,
    ResponseParser,
    httptools_available,
)

_NS = 1_000_000_000
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CLOSE_WAIT_S = 1.0
# Request lines and header values: visible ASCII (and tabs and spaces in
# values); nothing that could end a line early and smuggle a header in.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(rb"[\x21-\x7e]+")
_FIELD_VALUE = re.compile(rb"[\x20-\x7e\t]*")
_MAX_SWEEP_S = 0.1
_MIN_SWEEP_S = 0.002


@dataclass(frozen=True)
class WireRequest:
    """One request as the bytes to send; see :meth:`HttpPool.prepare`."""

    method: bytes
    head_after_target: bytes
    """`` HTTP/1.1\\r\\n`` and the header lines, blank line included."""
    body: bytes
    data: bytes
    """The whole request: request line, headers, body."""

    def with_target(self, target: str) -> WireRequest:
        """The same request for another path and query (``/items/42?x=1``).
        Non-ASCII characters are percent-encoded as httpx would. Raises
        ``httpx.LocalProtocolError`` for a target HTTP/1.1 cannot carry."""
        raw = target.encode("ascii") if target.isascii() else httpx.URL(target).raw_path
        if _TARGET.fullmatch(raw) is None:
            raise httpx.LocalProtocolError(f"illegal request target {raw!r}")
        data = b"".join((self.method, b" ", raw, self.head_after_target, self.body))
        return WireRequest(self.method, self.head_after_target, self.body, data)


class _Wire(asyncio.Protocol):
    """One connection. At most one request in flight (no pipelining)."""

    __slots__ = (
        "counted",
        "deadline_ns",
        "eof",
        "loop",
        "lost",
        "parser",
        "pool",
        "stale",
        "step",
        "transport",
        "waiter",
    )

    def __init__(self, pool: HttpPool, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.loop = loop
        # Whether this connection holds one of the pool's slots (a probe's
        # does not).
        self.counted = False
        self.transport: asyncio.Transport | None = None
        self.parser: ResponseParser | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.deadline_ns = 0
        self.step = "read"
        self.stale = False
        self.eof = False
        self.lost = False

    # -- asyncio's callbacks ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; both
        # have write, abort, close, is_closing and get_write_buffer_size.
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None:
            # Bytes nobody asked for (or a late tail of a response that
            # timed out): this connection cannot take another request.
            self.stale = True
            return
        parser = self.parser
        assert parser is not None
        try:
            status = parser.feed(data)
        except ResponseError as exc:
            self._fail(httpx.RemoteProtocolError(str(exc)))
            return
        if status is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(status)

    def eof_received(self) -> bool | None:
        self.eof = True
        self._ended(None)
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._ended(exc)
        if self.counted:
            self.counted = False
            self.pool._lost(self)

    # -- driving it ---------------------------------------------------------------

    def _ended(self, exc: Exception | None) -> None:
        waiter = self.waiter
        if waiter is None:
            self.stale = True
            return
        parser = self.parser
        assert parser is not None
        if exc is None:
            status = parser.feed_eof()
            if status is not None:
                self.waiter = None
                if not waiter.done():
                    waiter.set_result(status)
                return
            self._fail(httpx.RemoteProtocolError("Server disconnected without sending a response."))
        else:
            error = httpx.ReadError(str(exc) or repr(exc))
            error.__cause__ = exc
            self._fail(error)

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        self.stale = True
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.abort()

    def usable(self) -> bool:
        """Whether this idle connection can take a request."""
        transport = self.transport
        return not (
            self.stale or self.eof or self.lost or transport is None or transport.is_closing()
        )

    def send(
        self, request: WireRequest, parser: ResponseParser, deadline_ns: int
    ) -> asyncio.Future[int]:
        """Write ``request``; the future gets the response's status."""
        transport = self.transport
        assert transport is not None
        waiter: asyncio.Future[int] = self.loop.create_future()
        self.waiter = waiter
        self.parser = parser
        self.deadline_ns = deadline_ns
        try:
            transport.write(request.data)
        except (OSError, RuntimeError) as exc:
            error = httpx.WriteError(str(exc) or repr(exc))
            error.__cause__ = exc
            self._fail(error)
        return waiter

    def time_out(self) -> None:
        """The sweeper found this request past its deadline."""
        transport = self.transport
        if transport is not None and transport.get_write_buffer_size():
            self._fail(httpx.WriteTimeout("timed out writing the request"))
        else:
            self._fail(httpx.ReadTimeout("timed out waiting for the response"))

    def abort(self) -> None:
        """Cut the connection at once (no TLS goodbye)."""
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """Close politely (a TLS goodbye where there is TLS)."""
        if self.transport is not None:
            self.transport.close()


class HttpPool:
    """Up to ``max_connections`` keep-alive connections to ``base_url``'s
    origin (or to the Unix socket ``uds``).

    ``verify``: True checks certificates against httpx's CA bundle, False
    accepts any (self-signed), or an ``ssl.SSLContext`` to use as it is.
    ``parser``: "httptools", "h11", or None for httptools where installed.
    """

    def __init__(
        self,
        base_url: str,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 100,
        uds: str | None = None,
        parser: str | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        url = httpx.URL(base_url)
        scheme = url.scheme
        if scheme not in _DEFAULT_PORTS or not url.raw_host:
            raise httpx.UnsupportedProtocol(
                f"cannot send to {base_url}: only http:// and https:// URLs"
            )
        if parser is None:
            parser = "httptools" if httptools_available() else "h11"
        if parser == "httptools" and not httptools_available():
            raise ValueError("the httptools parser is not installed")
        if parser not in ("httptools", "h11"):
            raise ValueError(f"unknown parser {parser!r}")
        self.parser_name = parser
        self._use_httptools = parser == "httptools"
        self._scheme = scheme
        self._host = url.raw_host.decode("ascii")
        self._port = url.port or _DEFAULT_PORTS[scheme]
        self._host_header = _host_header(url)
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        self._uds = uds
        self._limit = max_connections
        self._idle: list[_Wire] = []
        self._busy: set[_Wire] = set()
        # Connections open or being opened: what the limit counts.
        self._count = 0
        # Each waiter gets an idle connection, or None: a slot to open one.
        self._waiters: deque[asyncio.Future[_Wire | None]] = deque()
        self._closed = False
        self._opened = 0
        self._sweeper: asyncio.Task[None] | None = None
        self._sweep_s = _MAX_SWEEP_S
        self._event_loop: asyncio.AbstractEventLoop | None = None

    @property
    def connections_opened(self) -> int:
        """How many connections this pool has opened in all."""
        return self._opened

    @property
    def connections_open(self) -> int:
        """How many connections are open (idle or busy) or being opened."""
        return self._count

    # -- requests --------------------------------------------------------------

    def prepare(
        self,
        method: str,
        target: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
    ) -> WireRequest:
        """The bytes of a request for ``target`` (a path and query, or a full
        URL of this pool's origin). Adds what httpx would: Host (unless
        ``headers`` has one), and Content-Length for a body, or 0 for a
        POST, PUT or PATCH without one. Raises ``httpx.LocalProtocolError``
        or ``httpx.InvalidURL`` for what cannot be sent."""
        if target.startswith(("http://", "https://")):
            parsed = httpx.URL(target)
            if (
                parsed.scheme,
                parsed.raw_host.decode("ascii"),
                parsed.port or _DEFAULT_PORTS.get(parsed.scheme),
            ) != (
                self._scheme,
                self._host,
                self._port,
            ):
                raise httpx.LocalProtocolError(f"{target} is not on this pool's origin")
            raw_target = parsed.raw_path
        else:
            raw_target = httpx.URL(target).raw_path
        raw_method = method.encode("ascii") if method.isascii() else b""
        if _TOKEN.fullmatch(raw_method) is None:
            raise httpx.LocalProtocolError(f"illegal method {method!r}")
        if _TARGET.fullmatch(raw_target) is None:
            raise httpx.LocalProtocolError(f"illegal request target {raw_target!r}")
        lines: list[bytes] = []
        names: set[bytes] = set()
        for name, value in headers:
            raw_name = name.encode("ascii") if name.isascii() else b""
            raw_value = value.encode("ascii") if value.isascii() else b"\n"
            if _TOKEN.fullmatch(raw_name) is None:
                raise httpx.LocalProtocolError(f"illegal header name {name!r}")
            raw_value = raw_value.strip(b" \t")
            if _FIELD_VALUE.fullmatch(raw_value) is None:
                raise httpx.LocalProtocolError(f"illegal header value {value!r}")
            names.add(raw_name.lower())
            lines.append(raw_name + b": " + raw_value + b"\r\n")
        if b"host" not in names:
            lines.insert(0, b"Host: " + self._host_header + b"\r\n")
        if b"content-length" not in names and b"transfer-encoding" not in names:
            if body is not None:
                lines.append(b"Content-Length: " + str(len(body)).encode() + b"\r\n")
            elif raw_method.upper() in (b"POST", b"PUT", b"PATCH"):
                lines.append(b"Content-Length: 0\r\n")
        head_after_target = b" HTTP/1.1\r\n" + b"".join(lines) + b"\r\n"
        payload = body or b""
        data = b"".join((raw_method, b" ", raw_target, head_after_target, payload))
        return WireRequest(raw_method, head_after_target, payload, data)

    async def exchange(self, request: WireRequest, timeout_s: float | None) -> int:
        """Send ``request``, read the whole response and return its status.

        ``timeout_s`` bounds the whole exchange, the wait for a connection
        included; when it runs out, the httpx timeout of the step it was in
        is raised (``PoolTimeout``, ``ConnectTimeout``, ``WriteTimeout`` or
        ``ReadTimeout``). Other failures raise httpx's transport errors.
        """
        deadline_ns = 0 if timeout_s is None else time.monotonic_ns() + int(timeout_s * _NS)
        wire = self._take_idle()
        if wire is None:
            wire = await self._take_or_open(timeout_s, deadline_ns)
        if timeout_s is not None and self._sweeper is None:
            self._start_sweeper(timeout_s)
        parser: ResponseParser
        if request.method == b"HEAD":
            parser = H11Parser(b"HEAD")
        elif self._use_httptools:
            parser = wire.parser if type(wire.parser) is HttptoolsParser else HttptoolsParser()
            parser.reset()
        else:
            parser = H11Parser(request.method)
        busy = self._busy
        busy.add(wire)
        try:
            status = await wire.send(request, parser, deadline_ns)
        except BaseException:
            busy.discard(wire)
            wire.waiter = None
            wire.stale = True
            wire.abort()
            raise
        busy.discard(wire)
        if parser.keep_alive and not parser.trailing and not self._closed and wire.usable():
            self._give_back(wire)
        else:
            wire.stale = True
            wire.close()
        return status

    async def probe(self, timeout_s: float | None) -> None:
        """Open one connection and close it, sending nothing: checks that the
        server is reachable and pays one-off costs (name resolution threads,
        the TLS context) ahead of the first request. Raises
        ``ConnectError`` or ``ConnectTimeout`` like a request would."""
        wire = await self._open(timeout_s)
        wire.stale = True
        wire.close()

    async def aclose(self) -> None:
        """Close every connection: idle ones politely (a TLS goodbye, within
        a second), busy ones at once, so requests still running fail."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        idle, self._idle = self._idle, []
        for wire in list(self._busy):
            wire.abort()
        for wire in idle:
            wire.stale = True
            wire.close()
        if idle and any(not wire.lost for wire in idle):
            deadline = time.monotonic() + _CLOSE_WAIT_S
            while time.monotonic() < deadline and any(not wire.lost for wire in idle):
                await asyncio.sleep(0.01)
            for wire in idle:
                wire.abort()
        while self._waiters:
            self._waiters.popleft().cancel()
        if self._sweeper is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    # -- the pool ------------------------------------------------------------------

    def _take_idle(self) -> _Wire | None:
        """The most recently used idle connection still fit for a request;
        those the server closed meanwhile are dropped."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        idle = self._idle
        while idle:
            wire = idle.pop()
            if wire.usable():
                return wire
            wire.stale = True
            wire.abort()
        return None

    async def _take_or_open(self, timeout_s: float | None, deadline_ns: int) -> _Wire:
        if not self._waiters and self._count < self._limit:
            self._count += 1
            return await self._open_in_slot(timeout_s)
        waiter: asyncio.Future[_Wire | None] = self._loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                handed = await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                given = waiter.result()
                if given is None:
                    self._free_slot()
                else:
                    self._give_back(given)
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout("timed out waiting for a connection") from exc
            raise
        if handed is not None:
            return handed
        remaining_s = (
            None if timeout_s is None else max(0.0, (deadline_ns - time.monotonic_ns()) / _NS)
        )
        return await self._open_in_slot(remaining_s)

    async def _open_in_slot(self, timeout_s: float | None) -> _Wire:
        """Open a connection in a slot already counted; free it on failure."""
        try:
            wire = await self._open(timeout_s)
        except BaseException:
            self._free_slot()
            raise
        if wire.lost:  # closed before we got to count it
            self._free_slot()
        else:
            wire.counted = True
        return wire

    async def _open(self, timeout_s: float | None) -> _Wire:
        loop = self._loop()
        context = self._tls_context() if self._scheme == "https" else None
        server_hostname = self._host if context is not None else None
        shutdown_timeout_s = _CLOSE_WAIT_S if context is not None else None
        wire = _Wire(self, loop)
        try:
            async with asyncio.timeout(timeout_s):
                if self._uds is not None:
                    await loop.create_unix_connection(
                        lambda: wire,
                        self._uds,
                        ssl=context,
                        server_hostname=server_hostname,
                        ssl_shutdown_timeout=shutdown_timeout_s,
                    )
                else:
                    await loop.create_connection(
                        lambda: wire,
                        self._host,
                        self._port,
                        ssl=context,
                        server_hostname=server_hostname,
                        ssl_shutdown_timeout=shutdown_timeout_s,
                    )
        except TimeoutError as exc:
            wire.abort()
            raise httpx.ConnectTimeout("timed out connecting") from exc
        except OSError as exc:  # refused, unreachable, TLS (ssl.SSLError is an OSError)
            raise httpx.ConnectError(str(exc) or repr(exc)) from exc
        self._opened += 1
        return wire

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self._event_loop is None:
            self._event_loop = asyncio.get_running_loop()
        return self._event_loop

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            verify = self._verify
            context = (
                verify
                if isinstance(verify, ssl.SSLContext)
                else httpx.create_ssl_context(verify=verify, trust_env=False)
            )
            # Only HTTP/1.1 is spoken: a server must not pick h2.
            context.set_alpn_protocols(["http/1.1"])
            self._ssl_context = context
        return self._ssl_context

    def _give_back(self, wire: _Wire) -> None:
        """A response ended on a reusable connection: to the longest waiter,
        else to the idle list."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(wire)
                return
        self._idle.append(wire)

    def _lost(self, wire: _Wire) -> None:
        """A counted connection closed (by us or the server): its slot is free."""
        if self._closed:
            self._count -= 1
            return
        if wire in self._idle:
            self._idle.remove(wire)
        self._free_slot()

    def _free_slot(self) -> None:
        """A connection is gone: its slot goes to the longest waiter."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._count -= 1

    # -- deadlines -------------------------------------------------------------------

    def _start_sweeper(self, timeout_s: float) -> None:
        self._sweep_s = min(_MAX_SWEEP_S, max(_MIN_SWEEP_S, timeout_s / 20))
        self._sweeper = self._loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        busy = self._busy
        while True:
            await asyncio.sleep(self._sweep_s)
            if not busy:
                continue
            now_ns = time.monotonic_ns()
            for wire in [w for w in busy if w.deadline_ns and w.deadline_ns <= now_ns]:
                wire.time_out()


def _host_header(url: httpx.URL) -> bytes:
    host = url.raw_host
    if b":" in host:
        host = b"[" + host + b"]"
    if url.port is not None and url.port != _DEFAULT_PORTS.get(url.scheme):
        return host + b":" + str(url.port).encode()
    return host


__all__ = ["HttpPool", "WireRequest"]
