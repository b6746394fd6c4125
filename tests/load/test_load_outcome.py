"""Error kinds from exception chains as httpx's transports build them.

The chains here are built the way httpcore and the load driver's HTTP pool raise
them (``raise ConnectError(...) from OSError``); test_http_pool.py and
the driver's live tests check the same kinds against real servers.
"""

from __future__ import annotations

import errno
import ssl

import httpx
import pytest

from gunicorn_tui.load.outcome import ErrorKind, classify_exception, status_error_kind


def _chain(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (
            _chain(httpx.ConnectError("x"), ConnectionRefusedError(111, "refused")),
            "connect_refused",
        ),
        (
            _chain(
                httpx.ConnectError("x"),
                _chain(
                    OSError("All connection attempts failed"),
                    ExceptionGroup(
                        "multiple", [OSError(errno.ECONNREFUSED, "r"), OSError(errno.ENETDOWN, "d")]
                    ),
                ),
            ),
            "connect_refused",
        ),
        (_chain(httpx.ConnectError("x"), ssl.SSLError(1, "wrong version number")), "tls"),
        (
            _chain(httpx.ConnectError("x"), ssl.SSLCertVerificationError(1, "self-signed")),
            "tls",
        ),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.PoolTimeout("pool"), "timeout"),
        (TimeoutError(), "timeout"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "protocol"),
        (_chain(httpx.ReadError("x"), ConnectionResetError(104, "reset")), "protocol"),
        (_chain(httpx.ConnectError("x"), ConnectionResetError(104, "reset")), "protocol"),
        (httpx.WriteError("broken pipe"), "protocol"),
        (_chain(httpx.ConnectError("x"), OSError(errno.EHOSTUNREACH, "unreachable")), "other"),
        (ValueError("weird"), "other"),
    ],
)
def test_kinds(exc: BaseException, kind: str) -> None:
    assert classify_exception(exc) is ErrorKind(kind)


def test_a_cyclic_chain_ends() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert classify_exception(first) is ErrorKind.OTHER


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, None),
        (302, None),
        (404, ErrorKind.HTTP_4XX),
        (499, ErrorKind.HTTP_4XX),
        (500, ErrorKind.HTTP_5XX),
        (503, ErrorKind.HTTP_5XX),
    ],
)
def test_status_kinds(status: int, kind: ErrorKind | None) -> None:
    assert status_error_kind(status) is kind
