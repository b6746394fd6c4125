"""An operator's interrupt of a running action: asked for once, honoured between steps.

The CLI sets it from its SIGINT/SIGTERM handlers and the dashboard when the
operator quits during an action. The executor lets the current step finish
(a wait is cut short), then rolls back or completes, so the service ends on
the old or the new configuration, never in between.
"""

from __future__ import annotations

import threading


class Interrupt:
    """A thread-safe flag with the reason it was raised."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reason: str | None = None

    def request(self, reason: str) -> bool:
        """Ask running work to stop; False when it was already asked."""
        if self._event.is_set():
            return False
        self._reason = reason
        self._event.set()
        return True

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str | None:
        return self._reason
