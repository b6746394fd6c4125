"""Where gtui keeps what must survive a crash: journals, archive, audit log, locks.

``$GTUI_STATE_DIR`` when set (tests), else ``$XDG_STATE_HOME/gunicorn-tui``,
else ``~/.local/state/gunicorn-tui`` (the XDG base directory default).

Journals hold full container inspects (``Env`` included: database URLs,
tokens) and the environments of host masters, so everything here is private:
directories 0700, files 0600. New ones are made so, and
:func:`secure_state_dir` puts back what an older gtui, a copy or a umask
left wider, every time gtui starts.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

STATE_DIR_ENV = "GTUI_STATE_DIR"
APP_DIR_NAME = "gunicorn-tui"


def state_dir(environment: dict[str, str] | None = None) -> Path:
    """The state directory (not created)."""
    env = os.environ if environment is None else environment
    override = env.get(STATE_DIR_ENV)
    if override:
        return Path(override)
    xdg = env.get("XDG_STATE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / APP_DIR_NAME
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".local" / "state" / APP_DIR_NAME


DIR_MODE = 0o700
FILE_MODE = 0o600


def ensure_dir(path: Path) -> Path:
    """Create ``path``, or make an existing one, mode 0700 (journals hold
    full container inspects)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def write_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600) so that a crash leaves the
    old or the new file, never a torn one: write a sibling, fsync it, rename,
    fsync the dir."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()  # left by a crash of a process with this pid
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with open(os.open(temporary, flags, FILE_MODE), "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)


def open_private_append(path: Path) -> int:
    """A descriptor appending to ``path`` (created 0600, made 0600 if it was
    wider; a symlink there is refused)."""
    fd = os.open(
        path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE
    )
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def secure_state_dir(path: Path) -> tuple[str, ...]:
    """Make ``path`` and everything under it private: directories 0700,
    regular files 0600. Symlinks are never followed (nor changed). Returns
    the paths whose mode was changed; nothing happens when ``path`` does not
    exist (it is created 0700 on first write). OSError when ``path`` itself
    cannot be opened as a directory."""
    try:
        top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return ()
    fixed: list[str] = []
    try:
        _private(top, DIR_MODE, str(path), fixed)
        for root, dirs, files, root_fd in os.fwalk(dir_fd=top, follow_symlinks=False):
            where = os.path.normpath(os.path.join(path, root))
            for name in dirs:
                _fix_entry(root_fd, name, os.path.join(where, name), fixed)
            for name in files:
                _fix_entry(root_fd, name, os.path.join(where, name), fixed)
    finally:
        os.close(top)
    return tuple(fixed)


def _fix_entry(dir_fd: int, name: str, shown: str, fixed: list[str]) -> None:
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        flags, mode = os.O_RDONLY | os.O_DIRECTORY, DIR_MODE
    elif stat.S_ISREG(info.st_mode):
        flags, mode = os.O_PATH, FILE_MODE
    else:
        return  # a symlink, or something gtui never writes
    if stat.S_IMODE(info.st_mode) == mode:
        return
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return
    try:
        if stat.S_ISREG(info.st_mode):
            # fchmod does not take an O_PATH handle; its /proc link does,
            # and reaches exactly the file checked, not one swapped in.
            os.chmod(f"/proc/self/fd/{fd}", mode)
            fixed.append(shown)
        else:
            _private(fd, mode, shown, fixed)
    finally:
        os.close(fd)


def _private(fd: int, mode: int, shown: str, fixed: list[str]) -> None:
    if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
        os.fchmod(fd, mode)
        fixed.append(shown)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
