"""The load driver: a load run in a process of its own.

:class:`LoadRun` starts the run (the engine of :mod:`gunicorn_tui.load.engine`)
in a child process and returns at once; a supervising thread forwards each
second's summary to ``on_second``, passes a stop on, and hands the final
summary (or the reason there is none) to :meth:`LoadRun.join`.

Why a process: in gtui's own process the run would share the GIL with the
dashboard's redraws, the sampler and the log followers, and its latencies
would include the wait for them. In its own process the client's clock
measures the server, and the CPU it reports is its own. (``isolation =
"thread"`` still runs it in a thread of the caller's process, as gtui did
before: for comparisons, and where a process cannot be started.)

Bounded whatever the child does: a child that dies mid-run is reported as
such (:class:`LoadRunError` naming the signal or exit code); one that stops
talking (no word for ``_SILENCE_LIMIT_S`` once running; every second of a
run sends one) or outlives the run's bound plus a grace is killed and
reported; a stop reaches it within ``_POLL_S``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Literal

from gunicorn_tui.load.client_stack import ClientStack, best_stack
from gunicorn_tui.load.cpu_yield import CpuYield
from gunicorn_tui.load.driver_process import STOP_BYTE, FrameBuffer, encode_frame
from gunicorn_tui.load.engine import LoadRunError, SecondCallback, run_engine
from gunicorn_tui.load.profile import LoadProfile
from gunicorn_tui.load.summary import RunSummary, SecondSummary
from gunicorn_tui.load.target import LoadTarget

Isolation = Literal["process", "thread"]

# How often the supervisor looks at the stop event and the child.
_POLL_S = 0.05
# From start to the child's "ready": an interpreter and the driver's imports.
_START_LIMIT_S = 30.0
# Once ready, the child reports every second (its warm-up takes at most 2 s).
_SILENCE_LIMIT_S = 10.0
# Beyond the run's own bound (time bound, drain, warm-up).
_GRACE_S = 15.0
_WARM_UP_S = 2.0
_STDERR_TAIL_BYTES = 2000
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from gunicorn_tui.load.driver_process import main; main()"
)


class LoadRun:
    """A load run in a process (or thread) of its own.

    ``on_second`` is called in the supervising thread once a second with
    that second's summary: it must be quick and thread-safe (from Textual,
    post a message or use ``call_from_thread``). ``stop_event`` may be
    shared with the caller; :meth:`stop` sets it. ``stack`` defaults to the
    fastest installed (:func:`~gunicorn_tui.load.client_stack.best_stack`).
    """

    def __init__(
        self,
        profile: LoadProfile,
        target: LoadTarget,
        *,
        on_second: SecondCallback | None = None,
        stop_event: threading.Event | None = None,
        isolation: Isolation = "process",
        stack: ClientStack | None = None,
        yield_cpu: bool = True,
    ) -> None:
        self.profile = profile
        # In a process of its own: the caller's threads yield the CPU meanwhile
        # (see gunicorn_tui.load.cpu_yield).
        self.yield_cpu = yield_cpu and isolation == "process"
        self.target = target
        self.on_second = on_second
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self.isolation: Isolation = isolation
        self.stack = stack if stack is not None else best_stack()
        main = self._main_process if isolation == "process" else self._main_thread
        self._thread = threading.Thread(target=main, name="gtui-load", daemon=True)
        self._summary: RunSummary | None = None
        self._error: BaseException | None = None
        self._callback_warnings: list[str] = []
        self._started = threading.Event()
        self.started_at: float | None = None
        self.child_pid: int | None = None
        # Whether the caller's threads yielded the CPU during the run.
        self.yielded_cpu = False

    def start(self) -> LoadRun:
        """Start the run; returns at once."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to end now; in-flight requests are cut off."""
        self.stop_event.set()

    def wait_started(self, timeout_s: float) -> bool:
        """Wait until the run's clock started (its process up, its first
        connection made) or the run ended; True when it started. A
        measurement opens its window then: the driver's own process takes a
        moment to start, more on a busy machine."""
        self._started.wait(timeout_s)
        return self.started_at is not None

    def _mark_started(self, started_at: float) -> None:
        self.started_at = started_at
        self._started.set()

    @property
    def running(self) -> bool:
        """Whether the run has started and not yet ended."""
        return self._thread.is_alive()

    def join(self, timeout_s: float | None = None) -> RunSummary | None:
        """Wait for the end of the run and return its summary, or None if it
        is still running after ``timeout_s``. Raises :class:`LoadRunError`
        when the run broke down (its process died, or stopped answering)."""
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            return None
        if self._error is not None:
            if isinstance(self._error, LoadRunError):
                raise self._error
            raise LoadRunError(f"the load driver broke down: {self._error!r}") from self._error
        return self._summary

    # -- in a thread --------------------------------------------------------------

    def _main_thread(self) -> None:
        try:
            self._summary = run_engine(
                self.profile,
                self.target,
                stack=self.stack,
                on_second=self.on_second,
                stop_event=self.stop_event,
                on_start=self._mark_started,
            )
        except BaseException as exc:  # handed to join(), in the caller's thread
            self._error = exc
        finally:
            self._started.set()

    # -- in a process ---------------------------------------------------------------

    def _main_process(self) -> None:
        try:
            self._summary = self._supervise()
        except BaseException as exc:  # handed to join(), in the caller's thread
            self._error = exc
        finally:
            self._started.set()

    def _forward(self, second: SecondSummary) -> None:
        if self.on_second is None:
            return
        try:
            self.on_second(second)
        except Exception as exc:  # a broken consumer must not end the run
            message = f"the per-second callback failed: {exc!r}"
            if message not in self._callback_warnings:
                self._callback_warnings.append(message)

    def _supervise(self) -> RunSummary:
        try:
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE, _PACKAGE_ROOT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                close_fds=True,
            )
        except OSError as exc:
            raise LoadRunError(f"cannot start the load driver process: {exc}") from exc
        self.child_pid = child.pid
        assert child.stdin is not None and child.stdout is not None and child.stderr is not None
        stderr_tail: deque[bytes] = deque()
        drain = threading.Thread(
            target=_keep_tail,
            args=(child.stderr, stderr_tail),
            name="gtui-load-stderr",
            daemon=True,
        )
        drain.start()
        # After the start: the child keeps the nice of the thread that forked it.
        yielding = CpuYield(frozenset({threading.get_native_id()}))
        if self.yield_cpu:
            self.yielded_cpu = yielding.begin()
        try:
            return self._talk(child, child.stdin, child.stdout, stderr_tail, drain)
        finally:
            yielding.end()
            if child.poll() is None:
                child.kill()
            child.wait()
            for stream in (child.stdin, child.stdout):
                with contextlib.suppress(OSError):
                    stream.close()

    def _talk(
        self,
        child: subprocess.Popen[bytes],
        stdin: IO[bytes],
        stdout: IO[bytes],
        stderr_tail: deque[bytes],
        drain: threading.Thread,
    ) -> RunSummary:
        started = time.monotonic()
        bound_s = _WARM_UP_S + self.profile.time_bound_s + self.profile.drain_s + _GRACE_S
        try:
            stdin.write(encode_frame((self.profile, self.target, self.stack)))
            stdin.flush()
        except OSError:
            pass  # the child is already gone: said below, with its exit
        frames = FrameBuffer()
        fd = stdout.fileno()
        ready = False
        stop_sent = False
        seconds = 0
        last_word = started
        while True:
            if self.stop_event.is_set() and not stop_sent:
                stop_sent = True
                with contextlib.suppress(OSError):
                    stdin.write(STOP_BYTE)
                    stdin.flush()
            readable, _, _ = select.select([fd], [], [], _POLL_S)
            now = time.monotonic()
            if readable:
                data = os.read(fd, 65536)
                if not data:
                    break
                last_word = now
                for kind, payload in frames.feed(data):
                    if kind == "ready":
                        ready = True
                    elif kind == "started" and isinstance(payload, float):
                        self._mark_started(payload)
                    elif kind == "second":
                        assert isinstance(payload, SecondSummary)
                        seconds += 1
                        self._forward(payload)
                    elif kind == "done":
                        assert isinstance(payload, RunSummary)
                        return self._with_callback_warnings(payload)
                    elif kind == "error":
                        raise LoadRunError(str(payload))
                continue
            limit_s = _SILENCE_LIMIT_S if ready else _START_LIMIT_S
            if now - last_word > limit_s or now - started > bound_s:
                child.kill()
                what = "stopped answering" if now - started <= bound_s else "ran past its bound"
                raise LoadRunError(
                    f"the load driver process {what} (no word for {now - last_word:.0f} s, "
                    f"{now - started:.0f} s after its start) and was killed; "
                    f"{seconds} seconds of figures had arrived"
                )
        # End of file without a summary: the child died.
        try:
            code = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
        drain.join(timeout=1)
        raise LoadRunError(
            f"the load driver process died mid-run ({_describe_exit(code)}); "
            f"{seconds} seconds of figures had arrived" + _stderr_text(stderr_tail)
        )

    def _with_callback_warnings(self, summary: RunSummary) -> RunSummary:
        if not self._callback_warnings:
            return summary
        warnings = tuple(w for w in self._callback_warnings if w not in summary.warnings)
        return dataclasses.replace(summary, warnings=summary.warnings + warnings)


def _keep_tail(stream: IO[bytes], tail: deque[bytes]) -> None:
    size = 0
    with contextlib.suppress(OSError, ValueError):
        for line in iter(stream.readline, b""):
            tail.append(line)
            size += len(line)
            while size > _STDERR_TAIL_BYTES and len(tail) > 1:
                size -= len(tail.popleft())


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _stderr_text(tail: deque[bytes]) -> str:
    text = b"".join(tail).decode("utf-8", "replace").strip()
    if not text:
        return ""
    last = text.splitlines()[-1]
    return f"; its last words: {last[:300]}"


def run_load(
    profile: LoadProfile,
    target: LoadTarget,
    *,
    on_second: SecondCallback | None = None,
    stop_event: threading.Event | None = None,
    isolation: Isolation = "process",
    stack: ClientStack | None = None,
) -> RunSummary:
    """Run ``profile`` against ``target`` to its end and return the summary.

    The run happens in its own process (or thread), so this is safe to call
    from a thread that has an event loop; this call blocks until it ends.
    """
    run = LoadRun(
        profile,
        target,
        on_second=on_second,
        stop_event=stop_event,
        isolation=isolation,
        stack=stack,
    ).start()
    summary = run.join()
    assert summary is not None
    return summary


__all__ = [
    "Isolation",
    "LoadRun",
    "LoadRunError",
    "SecondCallback",
    "run_load",
]
