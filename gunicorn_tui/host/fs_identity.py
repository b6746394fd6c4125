"""Read files with another user's permissions, without running anything as them.

Root reading the files of a master that belongs to ``nobody`` must not learn
more than ``nobody`` could: a symlink planted in that user's venv pointing at
``/root/.ssh`` would otherwise be read with root's rights. Linux checks file
access against the *filesystem* uid and gid, which are per thread and which
``setfsuid(2)`` changes without touching the real or effective ids; moving
the fsuid off 0 also drops the thread's file capabilities (``DAC_OVERRIDE``
and the like) until it is moved back. So the reads run in a thread of their
own that takes the target's fsuid and fsgid first and gives them back last.

Supplementary groups are per process and stay as they are (root's are
normally just ``root``).
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_libc: ctypes.CDLL | None = None


class IdentityUnavailable(OSError):
    """setfsuid/setfsgid did not take effect."""


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _set(function: str, value: int) -> None:
    setter = getattr(_c(), function)
    setter(value)
    # setfsuid returns the previous value and no error: ask again to verify.
    if setter(value) != value:
        raise IdentityUnavailable(1, f"{function}({value}) did not take effect")


def as_file_user(uid: int, gid: int, work: Callable[[], T], timeout_s: float = 30.0) -> T:
    """Run ``work()`` in a thread whose file accesses are checked as ``uid:gid``.

    When this process is not root, or already is ``uid``, ``work`` runs here
    unchanged: the kernel already limits it to what this user may read.
    """
    if os.geteuid() != 0 or uid == 0 or not hasattr(os, "setuid"):
        return work()
    box: dict[str, object] = {}

    def run() -> None:
        try:
            _set("setfsgid", gid)
            _set("setfsuid", uid)
            box["value"] = work()
        except BaseException as error:
            box["error"] = error
        finally:
            # The thread ends here; restore anyway so nothing outlives it.
            _c().setfsuid(0)
            _c().setfsgid(0)

    thread = threading.Thread(target=run, name=f"gtui-as-uid-{uid}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"reading files as uid {uid} took longer than {timeout_s:.0f} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
