"""Messages the dashboard's background work posts to the UI thread."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from gunicorn_tui.compare.epochs import EpochChange
from gunicorn_tui.monitor.monitor import MonitorFrame


@dataclass
class FrameSampled(Message):
    """The sampler finished one frame (``changes``: new epochs it revealed,
    by instance key). ``forwarded`` frames were sampled by a guided A/B run,
    not the dashboard's sampler, so they do not schedule the next sample."""

    frame: MonitorFrame
    requested_at: float
    changes: dict[str, EpochChange] = field(default_factory=dict)
    forwarded: bool = False

    def can_replace(self, message: Message) -> bool:
        # A newer frame makes an undelivered older one worthless.
        return isinstance(message, FrameSampled)


@dataclass
class SamplingFailed(Message):
    """The sampler raised; the dashboard keeps running and says why."""

    error: str
    requested_at: float
