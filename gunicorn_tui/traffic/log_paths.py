"""Where a log path leads, and opening it only when it is a regular file.

Gunicorn's ``accesslog`` and ``errorlog`` are "-" or a path. Some paths are
the process's own output under another name: ``/dev/stdout`` (a link to
``/proc/self/fd/1``), ``/dev/stderr``, ``/proc/self/fd/1``, ``/dev/fd/2``.
Opened by gtui they would name *gtui's* stdout (on the host) or be refused
as magic links (inside a container's root). They mean the master's
descriptor 1 or 2, as "-" does: :func:`stdio_descriptor` says which, through
a chain of symlinks too (``/var/log/app/access.log -> /dev/stdout``).

Every other path is followed only when it is a regular file. A FIFO is never
read (a second reader takes lines from the first), nor a device (opening one
can have effects of its own: a watchdog) or a socket. The check runs on an
``O_PATH`` handle, which opens nothing, and the file is then reopened
through that very handle, non-blocking, so what is read is what was checked.

A container's paths are resolved inside its own root (``openat2`` with
``RESOLVE_IN_ROOT``), never on the host's. The root handle is opened for
each operation and closed at once: holding it would keep a stopped
container's filesystem mounted.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass

from gunicorn_tui.host.procfs import PROC
from gunicorn_tui.host.rooted_files import RootedFiles

# Names of a process's stdout and stderr, by the descriptor they mean.
_STDIO_PATHS: dict[str, int] = {
    "/dev/stdout": 1,
    "/dev/stderr": 2,
    "/dev/fd/1": 1,
    "/dev/fd/2": 2,
    "/proc/self/fd/1": 1,
    "/proc/self/fd/2": 2,
    "/proc/thread-self/fd/1": 1,
    "/proc/thread-self/fd/2": 2,
}
# As the kernel's own limit on nested links (40) is for whole paths, a
# chain of this many links on the last component is plenty.
MAX_LINK_HOPS = 8


def normal_path(path: str) -> str:
    """``path`` made absolute-looking and normalised (``//x/./y`` -> ``/x/y``)."""
    return posixpath.normpath("/" + path.lstrip("/"))


def stdio_descriptor(path: str, readlink: Callable[[str], str | None]) -> int | None:
    """1 or 2 when ``path`` (absolute) names the process's stdout or stderr,
    directly or through symlinks on its last component (``readlink`` reads
    one link in the right root, None when the path is not a link); else None."""
    current = normal_path(path)
    for _ in range(MAX_LINK_HOPS + 1):
        fd = _STDIO_PATHS.get(current)
        if fd is not None:
            return fd
        target = readlink(current)
        if target is None:
            return None
        current = normal_path(posixpath.join(posixpath.dirname(current), target))
    return None


@dataclass(frozen=True)
class LogFileRef:
    """A log file: ``path`` as the master names it (absolute), resolved on the
    host when ``root_pid`` is None, else inside ``/proc/<root_pid>/root``."""

    path: str
    root_pid: int | None = None

    @property
    def display(self) -> str:
        """How the operator should read it: the path the server writes."""
        return self.path


class NotARegularFile(OSError):
    """The path exists and is not a regular file; ``kind`` says what it is."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(errno.EINVAL, f"is a {kind}", path)
        self.kind = kind


def file_kind(mode: int) -> str:
    """A file type as words (``FIFO``, ``character device``...)."""
    if stat.S_ISREG(mode):
        return "regular file"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISDIR(mode):
        return "directory"
    return "special file"


def _path_handle(ref: LogFileRef) -> int:
    """An ``O_PATH`` descriptor of the file (opening no device, reading nothing)."""
    if ref.root_pid is None:
        return os.open(ref.path, os.O_PATH | os.O_CLOEXEC)
    with RootedFiles(f"{PROC}/{ref.root_pid}/root") as rooted:
        return rooted.open(ref.path, os.O_PATH)


def file_status(ref: LogFileRef) -> os.stat_result:
    """``stat`` of the file the path leads to (OSError when there is none)."""
    handle = _path_handle(ref)
    try:
        return os.fstat(handle)
    finally:
        os.close(handle)


def open_regular(ref: LogFileRef) -> tuple[int, os.stat_result]:
    """A non-blocking read descriptor of the file and its ``stat``.

    Raises :class:`NotARegularFile` for anything but a regular file (which is
    then never opened for reading), OSError when it cannot be reached.
    """
    handle = _path_handle(ref)
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(ref.path, file_kind(info.st_mode))
        # Reopening the O_PATH handle opens the inode just checked, whatever
        # has been renamed onto the path since.
        fd = os.open(
            f"/proc/self/fd/{handle}",
            os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
        )
    finally:
        os.close(handle)
    return fd, info


def readlink_in_root(root_pid: int | None) -> Callable[[str], str | None]:
    """A ``readlink`` for :func:`stdio_descriptor`: on the host, or inside
    the root of ``root_pid``; None for a path that is not a link."""

    def read_host(path: str) -> str | None:
        try:
            return os.readlink(path)
        except OSError:
            return None

    def read_rooted(path: str) -> str | None:
        parent, name = posixpath.split(path)
        if not name:
            return None
        try:
            with (
                RootedFiles(f"{PROC}/{root_pid}/root") as rooted,
                rooted.directory(parent or "/") as directory,
            ):
                return os.readlink(name, dir_fd=directory)
        except OSError:
            return None

    return read_host if root_pid is None else read_rooted


def master_cwd(pid: int) -> str | None:
    """The master's working directory as it names it (inside its container)."""
    try:
        cwd = os.readlink(f"{PROC}/{pid}/cwd")
    except OSError:
        return None
    return cwd if cwd.startswith("/") and not cwd.endswith(" (deleted)") else None
