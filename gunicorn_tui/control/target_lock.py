"""One action at a time per instance, across processes, robust to a crashed holder.

A lock is an ``flock`` on a file in the state directory: the kernel drops it
when the holder dies, even by SIGKILL, so a crash never leaves a stale lock.
The file also names the holder (pid and action) for the refusal message.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from pathlib import Path
from types import TracebackType

from gunicorn_tui.control.state_dir import ensure_dir

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class LockHeld(Exception):
    """Another action on the same instance is in progress."""


def lock_key(text: str) -> str:
    """A file-name-safe key for a target (container name, ``pid-N``)."""
    return _UNSAFE.sub("_", text)[:120] or "_"


class TargetLock:
    """An exclusive, non-blocking lock on one target's key."""

    def __init__(self, directory: Path, key: str, purpose: str) -> None:
        self.path = ensure_dir(directory) / f"{lock_key(key)}.lock"
        self.key = key
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise LockHeld naming the holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeld(f"{self.key}: another action is in progress ({holder})") from None
        os.ftruncate(fd, 0)
        note = {"pid": os.getpid(), "purpose": self.purpose, "since": time.time()}
        os.pwrite(fd, json.dumps(note).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing the descriptor drops the flock
        self._fd = None

    def __enter__(self) -> TargetLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        raw = os.pread(fd, 4096, 0)
        note = json.loads(raw) if raw else {}
    except (OSError, ValueError):
        note = {}
    if not isinstance(note, dict) or "pid" not in note:
        return "holder unknown"
    return f"{note.get('purpose', 'action')} by pid {note['pid']}"
