"""Files inside another root (a container's), resolved in that root, never on the host's.

``/proc/PID/root/app/gunicorn.conf.py`` looks like a path into the container,
but the kernel resolves an absolute symlink met on the way (``/app -> /etc``)
against the *reader's* root: a root process following it lands on the host's
``/etc``. ``openat2(2)`` with ``RESOLVE_IN_ROOT`` resolves every component,
symlinks included, as if the directory handle were ``/``, and with
``RESOLVE_NO_MAGICLINKS`` refuses ``/proc/self/fd/N``-style links that could
point anywhere. This is what ``docker cp`` does by other means.

Every read and write of a container's files on a local daemon goes through
:class:`RootedFiles`. Writes create a temporary file with ``O_EXCL`` and
``O_NOFOLLOW`` in the directory's handle and rename it into place there, so
neither a planted symlink nor a race can redirect them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# openat2 has the same number on every architecture (the unified table).
_SYS_OPENAT2 = 437
_IN_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS

MAX_READ_BYTES = 2 * 1024 * 1024


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


_libc: ctypes.CDLL | None = None


def _syscall() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class RootedFilesUnavailable(OSError):
    """openat2 is missing (kernel before 5.6, or not Linux): no safe way to resolve."""


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = _IN_ROOT) -> int:
    """The openat2 system call; raises OSError with the kernel's errno."""
    if platform.system() != "Linux":
        raise RootedFilesUnavailable(errno.ENOSYS, "openat2 needs Linux")
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    libc = _syscall()
    fd = libc.syscall(
        ctypes.c_long(_SYS_OPENAT2),
        ctypes.c_int(dirfd),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd < 0:
        code = ctypes.get_errno()
        if code == errno.ENOSYS:
            raise RootedFilesUnavailable(code, "openat2 is not available (kernel < 5.6)")
        raise OSError(code, os.strerror(code), path)
    return int(fd)


@dataclass(frozen=True)
class FileStat:
    """What a path is, without following its last component."""

    mode: int
    uid: int
    gid: int
    size_bytes: int

    @property
    def is_regular(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)


class RootedFiles:
    """A directory handle treated as ``/``: reads and writes resolve inside it.

    ``root`` is usually ``/proc/PID/root`` of a container's process. The
    handle is opened once, so a process that exits later does not redirect
    anything: calls then fail with the kernel's error.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self._fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RootedFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with suppress(Exception):
            self.close()

    # -- opening -------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0) -> int:
        """A descriptor for ``path`` resolved inside the root (caller closes it)."""
        return openat2(self._fd, path, flags, mode)

    @contextmanager
    def directory(self, path: str) -> Iterator[int]:
        """A directory's handle inside the root, for ``*at`` calls on its entries."""
        fd = self.open(path, os.O_PATH | os.O_DIRECTORY)
        try:
            yield fd
        finally:
            os.close(fd)

    # -- reading (the interpreter scan's FileView) ---------------------------

    def read_bytes(self, path: str, limit: int = MAX_READ_BYTES) -> bytes | None:
        """A regular file's first ``limit`` bytes; None if absent, unreadable or not regular.

        Opened non-blocking, so a FIFO or device placed at the path is
        recognised (and skipped) instead of blocking the caller.
        """
        try:
            fd = self.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            chunks: list[bytes] = []
            left = limit
            while left > 0:
                chunk = os.read(fd, min(left, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)
        except OSError:
            return None
        finally:
            os.close(fd)

    def list_dir(self, path: str) -> list[str] | None:
        try:
            fd = self.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return None
        try:
            return os.listdir(fd)
        except OSError:
            return None
        finally:
            os.close(fd)

    def lstat(self, path: str) -> FileStat | None:
        """The entry itself (a symlink is reported as one); None when absent."""
        parent, name = _split(path)
        try:
            with self.directory(parent) as dirfd:
                info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        return FileStat(info.st_mode, info.st_uid, info.st_gid, info.st_size)

    # -- writing ---------------------------------------------------------------

    def write_new(
        self,
        path: str,
        data: bytes,
        mode: int,
        owner: tuple[int, int] | None,
        replace: bool = True,
    ) -> None:
        """Create or replace ``path`` with ``data`` atomically, inside the root.

        A temporary file is created with ``O_EXCL | O_NOFOLLOW`` in the
        target's directory (opened inside the root), chowned, written,
        fsynced and renamed over the target. A symlink at ``path`` is
        replaced, never followed. With ``replace=False`` the rename fails
        with FileExistsError when anything is at ``path`` by then
        (``RENAME_NOREPLACE``): creating a file never clobbers one that
        appeared meanwhile.
        """
        parent, name = _split(path)
        with self.directory(parent) as dirfd:
            temporary = f".{name}.gtui-{os.getpid()}.tmp"
            fd = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                mode,
                dir_fd=dirfd,
            )
            try:
                try:
                    if owner is not None:
                        os.fchown(fd, owner[0], owner[1])
                    os.fchmod(fd, mode)
                    view = memoryview(data)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if replace:
                    os.rename(temporary, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
                else:
                    _rename_noreplace(dirfd, temporary, name)
            except BaseException:
                with suppress(OSError):
                    os.unlink(temporary, dir_fd=dirfd)
                raise
            _fsync_directory(dirfd)

    def remove(self, path: str) -> bool:
        """Unlink ``path`` (never what a symlink there points to); False when absent."""
        parent, name = _split(path)
        with self.directory(parent) as dirfd:
            try:
                os.unlink(name, dir_fd=dirfd)
            except FileNotFoundError:
                return False
        return True


_RENAME_NOREPLACE = 1


def _rename_noreplace(dirfd: int, old: str, new: str) -> None:
    """renameat2(RENAME_NOREPLACE) within one directory; FileExistsError when taken."""
    result = _syscall().renameat2(
        ctypes.c_int(dirfd),
        ctypes.c_char_p(os.fsencode(old)),
        ctypes.c_int(dirfd),
        ctypes.c_char_p(os.fsencode(new)),
        ctypes.c_uint(_RENAME_NOREPLACE),
    )
    if result != 0:
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise FileExistsError(code, os.strerror(code), new)
        raise OSError(code, os.strerror(code), new)


def _fsync_directory(dirfd: int) -> None:
    # The rename is durable only once the directory is synced.
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dirfd)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _split(path: str) -> tuple[str, str]:
    normal = os.path.normpath("/" + path.lstrip("/"))
    parent, name = os.path.split(normal)
    if not name or name in (".", ".."):
        raise IsADirectoryError(errno.EISDIR, "not a file path", path)
    return parent or "/", name
