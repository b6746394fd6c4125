"""What the benchmarks need to start servers, from the package, not from tests/.

``free_port`` and the sample app are the package's own (the demo server uses
them); ``wait_http`` is a small copy of the test harness's readiness poll
(tests/harness/loopback.py), kept here so benchmarks do not import tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

import gunicorn_tui.demo.sample_app as sample_app
from gunicorn_tui.demo.server import free_port

__all__ = ["LOOPBACK", "SAMPLE_APP_DIR", "free_port", "wait_http"]

LOOPBACK = "127.0.0.1"

# The directory to ``--chdir`` into for ``sample_app:app``.
SAMPLE_APP_DIR = Path(sample_app.__file__).resolve().parent


def wait_http(
    port: int,
    path: str = "/health",
    timeout_s: float = 15.0,
    *,
    check: Callable[[], None] | None = None,
) -> httpx.Response:
    """Poll ``http://127.0.0.1:PORT/PATH`` until any HTTP response arrives.

    ``check`` runs before each attempt and should raise when the server is
    known to be dead. Raises ``TimeoutError`` after ``timeout_s`` seconds.
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
