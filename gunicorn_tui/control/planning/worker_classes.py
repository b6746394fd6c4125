"""Worker classes: which names Gunicorn knows, and which module each needs.

The module is what the runtime probe imports with the server's own
interpreter: importing ``gunicorn.workers.ggevent`` fails exactly when the
image lacks gevent (or, on 27, ``packaging``), which is when ``-k gevent``
would fail to boot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Short name -> (module, class) as Gunicorn's own table maps them.
BUILTIN_CLASSES: dict[str, tuple[str, str]] = {
    "sync": ("gunicorn.workers.sync", "SyncWorker"),
    "gthread": ("gunicorn.workers.gthread", "ThreadWorker"),
    "gevent": ("gunicorn.workers.ggevent", "GeventWorker"),
    "gevent_wsgi": ("gunicorn.workers.ggevent", "GeventPyWSGIWorker"),
    "gevent_pywsgi": ("gunicorn.workers.ggevent", "GeventPyWSGIWorker"),
    "tornado": ("gunicorn.workers.gtornado", "TornadoWorker"),
    "eventlet": ("gunicorn.workers.geventlet", "EventletWorker"),
    "asgi": ("gunicorn.workers.gasgi", "ASGIWorker"),
}

# Classes that use ``threads`` (sync with threads > 1 runs as gthread).
THREADED_CLASSES = frozenset({"sync", "gthread"})
# Classes that honour ``worker_connections`` (Gunicorn's documentation).
CONNECTION_LIMITED_CLASSES = frozenset(
    {"gthread", "gevent", "gevent_wsgi", "gevent_pywsgi", "eventlet", "tornado", "asgi"}
)

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_EGG = "egg:gunicorn#"


@dataclass(frozen=True)
class WorkerClassSpec:
    """A worker class as named by the operator, resolved."""

    given: str
    short: str  # "gthread", or the dotted path for third-party classes
    module: str
    class_name: str
    builtin: bool


class UnknownWorkerClass(ValueError):
    """A name that is neither a Gunicorn worker class nor a dotted class path."""


def resolve_worker_class(name: str) -> WorkerClassSpec:
    """Resolve ``sync``, ``egg:gunicorn#gevent`` or ``package.module.Class``."""
    given = name.strip()
    short = given[len(_EGG) :] if given.startswith(_EGG) else given
    if short in BUILTIN_CLASSES:
        module, class_name = BUILTIN_CLASSES[short]
        return WorkerClassSpec(given, short, module, class_name, True)
    for builtin, (module, class_name) in BUILTIN_CLASSES.items():
        if short == f"{module}.{class_name}":
            return WorkerClassSpec(given, builtin, module, class_name, True)
    if _DOTTED.match(short):
        module, _, class_name = short.rpartition(".")
        return WorkerClassSpec(given, short, module, class_name, False)
    known = ", ".join(sorted(BUILTIN_CLASSES))
    raise UnknownWorkerClass(
        f"unknown worker class {given!r}: use one of {known}, or a dotted path such as "
        "uvicorn_worker.UvicornWorker"
    )
