"""Run a host master's command as that master would: its user, its environment, its directory.

The restart path and ``--check-config`` of a host master run the server's own
interpreter, which imports the server's code. That code must never run with
gtui's privileges (root), nor see gtui's environment. So the child gets:

- the master's uid and gid, and no supplementary groups (``setgroups([])``);
- exactly the master's environment, nothing of gtui's;
- the master's working directory, entered *after* the identity change
  (``subprocess``'s ``cwd=`` would ``chdir`` as root, following a symlink
  the user planted to a directory only root may enter);
- no terminal: stdin from /dev/null and a session of its own, so it cannot
  push keystrokes into the operator's terminal (``TIOCSTI``).

The directory change and the ``exec`` are done by the host's ``/bin/sh``
(``cd`` then ``exec``), running as the target user: nothing of the target
runs before the ``exec``, and a POSIX ``sh -c`` reads no startup file
whatever the environment holds (``ENV`` is for interactive shells only).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gunicorn_tui.access.errors import AccessError, AccessRefused

CHECK_TIMEOUT_S = 60.0

# cd as the target user, then exec its command; 126/127 as a shell reports them.
_ENTER = 'cd -- "$1" 2>/dev/null || { echo "cannot enter $1" >&2; exit 126; }; shift; '
_SHELL = "/bin/sh"
# Variables the shell itself sets: given back the value the master had, or removed.
_SHELL_SET = ("PWD", "OLDPWD")


@dataclass(frozen=True)
class RunAs:
    """Who a command runs as: a uid and gid, never with supplementary groups."""

    uid: int
    gid: int

    def describe(self) -> str:
        return f"uid {self.uid}, gid {self.gid}, no supplementary groups"


def _identity(run_as: RunAs) -> tuple[int | None, int | None, list[int] | None]:
    """``user``, ``group`` and ``extra_groups`` for Popen."""
    if os.geteuid() == 0:
        return run_as.uid, run_as.gid, []
    if (run_as.uid, run_as.gid) == (os.getuid(), os.getgid()):
        return None, None, None
    raise AccessRefused(
        f"the server runs as uid {run_as.uid}; gtui (uid {os.getuid()}) cannot act as that user"
    )


def _command(argv: Sequence[str], cwd: str, environment: Mapping[str, str]) -> list[str]:
    if not argv:
        raise AccessRefused("no command to run")
    restore = "".join(
        f"{name}={shlex.quote(environment[name])}; export {name}; "
        if name in environment
        else f"unset {name}; "
        for name in _SHELL_SET
    )
    return [_SHELL, "-c", _ENTER + restore + 'exec "$@"', "gtui-enter", cwd, *argv]


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    output: str


def run_as_master(
    argv: Sequence[str],
    *,
    environment: Mapping[str, str],
    cwd: str,
    run_as: RunAs,
    timeout_s: float = CHECK_TIMEOUT_S,
) -> CommandResult:
    """Run ``argv`` to completion as ``run_as`` in ``cwd`` with exactly ``environment``."""
    user, group, extra_groups = _identity(run_as)
    try:
        process = subprocess.Popen(
            _command(argv, cwd, environment),
            env=dict(environment),
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )
    except OSError as error:
        raise AccessError(f"could not run {argv[0]}: {error.strerror or error}") from error
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as error:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AccessError(f"{argv[0]} did not finish within {timeout_s:.0f} s") from error
    return CommandResult(process.returncode, output.decode("utf-8", "replace"))


def start_as_master(
    argv: Sequence[str],
    *,
    environment: Mapping[str, str],
    cwd: str,
    run_as: RunAs,
    log_path: Path,
) -> int:
    """Start ``argv`` detached (own session, output appended to ``log_path``); its pid."""
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if log_path.parent.stat().st_mode & 0o077:
        log_path.parent.chmod(0o700)  # left wider by an older gtui or a umask
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(log_path, flags, 0o600)
        # The master's output may hold secrets (settings, tracebacks): private.
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    except OSError as error:
        raise AccessError(f"could not open the log {log_path}: {error.strerror}") from error
    user, group, extra_groups = _identity(run_as)
    try:
        process = subprocess.Popen(
            _command(argv, cwd, environment),
            env=dict(environment),
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )
    except OSError as error:
        raise AccessError(f"could not start {argv[0]}: {error.strerror or error}") from error
    finally:
        os.close(fd)
    # Reap it when it exits, for as long as gtui runs.
    threading.Thread(target=process.wait, name=f"gtui-reap-{process.pid}", daemon=True).start()
    pid: int = process.pid
    return pid
