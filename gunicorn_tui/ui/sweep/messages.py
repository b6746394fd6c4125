"""What a sweep's thread posts to the UI thread (never waiting for it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from gunicorn_tui.sweep.runner import SweepProgress, SweepResult


@dataclass
class SweepProgressed(Message):
    """The runner reported a step (once a sample while measuring)."""

    progress: SweepProgress

    def can_replace(self, message: Message) -> bool:
        # An undelivered measurement tick is stale once the next one comes;
        # a change of stage or config is never dropped.
        return (
            isinstance(message, SweepProgressed)
            and message.progress.measurement is not None
            and self.progress.measurement is not None
            and message.progress.index == self.progress.index
        )


@dataclass
class SweepFinished(Message):
    """The sweep ended: its result, or why there is none (refused before
    anything changed, or a bug). Bubbles from the sweep screen to the app."""

    result: SweepResult | None
    error: str | None = None
