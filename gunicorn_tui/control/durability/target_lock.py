"""One action at a time per target: across users on this host, and across hosts on one engine.

Two locks, taken in this order and released in reverse:

- :class:`HostLock`, an ``flock`` on a file in a directory every user of the
  host shares (``/run/lock/gunicorn-tui``, else ``/tmp/gunicorn-tui-locks``):
  ``sudo gtui`` and a colleague's ``gtui`` exclude each other. The kernel
  drops it when the holder dies, even by SIGKILL. Who holds it is read from
  ``/proc/locks`` (pid), then that process's user and command line.
- :class:`EngineLock`, for containers, a container named
  ``gtui-lock.NAME`` created (never started) on the target's engine, with
  labels naming the holder: a gtui on another host that drives the same
  engine sees it and stops. Names are unique per engine, so creating it is
  atomic. A lock container left by a gtui of *this* host that no longer
  runs is stale and removed; one from another host is reported with the
  command that removes it by hand.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import hashlib
import os
import re
import socket
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from gunicorn_tui.access.docker_engine import DockerEngine
from gunicorn_tui.access.errors import AccessError
from gunicorn_tui.access.processes import ProcessRef, is_running, start_ticks_of

LOCK_DIR_ENV = "GTUI_LOCK_DIR"
_SHARED_DIRS = ("/run/lock/gunicorn-tui", "/tmp/gunicorn-tui-locks")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")

LOCK_LABEL = "io.gunicorn-tui.lock"
LOCK_PREFIX = "gtui-lock."
# Engine locks this process holds now: a lock container naming this process
# that is not among them was left behind (its removal failed: the engine was
# unreachable) and is stale.
_HELD_HERE: set[str] = set()


class LockHeld(Exception):
    """Another action on the same target is in progress; the message names its holder."""


def lock_key(text: str) -> str:
    """A file-name-safe key for a target (container name, ``pid-N``)."""
    return _UNSAFE.sub("_", text)[:120] or "_"


def shared_lock_dir() -> Path:
    """The host-wide lock directory (created world-writable and sticky, like /tmp)."""
    override = os.environ.get(LOCK_DIR_ENV)
    candidates = (override,) if override else _SHARED_DIRS
    last: OSError | None = None
    for candidate in candidates:
        path = Path(candidate)
        if not path.parent.is_dir():
            continue
        try:
            os.mkdir(path, 0o1777)
            os.chmod(path, 0o1777)  # the umask took bits off
        except FileExistsError:
            pass
        except OSError as error:
            last = error
            continue
        info = os.lstat(path)
        if stat.S_ISDIR(info.st_mode):
            return path
    raise OSError(f"no usable lock directory ({last or 'none of ' + ', '.join(candidates)})")


def _open_lock_file(path: Path) -> int:
    """Open (creating when absent) a lock file another user may own.

    Without ``O_CREAT`` first: with ``fs.protected_regular`` the kernel
    refuses ``O_CREAT`` on another user's file in a sticky directory, even
    to root. Never follows a symlink, never blocks on a FIFO.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    for _ in range(3):
        try:
            return os.open(path, flags)
        except FileNotFoundError:
            pass
        try:
            return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
    raise OSError(errno.EAGAIN, f"{path} keeps appearing and disappearing")


def _holder_pid(fd: int) -> int | None:
    """The pid holding the flock on ``fd``'s file, from /proc/locks."""
    info = os.fstat(fd)
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
                    return int(fields[4])
    except (OSError, ValueError):
        return None
    return None


def describe_process(pid: int) -> str:
    """ "pid 12, user alice (uid 1000): gtui retune web" (what can be read of it)."""
    user = "?"
    command = ""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("Uid:"):
                    user = _user_name(int(line.split()[1]))
                    break
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = handle.read().split(b"\0")
        text = " ".join(w.decode("utf-8", "replace") for w in words if w)
        # One line, no control characters: it ends up on a terminal.
        command = "".join(c if c.isprintable() else " " for c in text)[:120]
    except (OSError, ValueError):
        pass
    text = f"pid {pid}, user {user}"
    return f"{text}: {command}" if command else text


def _user_name(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, ImportError):
        return f"uid {uid}"


class HostLock:
    """An exclusive, non-blocking flock shared by every user of this host."""

    def __init__(
        self, directory: Path | None, key: str, purpose: str, label: str | None = None
    ) -> None:
        self.directory = directory
        self.key = key
        self.label = label or key  # for messages: the target as the operator names it
        self.purpose = purpose
        self._fd: int | None = None
        self._note: Path | None = None

    @property
    def path(self) -> Path:
        directory = self.directory if self.directory is not None else shared_lock_dir()
        return directory / f"{lock_key(self.key)}.lock"

    def acquire(self) -> None:
        """Take the lock or raise LockHeld naming the holder."""
        if self.directory is not None:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.path
        try:
            fd = _open_lock_file(path)
        except OSError as error:
            raise LockHeld(
                f"{self.label}: cannot open the lock {path}: {error.strerror}"
            ) from error
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise LockHeld(f"{self.label}: {path} is not a regular file: remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder_pid(fd)
            os.close(fd)
            raise LockHeld(
                f"{self.label}: another action is in progress ({self._holder(pid)})"
            ) from None
        self._fd = fd
        self._note = _write_note(path, self.purpose)

    def _holder(self, pid: int | None) -> str:
        if pid is None:
            return "holder unknown"
        purpose = _read_note(self.path, pid)
        described = describe_process(pid)
        return f"{purpose} by {described}" if purpose else described

    def release(self) -> None:
        if self._fd is None:
            return
        if self._note is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._note)
            self._note = None
        os.close(self._fd)  # closing the descriptor drops the flock
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _note_path(lock_path: Path, pid: int) -> Path:
    return lock_path.with_name(f"{lock_path.name}.{pid}")


def _write_note(lock_path: Path, purpose: str) -> Path | None:
    """What the holder is doing, beside the lock (other users may read it)."""
    note = _note_path(lock_path, os.getpid())
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with contextlib.suppress(OSError):
        os.unlink(note)  # a note a crashed holder with this pid left
    try:
        fd = os.open(note, flags, 0o644)
    except OSError:
        return None
    try:
        os.write(fd, purpose.encode()[:200])
    finally:
        os.close(fd)
    return note


def _read_note(lock_path: Path, pid: int) -> str | None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(_note_path(lock_path, pid), flags)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        text = os.read(fd, 200).decode("utf-8", "replace")
    finally:
        os.close(fd)
    return "".join(c for c in text if c.isprintable()) or None


def _host_identity() -> str:
    """This host's boot: machine id and boot id (a pid means something only within it)."""
    parts = []
    for path in ("/etc/machine-id", "/proc/sys/kernel/random/boot_id"):
        try:
            parts.append(Path(path).read_text().strip())
        except OSError:
            parts.append("?")
    return ":".join(parts)


def scoped_key(key: str, engine_id: str | None) -> str:
    """The host lock's key for a target on an engine (two engines may both have a "web")."""
    if not engine_id:
        return key
    return f"{hashlib.sha256(engine_id.encode()).hexdigest()[:12]}-{key}"


class EngineLock:
    """A never-started container on the target's engine that says who acts on the target.

    ``inspect`` is the target container's (its name, id and image are used;
    for recovery, the inspect kept in the journal).
    """

    def __init__(self, engine: DockerEngine, inspect: Mapping[str, Any], purpose: str) -> None:
        self.engine = engine
        self.target_name = str(inspect.get("Name", "")).lstrip("/")
        self.target_id = str(inspect.get("Id", ""))
        self.image = str(inspect.get("Image", ""))
        self.purpose = purpose
        self.name = LOCK_PREFIX + self.target_name
        self._id: str | None = None

    def _body(self) -> dict[str, Any]:
        me = ProcessRef(os.getpid(), start_ticks_of(os.getpid()))
        labels = {
            LOCK_LABEL: self.target_name,
            f"{LOCK_LABEL}.target-id": self.target_id,
            f"{LOCK_LABEL}.host": socket.gethostname(),
            f"{LOCK_LABEL}.boot": _host_identity(),
            f"{LOCK_LABEL}.pid": str(me.pid),
            f"{LOCK_LABEL}.pid-start": str(me.start_ticks or ""),
            f"{LOCK_LABEL}.user": _safe_user(),
            f"{LOCK_LABEL}.purpose": self.purpose,
            f"{LOCK_LABEL}.since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        return {
            "Image": self.image,
            # Never started; if someone does, it fails at once and runs nothing.
            "Entrypoint": ["/nonexistent/gtui-lock-is-never-started"],
            "Cmd": [],
            "Labels": labels,
            "NetworkDisabled": True,
            "HostConfig": {"NetworkMode": "none", "RestartPolicy": {"Name": "no"}},
        }

    def acquire(self) -> None:
        """Create the lock container, or raise LockHeld naming the holder."""
        for _ in range(2):
            try:
                self._id = self.engine.create(self.name, self._body())
                _HELD_HERE.add(self._id)
                return
            except AccessError as error:
                existing = self.engine.inspect(self.name)
                if existing is None:
                    raise LockHeld(f"{self.target_name}: cannot lock it: {error}") from error
            if not self._stale(existing):
                raise LockHeld(self._held_message(existing))
            with contextlib.suppress(AccessError):
                self.engine.remove(str(existing.get("Id")), force=True)
        raise LockHeld(f"{self.target_name}: another gtui took the lock at the same moment")

    def _stale(self, existing: Mapping[str, Any]) -> bool:
        labels = dict((existing.get("Config") or {}).get("Labels") or {})
        if LOCK_LABEL not in labels:
            return False  # not a lock of gtui's: never removed
        if labels.get(f"{LOCK_LABEL}.boot") != _host_identity():
            return False  # another host (or before a reboot): cannot tell
        try:
            pid = int(labels.get(f"{LOCK_LABEL}.pid", ""))
        except ValueError:
            return True
        ticks_text = labels.get(f"{LOCK_LABEL}.pid-start", "")
        ticks = int(ticks_text) if ticks_text.isdigit() else None
        if pid == os.getpid() and ticks == start_ticks_of(pid):
            return str(existing.get("Id")) not in _HELD_HERE
        return not is_running(ProcessRef(pid, ticks))

    def _held_message(self, existing: Mapping[str, Any]) -> str:
        labels = dict((existing.get("Config") or {}).get("Labels") or {})
        if LOCK_LABEL not in labels:
            return (
                f"{self.target_name}: a container named {self.name} exists and is not a lock "
                "of gtui's: remove or rename it"
            )
        who = (
            f"{labels.get(f'{LOCK_LABEL}.purpose', 'an action')} by pid "
            f"{labels.get(f'{LOCK_LABEL}.pid', '?')}, user {labels.get(f'{LOCK_LABEL}.user', '?')}"
            f", on host {labels.get(f'{LOCK_LABEL}.host', '?')} since "
            f"{labels.get(f'{LOCK_LABEL}.since', '?')}"
        )
        return (
            f"{self.target_name}: another action is in progress ({who}); if that gtui is gone, "
            f"remove the lock with `docker rm {self.name}`"
        )

    def release(self) -> None:
        if self._id is None:
            return
        _HELD_HERE.discard(self._id)
        with contextlib.suppress(AccessError):
            self.engine.remove(self._id, force=True)
        self._id = None


def _safe_user() -> str:
    try:
        return f"{getpass.getuser()} (uid {os.geteuid()})"
    except (KeyError, OSError):
        return f"uid {os.geteuid()}"


class TargetLock:
    """The host lock, plus the engine lock for a container (see the module docstring)."""

    def __init__(
        self,
        directory: Path | None,
        key: str,
        purpose: str,
        *,
        engine: DockerEngine | None = None,
        inspect: Mapping[str, Any] | None = None,
        label: str | None = None,
    ) -> None:
        self.key = key
        self.purpose = purpose
        self.host = HostLock(directory, key, purpose, label)
        self.engine_lock = (
            EngineLock(engine, inspect, purpose)
            if engine is not None and inspect is not None
            else None
        )

    @property
    def path(self) -> Path:
        return self.host.path

    def acquire(self) -> None:
        """Take both locks or raise LockHeld (holding neither)."""
        self.host.acquire()
        if self.engine_lock is not None:
            try:
                self.engine_lock.acquire()
            except BaseException:
                self.host.release()
                raise

    def release(self) -> None:
        if self.engine_lock is not None:
            self.engine_lock.release()
        self.host.release()

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
