"""Connecting to the local Docker engine as the Docker CLI would.

(Remote engines, over SSH or TCP, are connected by ``engine_connect``.)
"""

from __future__ import annotations

import os
from typing import Any

API_TIMEOUT_S = 10.0


class DockerUnavailable(Exception):
    """The Docker daemon could not be reached."""


def daemon_host() -> str:
    """The daemon address in use, for messages."""
    return os.environ.get("DOCKER_HOST") or "default (docker context or /var/run/docker.sock)"


def connect(timeout_s: float = API_TIMEOUT_S) -> Any:
    """A DockerClient that has spoken to the daemon, or DockerUnavailable
    with a one-line reason."""
    import docker
    import docker.errors

    try:
        # Asks the daemon for its API version: no ping needed after it.
        client = docker.from_env(timeout=int(timeout_s), max_pool_size=16)
    except docker.errors.DockerException as error:
        raise DockerUnavailable(unavailable_reason(error)) from error
    except Exception as error:  # requests/urllib3 errors surface unwrapped
        raise DockerUnavailable(unavailable_reason(error)) from error
    return client


def unavailable_reason(error: BaseException) -> str:
    """One line saying why the daemon could not be reached."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "FileNotFoundError" in text or "No such file" in text or "Connection refused" in text:
        return f"Docker daemon not reachable at {daemon_host()}"
    return text[:200]
