"""A WSGI app for the transport tests: bodies the sample app does not make.

Served by a real Gunicorn (see load_servers.start_load_gunicorn):
  /chunked?n=N&size=S&pause_ms=P  N pieces of S bytes, no Content-Length, so
                                  Gunicorn sends them chunked; piece i is the
                                  byte ord('a') + i % 26, P ms apart
  /big?bytes=N                    N bytes with a Content-Length
  /echo                           the request body back, method in a header
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[..., Any]


def _int_param(environ: dict[str, Any], name: str, default: int) -> int:
    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return int(values[0]) if values else default


def _pieces(count: int, size: int, pause_s: float) -> Iterator[bytes]:
    for index in range(count):
        if index and pause_s:
            time.sleep(pause_s)
        yield bytes([ord("a") + index % 26]) * size


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI entry point."""
    path = environ.get("PATH_INFO", "/")
    if path == "/chunked":
        count = _int_param(environ, "n", 5)
        size = _int_param(environ, "size", 1000)
        pause_s = _int_param(environ, "pause_ms", 0) / 1000
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _pieces(count, size, pause_s)
    if path == "/big":
        body = bytes(range(256)) * (_int_param(environ, "bytes", 1 << 20) // 256)
        start_response(
            "200 OK",
            [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))],
        )
        return [body]
    if path == "/echo":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        start_response(
            "200 OK",
            [
                ("Content-Length", str(len(body))),
                ("X-Method", environ["REQUEST_METHOD"]),
                ("X-Host", environ.get("HTTP_HOST", "")),
            ],
        )
        return [body]
    start_response("404 Not Found", [("Content-Length", "0")])
    return [b""]
