"""The kinds of failed request an operator tells apart (no httpx here, so
summaries and epochs can name them without loading the HTTP client)."""

from __future__ import annotations

from enum import StrEnum


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
