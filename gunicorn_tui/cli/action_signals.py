"""SIGINT and SIGTERM during a CLI action: nothing half-done.

Before the first step runs (sampling, planning, the confirmation prompt), an
interrupt cancels: nothing has changed, the locks are released on the way
out. Once the plan runs, an interrupt is handed to the executor, which lets
the current step finish, then rolls back (or completes what was only
clean-up), and the command prints where the service stands. Further
interrupts are acknowledged, not obeyed: SIGKILL is the way to stop at once,
and it leaves a journal for ``gtui recover``.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType, TracebackType

from gunicorn_tui.control.running.interrupt import Interrupt

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Cancelled(Exception):
    """The operator interrupted before anything changed."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted ({signal_name}) before anything changed: nothing was done")
        self.signal_name = signal_name


def exit_code_for(signal_name: str | None) -> int:
    """128 + the signal's number, as a shell reports a command it stopped."""
    number = getattr(signal, signal_name or "", None)
    return 128 + int(number) if isinstance(number, int) else 130


class ActionSignals:
    """Installs the handlers for one action; ``running()`` switches to hand-over mode."""

    def __init__(self) -> None:
        self.interrupt = Interrupt()
        self._running = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> ActionSignals:
        for number in HANDLED:
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]

    def running(self) -> None:
        """The plan starts running: interrupts are honoured between its steps."""
        self._running = True

    def _handle(self, number: int, frame: FrameType | None) -> None:
        name = signal.Signals(number).name
        if not self._running:
            raise Cancelled(name)
        if self.interrupt.request(name):
            sys.stderr.write(
                f"\ninterrupted ({name}): finishing the current step, then rolling back "
                "(or completing what is only clean-up) ...\n"
            )
        else:
            sys.stderr.write(
                f"\n{name} again: still bringing the service to a known state; SIGKILL stops "
                "at once and leaves a journal for `gtui recover`\n"
            )
        sys.stderr.flush()
