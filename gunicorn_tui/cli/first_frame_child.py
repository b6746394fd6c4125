"""The dashboard's first frame, sampled in a forked child of ``gtui``.

A full first frame needs two samples some interval apart (a CPU figure is
a difference of two readings). Sampling is Python on the CPU, and so are
Textual's import and start: in two threads of one process they take turns
under one GIL, even on a machine with a free core. So ``gtui`` forks, before
it imports Textual, a child that opens its own monitor on the same targets,
takes the priming sample, waits :data:`FIRST_FRAME_AFTER_S`, samples the
first frame and sends it back over a pipe, then exits: on two cores the
frame is taken while the parent imports Textual. The parent opens its own
monitor after the first paint (its next frame measures its own interval).

The child runs our code only (forked from ``gtui`` itself, with no other
thread), writes nothing to the terminal, and its frame crosses a private
pipe (pickled: what the parent reads is what its own child wrote). When
anything fails (no fork, a child that dies, errs or is late), the parent
samples in-process as before: the child is a shortcut, never a different
answer.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

from gunicorn_tui.cli.target_monitor import open_monitor
from gunicorn_tui.monitor.monitor import MonitorFrame

# The first frame's CPU figures are differences over this interval.
FIRST_FRAME_AFTER_S = 0.1
# The child's own monitor never loads docker-py (log streams): it is gone long before.
_CHILD_ENGINE_CLIENT_DELAY_S = 3600.0
# What the child's frame may weigh at most (a few KB per container).
_MAX_FRAME_BYTES = 64 * 1024 * 1024
# Written by the child once its monitor is open and primed (its targets
# found): the parent may start the UI then; the frame follows.
PRIMED_MARK = b"P"


def can_fork() -> bool:
    """Whether a child may be forked now: Linux, and no other thread (a fork
    copies only the calling thread; a lock another one held would stay held)."""
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


@dataclass
class FirstFrameChild:
    """A forked child sampling the first frame; :meth:`frame` collects it."""

    pid: int
    read_fd: int
    collected: bool = False
    # Whether the child said it primed its monitor (its targets are there).
    primed: bool = False
    # Set when the child has primed its monitor, or has ended (either way).
    primed_or_ended: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, args: argparse.Namespace) -> FirstFrameChild | None:
        """Fork the child; None when forking is not possible here."""
        if not can_fork():
            return None
        try:
            read_fd, write_fd = os.pipe()
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            return None
        if pid == 0:  # pragma: no cover - the child ends in os._exit
            os.close(read_fd)
            _child_main(args, write_fd)
        os.close(write_fd)
        return cls(pid, read_fd)

    def frame(self, timeout_s: float) -> MonitorFrame | None:
        """The child's first frame, or None (it failed, or took longer than
        ``timeout_s``: then it is killed). The child is reaped either way."""
        if self.collected:
            return None
        self.collected = True
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + timeout_s
        complete = False
        try:
            while size <= _MAX_FRAME_BYTES:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([self.read_fd], [], [], left)
                if not ready:
                    break
                chunk = os.read(self.read_fd, 65536)
                if not chunk:
                    complete = True
                    break
                chunks.append(chunk)
                size += len(chunk)
                if not self.primed_or_ended.is_set():
                    self.primed = chunks[0].startswith(PRIMED_MARK)
                    self.primed_or_ended.set()
        except OSError:
            complete = False
        finally:
            os.close(self.read_fd)
            self._reap(kill=not complete)
            self.primed_or_ended.set()
        data = b"".join(chunks)
        if not complete or not data.startswith(PRIMED_MARK):
            return None
        try:
            frame = pickle.loads(data[len(PRIMED_MARK) :])
        except Exception:  # a torn or odd frame: sampled in-process instead
            return None
        return frame if isinstance(frame, MonitorFrame) else None

    def abandon(self) -> None:
        """Kill the child if its frame was not collected yet: the reader of
        :meth:`frame` (if any) then sees the end of the pipe and reaps it."""
        if not self.collected:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)

    def _reap(self, *, kill: bool) -> None:
        if kill:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _child_main(args: argparse.Namespace, write_fd: int) -> None:  # pragma: no cover
    """Sample the first frame, write it to ``write_fd``, exit (never returns)."""
    code = 1
    try:
        # The terminal is the parent's: nothing of the child's may reach it.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        monitor = open_monitor(args, engine_client_delay_s=_CHILD_ENGINE_CLIENT_DELAY_S)
        monitor.sample()
        os.write(write_fd, PRIMED_MARK)
        time.sleep(FIRST_FRAME_AFTER_S)
        data = pickle.dumps(monitor.sample(), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
        code = 0
    except BaseException:  # the parent samples in-process and says what failed
        code = 1
    finally:
        # No clean-up of the monitor: its threads and sockets end with the
        # process, at once (the parent waits for this exit before it opens
        # its own, which may bind the same StatsD port).
        os._exit(code)
