"""What a file is, as a master sees it, and the checks made before changing one.

A config file gtui may replace is described by a :class:`FileState`: absent,
a regular file (with its content and digest), a symlink, something else
(a FIFO, a directory, a device) or unreadable. Only ``absent`` is free:
anything else counts as existing and belongs to the operator, unless it is
a regular file whose content gtui wrote.

Each write names what it expects to find (:data:`EXPECT_ABSENT`, or the
digest of the content it planned from, see :func:`expect_content`); the
file is examined again just before the change, and a mismatch refuses the
step instead of overwriting what someone put there in the meantime.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from enum import StrEnum

from gunicorn_tui.access.errors import TargetChanged
from gunicorn_tui.host.rooted_files import RootedFiles

MAX_FILE_BYTES = 1024 * 1024
EXPECT_ABSENT = "absent"
_SHA_PREFIX = "sha256:"


class FileKind(StrEnum):
    """What is at a path."""

    ABSENT = "absent"
    REGULAR = "regular file"
    SYMLINK = "symlink"
    OTHER = "not a regular file"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class FileState:
    """A path as the master sees it, at one moment."""

    kind: FileKind
    content: bytes | None = None  # regular files only
    link_target: str | None = None  # symlinks only
    uid: int | None = None
    gid: int | None = None
    reason: str | None = None  # why unreadable

    @property
    def exists(self) -> bool:
        """Anything at the path: a symlink or an unreadable file counts."""
        return self.kind is not FileKind.ABSENT

    @property
    def text(self) -> str | None:
        return self.content.decode("utf-8", "replace") if self.content is not None else None

    @property
    def digest(self) -> str | None:
        """``sha256:HEX`` of a regular file's content."""
        if self.content is None:
            return None
        return _SHA_PREFIX + hashlib.sha256(self.content).hexdigest()

    def describe(self) -> str:
        """A few words for a refusal: "a symlink to /etc/x", "unreadable (EACCES)"."""
        if self.kind is FileKind.SYMLINK:
            return f"a symlink to {self.link_target}" if self.link_target else "a symlink"
        if self.kind is FileKind.UNREADABLE:
            return f"unreadable ({self.reason})" if self.reason else "unreadable"
        return self.kind.value


ABSENT = FileState(FileKind.ABSENT)


def expect_content(text: str | None) -> str:
    """The expectation that a path holds exactly ``text`` (None: that it is absent)."""
    if text is None:
        return EXPECT_ABSENT
    return _SHA_PREFIX + hashlib.sha256(text.encode()).hexdigest()


def check_expectation(path: str, found: FileState, expect: str | None) -> None:
    """TargetChanged unless ``found`` is what ``expect`` says (None: anything)."""
    if expect is None:
        return
    if expect == EXPECT_ABSENT:
        if found.exists:
            raise TargetChanged(
                f"{path} appeared since the plan was made ({found.describe()}); "
                "it is left as it is: plan again"
            )
        return
    if found.kind is not FileKind.REGULAR:
        what = "was removed" if not found.exists else f"is now {found.describe()}"
        raise TargetChanged(f"{path} {what} since the plan was made: plan again")
    if found.digest != expect:
        raise TargetChanged(
            f"{path} was changed by someone else since the plan was made; "
            "it is left as it is: plan again"
        )


def rooted_state(files: RootedFiles, path: str) -> FileState:
    """``path`` resolved inside ``files``' root, never followed out of it."""
    try:
        info = files.lstat(path)
    except PermissionError as error:
        return FileState(FileKind.UNREADABLE, reason=error.strerror)
    except OSError as error:
        # A component that is not a directory, or a symlink loop on the way.
        return FileState(FileKind.UNREADABLE, reason=error.strerror)
    if info is None:
        return ABSENT
    if info.is_symlink:
        link = _readlink_in(files, path)
        return FileState(FileKind.SYMLINK, link_target=link, uid=info.uid, gid=info.gid)
    if not info.is_regular:
        return FileState(FileKind.OTHER, uid=info.uid, gid=info.gid)
    try:
        fd = files.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_NOFOLLOW)
    except OSError as error:
        return FileState(FileKind.UNREADABLE, uid=info.uid, gid=info.gid, reason=error.strerror)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return FileState(FileKind.OTHER, uid=info.uid, gid=info.gid)
        content = _read_all(fd, MAX_FILE_BYTES + 1)
    except OSError as error:
        return FileState(FileKind.UNREADABLE, uid=info.uid, gid=info.gid, reason=error.strerror)
    finally:
        os.close(fd)
    if len(content) > MAX_FILE_BYTES:
        return FileState(
            FileKind.UNREADABLE, uid=info.uid, gid=info.gid, reason="larger than 1 MiB"
        )
    return FileState(FileKind.REGULAR, content=content, uid=info.uid, gid=info.gid)


def _readlink_in(files: RootedFiles, path: str) -> str | None:
    parent, name = os.path.split(os.path.normpath("/" + path.lstrip("/")))
    try:
        with files.directory(parent or "/") as dirfd:
            return os.readlink(name, dir_fd=dirfd)
    except OSError:
        return None


def _read_all(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def rooted_write(
    files: RootedFiles,
    path: str,
    data: bytes,
    *,
    mode: int,
    owner: tuple[int, int] | None,
    expect: str | None,
) -> None:
    """Check ``expect`` and write ``path`` (O_EXCL temporary, rename) inside the root."""
    check_expectation(path, rooted_state(files, path), expect)
    try:
        files.write_new(path, data, mode, owner, replace=expect != EXPECT_ABSENT)
    except FileExistsError as error:
        raise TargetChanged(f"{path} appeared while gtui was writing it; left as it is") from error


def rooted_remove(files: RootedFiles, path: str, *, expect: str | None) -> bool:
    """Check ``expect`` and unlink ``path`` (never what a symlink points to)."""
    found = rooted_state(files, path)
    check_expectation(path, found, expect)
    if not found.exists:
        return False
    if found.kind not in (FileKind.REGULAR,):
        raise TargetChanged(f"{path} is {found.describe()}: gtui removes only its own files")
    return files.remove(path)
