"""Check a retune request against Gunicorn's rules before anything is planned.

Pure: the current configuration and the runtime facts come in as data.
"""

from __future__ import annotations

from collections.abc import Mapping

from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.control.planning.worker_classes import (
    CONNECTION_LIMITED_CLASSES,
    THREADED_CLASSES,
    UnknownWorkerClass,
    resolve_worker_class,
)
from gunicorn_tui.model.instances import ConfigValue, GunicornConfig
from gunicorn_tui.settings.resolve import short_worker_class

MAX_WORKERS = 512
MAX_THREADS = 1024

# name -> (smallest allowed, meaning of the smallest when it is special)
_INT_RANGES: dict[str, tuple[int, int, str]] = {
    "workers": (1, MAX_WORKERS, "at least 1 worker"),
    "threads": (1, MAX_THREADS, "at least 1 thread"),
    "worker_connections": (1, 1_000_000, "at least 1 connection"),
    "timeout": (0, 86_400, "0 (no timeout) or more seconds"),
    "graceful_timeout": (0, 86_400, "0 or more seconds"),
    "max_requests": (0, 100_000_000, "0 (never restart) or more"),
    "max_requests_jitter": (0, 100_000_000, "0 or more"),
    "keepalive": (0, 3_600, "0 (off) or more seconds"),
}


def validate_request(request: RetuneRequest, current: GunicornConfig) -> tuple[str, ...]:
    """Every problem with ``request`` (empty when it is valid).

    ``current`` supplies the worker class and threads that stay as they are,
    so "threads only mean something for gthread" is judged on the result.
    """
    changes = request.changes()
    problems: list[str] = []
    if not changes:
        problems.append("nothing to change: name at least one setting")
    for name, (low, high, meaning) in _INT_RANGES.items():
        value = changes.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{name} must be a whole number, got {value!r}")
        elif not low <= value <= high:
            problems.append(f"{name} must be {meaning} (at most {high}), got {value}")
    if "preload_app" in changes and not isinstance(changes["preload_app"], bool):
        problems.append(f"preload_app must be true or false, got {changes['preload_app']!r}")

    worker_class = _resulting_class(changes, current, problems)
    threads = changes.get("threads", current.value("threads"))
    if worker_class is not None:
        if (
            "threads" in changes
            and isinstance(threads, int)
            and threads > 1
            and worker_class not in THREADED_CLASSES
        ):
            problems.append(
                f"threads only apply to the gthread worker class (result would be {worker_class})"
            )
        if (
            "worker_connections" in changes
            and worker_class not in CONNECTION_LIMITED_CLASSES
            and "." not in worker_class
        ):
            problems.append(
                "worker_connections only apply to gthread, gevent, eventlet, tornado "
                f"and asgi workers (result would be {worker_class})"
            )
    jitter = changes.get("max_requests_jitter")
    max_requests = changes.get("max_requests", current.value("max_requests"))
    if isinstance(jitter, int) and jitter > 0 and max_requests in (0, None):
        problems.append("max_requests_jitter has no effect while max_requests is 0")
    return tuple(problems)


def _resulting_class(
    changes: Mapping[str, ConfigValue], current: GunicornConfig, problems: list[str]
) -> str | None:
    requested = changes.get("worker_class")
    if requested is not None:
        if not isinstance(requested, str):
            problems.append(f"worker_class must be a name, got {requested!r}")
            return None
        try:
            short = resolve_worker_class(requested).short
        except UnknownWorkerClass as error:
            problems.append(str(error))
            return None
    else:
        present = current.worker_class
        short = short_worker_class(present) if present else "sync"
    threads = changes.get("threads", current.value("threads"))
    if short == "sync" and isinstance(threads, int) and threads > 1:
        return "gthread"  # Gunicorn runs sync with threads > 1 as gthread
    return short
