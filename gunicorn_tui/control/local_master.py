"""Stop and start a Gunicorn master on this host (restart strategy)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from gunicorn_tui.control.master_access import StepError
from gunicorn_tui.control.state_dir import ensure_dir, open_private_append


def master_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_master(pid: int, timeout_s: float) -> str:
    """TERM (graceful stop) and wait for the master to exit."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return f"master {pid} had already exited"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not master_alive(pid):
            return f"master {pid} exited"
        time.sleep(0.05)
    raise StepError(f"master {pid} did not exit within {timeout_s:.0f} s of TERM")


def _reap(pid: int) -> None:
    # A master gtui started is its child: reap it so it does not linger as a zombie.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def start_master(
    argv: Sequence[str], environment: Mapping[str, str], cwd: str, log_path: Path
) -> int:
    """Start a master detached from gtui (own session, output to ``log_path``); its pid."""
    try:
        # The master's output may hold anything (its settings, secrets in
        # tracebacks): a private file in a private directory.
        ensure_dir(log_path.parent)
        with open(open_private_append(log_path), "ab") as log:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(environment),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as error:
        raise StepError(f"could not start {argv[0]}: {error}") from error
    # Reap it when it exits, for as long as gtui runs.
    threading.Thread(target=process.wait, name=f"gtui-reap-{process.pid}", daemon=True).start()
    return process.pid
