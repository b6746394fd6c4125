"""A lean HTTP/1.1 transport for httpx: h11 over asyncio streams.

httpx's default transport goes through httpcore and anyio, which cost about
1 ms of CPU per request here: a load driver that burns that much steals the
CPU of the server it measures. This transport does the same job with h11 (the
HTTP/1.1 state machine httpcore itself uses) straight on asyncio streams:

- keep-alive: a connection goes back to an idle list after a complete
  response and the most recently used one is taken next, so a light load
  keeps a few warm connections;
- at most ``max_connections`` connections, open or opening, over all
  origins; requests beyond that wait, first come first served, for up to the
  pool timeout;
- TLS with the ``ssl`` module, certificate checks on or off;
- httpx's four timeouts (connect, read per chunk, write, pool);
- no retries: a request that fails is an error of httpx's kinds
  (``ConnectError``, ``ReadError``, ``RemoteProtocolError``...), with the
  socket or TLS error as its cause, so a load run counts what really
  happened. A connection the server closed while it was idle is noticed
  before it is used and replaced; one the server closes just as a request
  goes out fails that request.

Two ways in. :meth:`LeanTransport.handle_async_request` is the httpx
transport interface (use it with ``httpx.AsyncClient(transport=...)``).
:meth:`LeanTransport.exchange` sends a :class:`PreparedRequest` (built once
per kind of request) and reads the whole response, without httpx's Request
and Response objects: the load driver's hot path, where those cost more
than the HTTP/1.1 exchange itself (see benchmarks/lean_transport_bench.py).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import SupportsIndex

import h11
import httpx

_READ_SIZE = 65536
# Sockets of closed connections get this long to finish (a TLS goodbye) when
# the transport closes; then they are cut.
_CLOSE_WAIT_S = 1.0
_DEFAULT_PORTS = {b"http": 80, b"https": 443}

# scheme, host, port
_Origin = tuple[bytes, bytes, int]


@dataclass(frozen=True)
class PreparedRequest:
    """One request ready to send, for :meth:`LeanTransport.exchange`.

    Build it with :meth:`LeanTransport.prepare` (which checks it); it can be
    sent any number of times, concurrently too.
    """

    origin: tuple[bytes, bytes, int]
    event: h11.Request
    body: bytes

    def with_target(self, target: str) -> PreparedRequest:
        """The same request (method, headers, body, origin) for another
        path and query, such as ``/items/42?x=1``: only the request line is
        checked again, which costs a fraction of :meth:`LeanTransport.prepare`.
        Non-ASCII characters are percent-encoded as httpx would. Raises
        ``httpx.LocalProtocolError`` for a target HTTP/1.1 cannot carry."""
        raw = target.encode("ascii") if target.isascii() else httpx.URL(target).raw_path
        event = self.event
        try:
            retargeted = h11.Request(
                method=event.method, target=raw, headers=event.headers.raw_items()
            )
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        return PreparedRequest(self.origin, retargeted, self.body)


class _Reader(asyncio.StreamReader):
    """A stream reader that notes when bytes or EOF arrive while its
    connection sits idle: such a connection cannot take another request
    (the server closed it, or sent something unasked)."""

    idle = False
    stale = False

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        if self.idle:
            self.stale = True
        super().feed_data(data)

    def feed_eof(self) -> None:
        if self.idle:
            self.stale = True
        super().feed_eof()

    def set_exception(self, exc: Exception) -> None:
        if self.idle:
            self.stale = True
        super().set_exception(exc)


class _Connection:
    """One HTTP/1.1 connection: a stream pair and its h11 state machine."""

    __slots__ = ("h11", "origin", "reader", "writer")

    def __init__(self, origin: _Origin, reader: _Reader, writer: asyncio.StreamWriter) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    def reusable(self) -> bool:
        """Whether this idle connection can take a request."""
        return not self.reader.stale and not self.writer.is_closing()

    async def send(
        self, event: h11.Request, body: Iterable[bytes], write_timeout_s: float | None
    ) -> None:
        """Write the request line, headers and body."""
        conn = self.h11
        parts: list[bytes] = []
        try:
            for message in _messages(event, body):
                data = conn.send(message)
                if data:
                    parts.append(data)
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        writer = self.writer
        try:
            writer.writelines(parts)
            # Only a large body fills the socket buffer; a small request
            # needs no wait and no timer.
            if writer.transport.get_write_buffer_size():
                async with asyncio.timeout(write_timeout_s):
                    await writer.drain()
        except TimeoutError as exc:
            raise httpx.WriteTimeout("timed out writing the request") from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc) or repr(exc)) from exc

    async def next_event(self, read_timeout_s: float | None) -> h11.Event:
        """The next event of the response, reading as much as it needs."""
        conn = self.h11
        reader = self.reader
        try:
            while True:
                event = conn.next_event()
                if event is h11.PAUSED:
                    # Only after a complete response, which callers never
                    # read past.
                    raise httpx.RemoteProtocolError("read past the end of a response")
                if event is not h11.NEED_DATA:
                    return event  # type: ignore[return-value]  # not NEED_DATA or PAUSED
                try:
                    if read_timeout_s is None:
                        data = await reader.read(_READ_SIZE)
                    else:
                        async with asyncio.timeout(read_timeout_s):
                            data = await reader.read(_READ_SIZE)
                except TimeoutError as exc:
                    raise httpx.ReadTimeout("timed out waiting for the response") from exc
                except OSError as exc:
                    raise httpx.ReadError(str(exc) or repr(exc)) from exc
                if not data and conn.their_state is h11.SEND_RESPONSE and not conn.trailing_data[0]:
                    # Not one byte of a response: h11 would only say that it
                    # cannot handle ConnectionClosed.
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a response."
                    )
                conn.receive_data(data)
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc

    async def read_head(self, read_timeout_s: float | None) -> h11.Response:
        """Read up to the end of the response's headers (past 1xx answers)."""
        while True:
            event = await self.next_event(read_timeout_s)
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):
                raise httpx.RemoteProtocolError(
                    f"unexpected {type(event).__name__} before a response"
                )

    def finish_cycle(self) -> bool:
        """After the end of a response: make the connection ready for the
        next request, or say that it must close."""
        conn = self.h11
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            if conn.trailing_data[0]:
                # Bytes beyond the response, unasked: they would be read as
                # the next request's response.
                return False
            conn.start_next_cycle()
            return True
        return False

    def abort(self) -> None:
        """Cut the connection (its state is unknown: no TLS goodbye)."""
        self.writer.transport.abort()


class _ResponseStream(httpx.AsyncByteStream):
    """The body of a response from :meth:`LeanTransport.handle_async_request`.

    Reading it to the end hands the connection back for reuse; closing it
    before the end closes the connection.
    """

    def __init__(
        self, transport: LeanTransport, connection: _Connection, read_timeout_s: float | None
    ) -> None:
        self._transport = transport
        self._connection: _Connection | None = connection
        self._read_timeout_s = read_timeout_s

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx.StreamClosed()
        try:
            while True:
                event = await connection.next_event(self._read_timeout_s)
                if type(event) is h11.Data:
                    yield bytes(event.data)
                elif type(event) is h11.EndOfMessage:
                    break
                else:
                    raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} in a body")
        except BaseException:
            # Unless aclose() took the connection first: an iterator left
            # half-read is finalised (GeneratorExit) after the response closed.
            if self._connection is connection:
                self._connection = None
                self._transport._discard(connection)
            raise
        if self._connection is connection:
            self._connection = None
            self._transport._finished(connection)

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._transport._discard(connection)


class LeanTransport(httpx.AsyncBaseTransport):
    """An HTTP/1.1 keep-alive transport for httpx, on asyncio and h11.

    ``verify``: True checks certificates against httpx's CA bundle, False
    accepts any (self-signed), or an ``ssl.SSLContext`` to use as it is.
    ``uds``: connect to this Unix socket instead of the URL's host and port.
    ``timeout``: used when a request carries none (httpx clients always
    give theirs). Belongs to the event loop it is first used on.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 100,
        uds: str | None = None,
        timeout: httpx.Timeout | float | None = 5.0,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        self._limit = max_connections
        self._uds = uds
        default = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._default_timeouts = default.as_dict()
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._idle_count = 0
        # Connections open or being opened: what the limit counts.
        self._count = 0
        # Each waiter gets an idle connection of its origin, or None: a slot
        # to open one.
        self._waiters: deque[tuple[_Origin, asyncio.Future[_Connection | None]]] = deque()
        self._busy_or_idle: set[_Connection] = set()
        self._closed = False
        self._opened = 0

    @property
    def connections_opened(self) -> int:
        """How many connections this transport has opened in all."""
        return self._opened

    @property
    def connections_open(self) -> int:
        """How many connections are open (idle or busy) or being opened."""
        return self._count

    # -- the httpx interface -------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the response once its headers are in;
        its body streams from the connection."""
        timeouts = request.extensions.get("timeout") or self._default_timeouts
        url = request.url
        origin = _origin_of(url)
        try:
            event = h11.Request(
                method=request.method, target=url.raw_path, headers=request.headers.raw
            )
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        body: list[bytes] = []
        if request.stream is not None:
            stream = request.stream
            if isinstance(stream, httpx.AsyncByteStream):
                body = [chunk async for chunk in stream]
            else:
                raise httpx.LocalProtocolError("a sync request body needs a sync transport")
        connection = await self._acquire(origin, timeouts.get("pool"), timeouts.get("connect"))
        try:
            await connection.send(event, body, timeouts.get("write"))
            head = await connection.read_head(timeouts.get("read"))
        except BaseException:
            self._discard(connection)
            raise
        return httpx.Response(
            head.status_code,
            headers=head.headers.raw_items(),
            stream=_ResponseStream(self, connection, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason},
        )

    # -- the thin interface ------------------------------------------------------

    def prepare(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
    ) -> PreparedRequest:
        """Build a request for :meth:`exchange`: the URL parsed and the
        request line and headers checked once, here. Adds what httpx would:
        Host (unless ``headers`` has one), and Content-Length for a body, or
        0 for a POST, PUT or PATCH without one. Raises ``httpx.InvalidURL``
        or ``httpx.LocalProtocolError`` for what cannot be sent."""
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        origin = _origin_of(parsed)
        given = [(name.encode("ascii"), value.encode("ascii")) for name, value in headers]
        names = {name.lower() for name, _ in given}
        raw_headers = given if b"host" in names else [(b"Host", _host_header(parsed)), *given]
        if b"content-length" not in names and b"transfer-encoding" not in names:
            if body is not None:
                raw_headers.append((b"Content-Length", str(len(body)).encode()))
            elif method.upper() in ("POST", "PUT", "PATCH"):
                raw_headers.append((b"Content-Length", b"0"))
        try:
            event = h11.Request(method=method, target=parsed.raw_path, headers=raw_headers)
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        return PreparedRequest(origin, event, body or b"")

    async def exchange(self, prepared: PreparedRequest, timeout_s: float | None) -> int:
        """Send ``prepared``, read the whole response and return its status.

        ``timeout_s`` bounds the whole exchange, the wait for a connection
        included; when it runs out, the httpx timeout of the step it was in
        is raised (``PoolTimeout``, ``ConnectTimeout``, ``WriteTimeout`` or
        ``ReadTimeout``). Other failures raise httpx's transport errors.
        """
        step = "pool"
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(timeout_s):
                connection = self._take_idle(prepared.origin)
                if connection is None:
                    connection = await self._take_slot(prepared.origin, None)
                    if connection is None:
                        step = "connect"
                        connection = await self._open_in_slot(prepared.origin, None)
                step = "write"
                await connection.send(prepared.event, (prepared.body,), None)
                step = "read"
                status_code = (await connection.read_head(None)).status_code
                while True:
                    event = await connection.next_event(None)
                    if type(event) is h11.EndOfMessage:
                        break
                    if type(event) is not h11.Data:
                        raise httpx.RemoteProtocolError(
                            f"unexpected {type(event).__name__} in a body"
                        )
        except BaseException as exc:
            if connection is not None:
                self._discard(connection)
            if isinstance(exc, TimeoutError) and not isinstance(exc, httpx.TimeoutException):
                raise _TIMEOUTS[step](f"timed out ({step})") from exc
            raise
        self._finished(connection)
        return status_code

    async def probe(self, url: httpx.URL | str, timeout_s: float | None) -> None:
        """Open one connection to ``url``'s origin and close it, sending
        nothing: checks that the server is reachable and pays one-off costs
        (name resolution threads, the TLS context) ahead of the first request.
        Raises ``ConnectError`` or ``ConnectTimeout`` like a request would."""
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        connection = await self._open(_origin_of(parsed), timeout_s)
        connection.writer.close()
        try:
            async with asyncio.timeout(timeout_s):
                await connection.writer.wait_closed()
        except (TimeoutError, OSError):
            connection.abort()

    # -- the pool ------------------------------------------------------------------

    async def _acquire(
        self, origin: _Origin, pool_timeout_s: float | None, connect_timeout_s: float | None
    ) -> _Connection:
        """A connection to ``origin``: an idle one, a new one, or the first
        to come free; give it back with :meth:`_finished` or :meth:`_discard`."""
        connection = self._take_idle(origin)
        if connection is not None:
            return connection
        handed = await self._take_slot(origin, pool_timeout_s)
        if handed is not None:
            return handed
        return await self._open_in_slot(origin, connect_timeout_s)

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        """The most recently used idle connection to ``origin`` still fit for
        a request; those the server closed meanwhile are dropped."""
        if self._closed:
            raise RuntimeError("the transport is closed")
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            connection.reader.idle = False
            if connection.reusable():
                return connection
            self._drop(connection, graceful=False)
        return None

    async def _take_slot(self, origin: _Origin, pool_timeout_s: float | None) -> _Connection | None:
        """Count a new connection against the limit, waiting (first come,
        first served) while at the limit. Returns None when the slot is
        taken, or a connection to ``origin`` that came free meanwhile."""
        if not self._waiters:
            if self._count < self._limit:
                self._count += 1
                return None
            if self._idle_count:
                # At the limit with idle connections to other origins:
                # close one and take its slot.
                self._close_least_recent_idle()
                self._count += 1
                return None
        waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append((origin, waiter))
        try:
            if pool_timeout_s is None:
                return await waiter
            async with asyncio.timeout(pool_timeout_s):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                # Handed over just as the wait ended: pass it on.
                handed = waiter.result()
                if handed is None:
                    self._free_slot()
                else:
                    self._finished(handed, reset=False)
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout("timed out waiting for a connection") from exc
            raise

    async def _open_in_slot(self, origin: _Origin, connect_timeout_s: float | None) -> _Connection:
        """Open a connection in a slot already counted; free it on failure."""
        try:
            connection = await self._open(origin, connect_timeout_s)
        except BaseException:
            self._free_slot()
            raise
        self._busy_or_idle.add(connection)
        return connection

    async def _open(self, origin: _Origin, timeout_s: float | None) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        reader = _Reader(limit=_READ_SIZE, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        context = self._tls_context() if scheme == b"https" else None
        server_hostname = host.decode("ascii") if context is not None else None
        shutdown_timeout_s = _CLOSE_WAIT_S if context is not None else None
        try:
            async with asyncio.timeout(timeout_s):
                if self._uds is not None:
                    transport, _ = await loop.create_unix_connection(
                        lambda: protocol,
                        self._uds,
                        ssl=context,
                        server_hostname=server_hostname,
                        ssl_shutdown_timeout=shutdown_timeout_s,
                    )
                else:
                    transport, _ = await loop.create_connection(
                        lambda: protocol,
                        host.decode("ascii"),
                        port,
                        ssl=context,
                        server_hostname=server_hostname,
                        ssl_shutdown_timeout=shutdown_timeout_s,
                    )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("timed out connecting") from exc
        except OSError as exc:  # refused, unreachable, TLS (ssl.SSLError is an OSError)
            raise httpx.ConnectError(str(exc) or repr(exc)) from exc
        self._opened += 1
        return _Connection(origin, reader, asyncio.StreamWriter(transport, protocol, reader, loop))

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

    def _finished(self, connection: _Connection, *, reset: bool = True) -> None:
        """A response ended: reuse the connection, or close it if it must."""
        if (reset and not connection.finish_cycle()) or self._closed:
            self._drop(connection, graceful=True)
            return
        while self._waiters:
            origin, waiter = self._waiters.popleft()
            if waiter.done():
                continue
            if origin == connection.origin:
                waiter.set_result(connection)
            else:
                # The longest waiter wants another origin: trade this
                # connection for a slot.
                self._close(connection, graceful=True)
                waiter.set_result(None)
            return
        connection.reader.idle = True
        self._idle.setdefault(connection.origin, []).append(connection)
        self._idle_count += 1

    def _discard(self, connection: _Connection) -> None:
        """Close a connection whose state is unknown (error, cancel)."""
        self._drop(connection, graceful=False)

    def _drop(self, connection: _Connection, *, graceful: bool) -> None:
        self._close(connection, graceful=graceful)
        self._free_slot()

    def _close(self, connection: _Connection, *, graceful: bool) -> None:
        self._busy_or_idle.discard(connection)
        if graceful:
            connection.writer.close()
        else:
            connection.abort()

    def _free_slot(self) -> None:
        """A connection is gone: its slot goes to the longest waiter."""
        while self._waiters:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._count -= 1

    def _close_least_recent_idle(self) -> None:
        for origin, idle in self._idle.items():
            if idle:
                connection = idle.pop(0)
                self._idle_count -= 1
                if not idle:
                    del self._idle[origin]
                self._close(connection, graceful=True)
                self._count -= 1
                return

    async def aclose(self) -> None:
        """Close every connection: idle ones politely (a TLS goodbye, within
        a second), busy ones at once, so requests still running fail."""
        self._closed = True
        idle = [connection for group in self._idle.values() for connection in group]
        self._idle.clear()
        self._idle_count = 0
        self._count -= len(idle)
        for connection in self._busy_or_idle - set(idle):
            connection.abort()
        self._busy_or_idle.clear()
        for connection in idle:
            connection.writer.close()
        if idle:
            waits = [asyncio.ensure_future(c.writer.wait_closed()) for c in idle]
            _, pending = await asyncio.wait(waits, timeout=_CLOSE_WAIT_S)
            for task in pending:
                task.cancel()
            for connection in idle:
                connection.abort()
        while self._waiters:
            _, waiter = self._waiters.popleft()
            waiter.cancel()


_TIMEOUTS: dict[str, type[httpx.TimeoutException]] = {
    "pool": httpx.PoolTimeout,
    "connect": httpx.ConnectTimeout,
    "write": httpx.WriteTimeout,
    "read": httpx.ReadTimeout,
}


def _messages(event: h11.Request, body: Iterable[bytes]) -> Iterator[h11.Event]:
    yield event
    for chunk in body:
        if chunk:
            yield h11.Data(data=chunk)
    yield h11.EndOfMessage()


def _origin_of(url: httpx.URL) -> _Origin:
    scheme = url.raw_scheme
    port = url.port or _DEFAULT_PORTS.get(scheme)
    if port is None or not url.raw_host:
        raise httpx.UnsupportedProtocol(f"cannot send to {url}: only http:// and https:// URLs")
    return (scheme, url.raw_host, port)


def _host_header(url: httpx.URL) -> bytes:
    host = url.raw_host
    if b":" in host:
        host = b"[" + host + b"]"
    if url.port is not None and url.port != _DEFAULT_PORTS.get(url.raw_scheme):
        return host + b":" + str(url.port).encode()
    return host


__all__ = ["LeanTransport", "PreparedRequest"]
