"""Messages the dashboard's background work posts to the UI thread."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from gunicorn_tui.monitor.monitor import MonitorFrame


@dataclass
class FrameSampled(Message):
    """The sampler finished one frame."""

    frame: MonitorFrame
    requested_at: float

    def can_replace(self, message: Message) -> bool:
        # A newer frame makes an undelivered older one worthless.
        return isinstance(message, FrameSampled)


@dataclass
class SamplingFailed(Message):
    """The sampler raised; the dashboard keeps running and says why."""

    error: str
    requested_at: float
