"""How a request failed, in the few kinds an operator tells apart.

httpx wraps the socket and TLS errors it meets (``ConnectError`` covers a
refused connection and a failed TLS handshake alike), so the kind is read
from the exception's chain of causes, not from its type alone.
"""

from __future__ import annotations

import errno
import ssl

import httpx

from gunicorn_tui.load.error_kind import TRANSPORT_KINDS, ErrorKind

__all__ = ["TRANSPORT_KINDS", "ErrorKind", "classify_exception", "status_error_kind"]


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
