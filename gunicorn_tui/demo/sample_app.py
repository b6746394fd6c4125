"""A small WSGI app with endpoints that behave the way real apps do.

It imports only the standard library so it can be copied into a container
image as a single file (the test images do) and served by any Gunicorn.

Endpoints:
  /            answers at once
  /fast        answers at once
  /cpu?ms=N    burns N ms of CPU (default 20)
  /io?ms=N     waits N ms without using CPU, like a slow database (default 100)
  /status/N    answers with status N
  /items/ID    answers at once; ID varies so endpoint grouping can be seen
  /health      answers at once, for readiness checks
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[..., Any]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _ms_param(environ: dict[str, Any], default_ms: float) -> float:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        return max(0.0, min(60_000.0, float(query.get("ms", [default_ms])[0])))
    except ValueError:
        return default_ms


def _burn_cpu(duration_ms: float) -> int:
    """Spin on arithmetic for ``duration_ms`` of thread CPU time."""
    deadline = time.thread_time() + duration_ms / 1000.0
    rounds = 0
    value = 1
    while time.thread_time() < deadline:
        for _ in range(2000):
            value = (value * 1103515245 + 12345) & 0x7FFFFFFF
        rounds += 1
    return rounds


def _respond(
    start_response: StartResponse, status: int, payload: dict[str, Any]
) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    reason = _REASONS.get(status, "Status")
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI entry point."""
    path = environ.get("PATH_INFO", "/") or "/"
    pid = os.getpid()
    if path in ("/", "/fast", "/health"):
        return _respond(start_response, 200, {"ok": True, "pid": pid})
    if path == "/cpu":
        duration_ms = _ms_param(environ, 20.0)
        rounds = _burn_cpu(duration_ms)
        return _respond(start_response, 200, {"cpu_ms": duration_ms, "rounds": rounds})
    if path == "/io":
        duration_ms = _ms_param(environ, 100.0)
        time.sleep(duration_ms / 1000.0)
        return _respond(start_response, 200, {"io_ms": duration_ms, "pid": pid})
    if path.startswith("/status/"):
        try:
            status = int(path.rsplit("/", 1)[1])
        except ValueError:
            status = 400
        if not 200 <= status <= 599:
            status = 400
        return _respond(start_response, status, {"status": status})
    if path.startswith("/items/"):
        return _respond(start_response, 200, {"item": path.rsplit("/", 1)[1]})
    return _respond(start_response, 404, {"error": "not found", "path": path})


application = app
