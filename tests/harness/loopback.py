"""Ports and readiness checks for servers that tests run on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    The kernel picks it; another process may still take it before the caller
    binds, which is rare enough for tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_http(
    port: int,
    path: str = "/health",
    timeout_s: float = 15.0,
    *,
    check: Callable[[], None] | None = None,
) -> httpx.Response:
    """Poll ``http://127.0.0.1:PORT/PATH`` until any HTTP response arrives.

    Returns that response (callers check its status). ``check`` runs before
    each attempt and should raise when the server is known to be dead, so a
    crash is reported at once instead of after the timeout. Raises
    ``TimeoutError`` after ``timeout_s`` seconds, naming the last error.
    """
    url = f"http://{LOOPBACK}:{port}{path}"
    deadline = time.monotonic() + timeout_s
    last_error = "no attempt made"
    # trust_env=False: no proxy from the environment may see loopback traffic.
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if check is not None:
                check()
            try:
                return client.get(url)
            except httpx.HTTPError as error:
                last_error = f"{type(error).__name__}: {error}"
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{url} did not answer within {timeout_s} s ({last_error})")
            time.sleep(0.1)
