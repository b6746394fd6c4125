"""How a request failed, in the few kinds an operator tells apart.

httpx wraps the socket and TLS errors it meets (``ConnectError`` covers a
refused connection and a failed TLS handshake alike), so the kind is read
from the exception's chain of causes, not from its type alone.
"""

from __future__ import annotations

import errno
import ssl
from enum import StrEnum

import httpx


class ErrorKind(StrEnum):
    """Why a request did not end in a 2xx or 3xx response."""

    CONNECT_REFUSED = "connect_refused"
    """Nothing listens at the address (or a firewall rejects)."""
    TIMEOUT = "timeout"
    """No complete response within the profile's ``timeout_s``."""
    HTTP_5XX = "http_5xx"
    """The server answered with a 5xx status."""
    HTTP_4XX = "http_4xx"
    """The server answered with a 4xx status."""
    PROTOCOL = "protocol"
    """The connection was closed or reset mid-request, or the response was
    not valid HTTP."""
    TLS = "tls"
    """The TLS handshake failed: a plain-HTTP port, a bad certificate."""
    OTHER = "other"
    """Anything else (name resolution, an unreachable network...)."""


TRANSPORT_KINDS = frozenset(
    {
        ErrorKind.CONNECT_REFUSED,
        ErrorKind.TIMEOUT,
        ErrorKind.PROTOCOL,
        ErrorKind.TLS,
        ErrorKind.OTHER,
    }
)


def status_error_kind(status_code: int) -> ErrorKind | None:
    """The error kind of an HTTP status, or None for a success."""
    if status_code >= 500:
        return ErrorKind.HTTP_5XX
    if status_code >= 400:
        return ErrorKind.HTTP_4XX
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it was raised from, exception groups opened."""
    found: list[BaseException] = []
    pending = [exc]
    while pending:
        current = pending.pop()
        if any(current is seen for seen in found) or len(found) > 50:
            continue
        found.append(current)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return found


def classify_exception(exc: BaseException) -> ErrorKind:
    """The kind of a failed request, from the exception httpx (or the
    per-request deadline) raised."""
    chain = _causes(exc)
    if any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in chain):
        return ErrorKind.TLS
    if any(isinstance(e, httpx.TimeoutException | TimeoutError) for e in chain):
        return ErrorKind.TIMEOUT
    if any(
        isinstance(e, ConnectionRefusedError)
        or (isinstance(e, OSError) and e.errno == errno.ECONNREFUSED)
        for e in chain
    ):
        return ErrorKind.CONNECT_REFUSED
    if isinstance(exc, httpx.ConnectError):
        # Not refused and not TLS: unreachable host, failed name lookup...
        # except a peer that closes during the handshake, which is a close.
        if any(isinstance(e, ConnectionResetError | BrokenPipeError | EOFError) for e in chain):
            return ErrorKind.PROTOCOL
        return ErrorKind.OTHER
    if isinstance(
        exc,
        httpx.RemoteProtocolError
        | httpx.LocalProtocolError
        | httpx.ReadError
        | httpx.WriteError
        | httpx.CloseError,
    ) or any(isinstance(e, ConnectionError | EOFError) for e in chain):
        return ErrorKind.PROTOCOL
    return ErrorKind.OTHER
