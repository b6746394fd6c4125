"""What the dashboard reads its frames through.

The live :class:`~gunicorn_tui.monitor.monitor.Monitor` and a recording's
:class:`~gunicorn_tui.recording.playback.PlaybackSource` (``gtui replay``)
both are a :class:`FrameSource`; protocols, so the dashboard does not import
the recording code, and the monitor does not import the UI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gunicorn_tui.monitor.monitor import MonitorFrame
    from gunicorn_tui.sampling.local_instance import LaunchRecord


class Playback(Protocol):
    """A recording's time cursor: the app shows it and moves it."""

    @property
    def frames_played(self) -> int:
        """How many frames were played since the start."""
        ...

    @property
    def frame_count(self) -> int:
        """How many frames the recording holds."""
        ...

    @property
    def finished(self) -> bool:
        """Whether every frame was played."""
        ...

    def rewind(self) -> None:
        """Back to the first frame."""

    def apply_trailing_marks(self) -> None:
        """Apply the change marks recorded after the last frame."""


class FrameSource(Protocol):
    """Everything the dashboard calls on what it samples."""

    def sample(self) -> MonitorFrame:
        """The next frame (one thread at a time)."""
        ...

    def close(self) -> None:
        """Release what sampling holds (the app is over)."""

    @property
    def statsd_address(self) -> tuple[str, int] | None:
        """Where gtui's StatsD listener receives, if one runs."""
        ...

    def add_launch(self, launch: LaunchRecord) -> None:
        """Remember a server gtui (re)started, so its command line is known."""

    def request_rescan(self) -> None:
        """Rediscover at the next sample (after a retune, for instance)."""

    @property
    def playback(self) -> Playback | None:
        """The recording's time cursor; None for a live source."""
        ...
