"""Where gtui keeps what must survive a crash: journals, archive, audit log, locks.

``$GTUI_STATE_DIR`` when set (tests), else ``$XDG_STATE_HOME/gunicorn-tui``,
else ``~/.local/state/gunicorn-tui`` (the XDG base directory default).
"""

from __future__ import annotations

import os
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


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700: journals hold full container inspects)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def write_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new
    file, never a torn one: write a sibling, fsync it, rename, fsync the dir."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
