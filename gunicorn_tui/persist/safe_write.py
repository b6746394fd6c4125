"""Reading and rewriting the user's own config files, carefully.

gtui runs as root: a file named by a container's labels or a master's
arguments is only read through ``O_NOFOLLOW`` (a symlink is refused, never
followed), only rewritten when it is a regular file owned by the user running
gtui, only when it still holds what was read, through an ``O_EXCL`` temporary
file in the same directory renamed over it (its mode kept), and read back
after to check.
"""

from __future__ import annotations

import contextlib
import os
import stat


class FileRefused(Exception):
    """A file gtui will not read or write; the message says why."""


def read_text(path: str) -> str:
    """The text of the regular file at ``path`` (no symlink), or :class:`FileRefused`."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise FileRefused(f"{path}: no such file (moved or removed?)") from None
    except OSError as error:
        raise FileRefused(f"{path}: {error.strerror or error}") from None
    if stat.S_ISLNK(info.st_mode):
        raise FileRefused(f"{path}: a symlink (gtui never follows links in these paths)")
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"{path}: not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise FileRefused(f"{path}: not readable ({error.strerror or error})") from None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(4 * 1024 * 1024 + 1)
    if len(data) > 4 * 1024 * 1024:
        raise FileRefused(f"{path}: larger than 4 MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileRefused(f"{path}: not UTF-8 text") from None


def check_writable(path: str) -> None:
    """Refuse unless ``path`` is a regular file (no symlink) owned by this user."""
    try:
        info = os.lstat(path)
    except OSError as error:
        raise FileRefused(f"{path}: {error.strerror or error}") from None
    if stat.S_ISLNK(info.st_mode):
        raise FileRefused(f"{path}: a symlink (gtui never writes through links)")
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"{path}: not a regular file")
    if info.st_uid != os.geteuid():
        raise FileRefused(
            f"{path}: owned by uid {info.st_uid}, not by you (uid {os.geteuid()}): "
            "gtui only rewrites your own files"
        )


def replace_text(path: str, expected_old: str, new_text: str) -> None:
    """Write ``new_text`` over ``path`` if it still holds ``expected_old``;
    read it back after. Raises :class:`FileRefused`."""
    check_writable(path)
    if read_text(path) != expected_old:
        raise FileRefused(f"{path}: changed since it was read; nothing written")
    directory, name = os.path.split(os.path.abspath(path))
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    temp = f".{name}.gtui-{os.getpid()}"
    try:
        try:
            fd = os.open(
                temp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                mode,
                dir_fd=dir_fd,
            )
        except OSError as error:
            raise FileRefused(f"{directory}: cannot write there ({error.strerror})") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(new_text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
            raise
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    if read_text(path) != new_text:
        raise FileRefused(f"{path}: reading it back did not give what was written")
