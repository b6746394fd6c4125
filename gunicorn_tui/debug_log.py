"""The debug log (``gtui --log-file PATH``): what discovery, sampling and
actions did, for a bug report. Off unless asked for.

Modules log through ``logging.getLogger("gtui.<area>")``; without
``--log-file`` nothing is attached to the ``gtui`` logger and records cost a
level check. The file is opened for appending, created private (0600), and
never followed through a symbolic link.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from gunicorn_tui import __version__

LOGGER_NAME = "gtui"
_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(threadName)s %(name)s: %(message)s"


class DebugLogError(OSError):
    """The log file cannot be opened."""


def start_debug_log(path: Path, *, command: str, argv: Sequence[str]) -> logging.Handler:
    """Append gtui's debug records to ``path`` from now on."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags, 0o600)
    except OSError as error:
        raise DebugLogError(f"--log-file {path}: {error.strerror or error}") from None
    stream = os.fdopen(descriptor, "a", encoding="utf-8", buffering=1)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S"))
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    logger.propagate = False
    logger.info(
        "gtui %s, Python %s on %s, command %s, argv %s",
        __version__,
        platform.python_version(),
        platform.platform(),
        command,
        list(argv),
    )
    return handler
