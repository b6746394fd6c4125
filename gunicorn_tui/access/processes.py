"""Processes on this host, pinned by pid *and* start time, signalled through pidfds.

A pid read at plan time may name another process by the time a step runs
(the master exited, the pid was reused): ``kill(pid)`` would then hit an
unrelated process, as root. A :class:`ProcessRef` carries the process's
start time (``/proc/PID/stat`` field 22, in clock ticks since boot); every
signal opens a pidfd first, checks the start time through it, and sends
the signal to that pidfd, so the check and the signal are about the same
process. This is what ``kill`` in procps and systemd do since Linux 5.3.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal as signals
import time
from collections.abc import Iterator
from dataclasses import dataclass

from gunicorn_tui.access.errors import TargetChanged, TargetGone
from gunicorn_tui.host.procfs import PROC, ProcessGone, read_stat


@dataclass(frozen=True)
class ProcessRef:
    """One process on this host: its pid and when it started."""

    pid: int
    # /proc/PID/stat starttime; None when it could not be read (then only the
    # pid is checked, and the plan says so).
    start_ticks: int | None = None


def start_ticks_of(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or None if it is gone."""
    try:
        return read_stat(pid).start_ticks
    except (ProcessGone, PermissionError, OSError):
        return None


def process_ref(pid: int) -> ProcessRef:
    """A reference to the process running as ``pid`` now."""
    return ProcessRef(pid, start_ticks_of(pid))


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return True
    fields = raw[raw.rfind(b")") + 2 :].split()
    return not fields or fields[0] in (b"Z", b"X")


@contextlib.contextmanager
def pinned(ref: ProcessRef) -> Iterator[int]:
    """A pidfd of ``ref``'s process; TargetGone or TargetChanged when it is not there."""
    try:
        fd = os.pidfd_open(ref.pid)
    except ProcessLookupError as error:
        raise TargetGone(f"process {ref.pid} is gone") from error
    except OSError as error:
        raise TargetGone(f"process {ref.pid}: {error.strerror}") from error
    try:
        # The pidfd now holds the process: a start time read after opening it
        # that matches belongs to the same process the pidfd refers to.
        if ref.start_ticks is not None:
            now = start_ticks_of(ref.pid)
            if now is None:
                raise TargetGone(f"process {ref.pid} is gone")
            if now != ref.start_ticks:
                raise TargetChanged(
                    f"pid {ref.pid} now belongs to another process (the planned one exited)"
                )
        if _is_zombie(ref.pid):
            raise TargetGone(f"process {ref.pid} has exited")
        yield fd
    finally:
        os.close(fd)


def send_signal(ref: ProcessRef, signal_number: int) -> None:
    """Send ``signal_number`` to exactly ``ref``'s process."""
    with pinned(ref) as fd:
        try:
            signals.pidfd_send_signal(fd, signal_number)
        except ProcessLookupError as error:
            raise TargetGone(f"process {ref.pid} is gone") from error
        except PermissionError as error:
            raise TargetChanged(f"not allowed to signal process {ref.pid}: {error}") from error


def is_running(ref: ProcessRef) -> bool:
    """True while ``ref``'s process runs (a zombie, or a reused pid, is not it)."""
    try:
        with pinned(ref):
            return True
    except (TargetGone, TargetChanged):
        return False


def wait_gone(ref: ProcessRef, timeout_s: float) -> bool:
    """Wait until ``ref``'s process has exited (True) or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    try:
        with pinned(ref) as fd:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while True:
                _reap(ref.pid)
                if _is_zombie(ref.pid) or not os.path.exists(f"{PROC}/{ref.pid}"):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # A pidfd is readable once its process exits.
                if poller.poll(min(left, 0.05) * 1000):
                    _reap(ref.pid)
                    return True
    except (TargetGone, TargetChanged):
        return True


def _reap(pid: int) -> None:
    # A master gtui started is its child: reap it so it does not linger as a zombie.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def signal_number(name: str) -> int:
    """``"HUP"`` or ``"SIGHUP"`` to its number (ValueError when unknown)."""
    text = name.upper()
    text = text if text.startswith("SIG") else f"SIG{text}"
    number = getattr(signals, text, None)
    if not isinstance(number, int):
        raise ValueError(f"unknown signal {name!r}")
    return int(number)
