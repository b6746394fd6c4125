"""What the benchmarks need to start servers, from the package, not from tests/.

``free_port`` and the sample app are the package's own (the demo server uses
them). Small copies, kept here so benchmarks do not import tests:
``wait_http`` (tests/harness/loopback.py), the test image the benchmarks run
(tests/images/tags.py; built by ``python tests/images/build.py``) and the
owner labels (tests/harness/containers.py) that let the test session remove
a killed benchmark's containers. tests/core/test_benchmark_support.py keeps
the copies equal to the originals.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

import gunicorn_tui.demo.sample_app as sample_app
from gunicorn_tui.demo.server import free_port

__all__ = [
    "GUNICORN_LATEST",
    "LOOPBACK",
    "SAMPLE_APP_DIR",
    "free_port",
    "owner_labels",
    "wait_http",
]

LOOPBACK = "127.0.0.1"

# The directory to ``--chdir`` into for ``sample_app:app``.
SAMPLE_APP_DIR = Path(sample_app.__file__).resolve().parent

# Latest Gunicorn with setproctitle and gevent (a test image).
GUNICORN_LATEST = "gtui-test/gunicorn:latest"

TEST_LABEL = "gtui-test"
OWNER_PID_LABEL = "gtui-test.owner-pid"
OWNER_STARTED_LABEL = "gtui-test.owner-started"


def owner_labels() -> dict[str, str]:
    """Labels naming this process as the owner of the containers it starts."""
    return {
        TEST_LABEL: "1",
        OWNER_PID_LABEL: str(os.getpid()),
        OWNER_STARTED_LABEL: f"{psutil.Process().create_time():.3f}",
    }


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
