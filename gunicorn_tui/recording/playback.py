"""Playing a session back: its frames in order, with gtui's change marks
applied to the epochs between them as they were live, so the epochs and
comparisons come out as they did."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gunicorn_tui.compare.epochs import EpochRegistry
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.recording.session_file import RecordedMark, Recording

if TYPE_CHECKING:
    from gunicorn_tui.sampling.local_instance import LaunchRecord


def apply_mark(registry: EpochRegistry, mark: RecordedMark) -> None:
    """Make the call the live tracker of ``mark.key`` got."""
    tracker = registry.tracker(mark.key) if mark.key else None
    if tracker is None:
        return
    if mark.call == "begin_change":
        tracker.begin_change(mark.reason or "", at=mark.at)
    elif mark.call == "end_change":
        tracker.end_change(at=mark.at, note=mark.note, warmup_s=mark.warmup_s)
    elif mark.call == "mark_change":
        tracker.mark_change(mark.reason or "", at=mark.at, warmup_s=mark.warmup_s)


class PlaybackSource:
    """A frame source over a recording (the dashboard's FrameSource): each
    ``sample`` applies the marks recorded before the next frame to
    ``registry`` (the dashboard's epochs) and returns that frame. At the end
    the last frame is repeated."""

    def __init__(self, recording: Recording, registry: EpochRegistry) -> None:
        self.recording = recording
        self.registry = registry
        self._events = recording.events
        self._next = 0
        self.frames_played = 0
        self.frame_count = len(recording.frames)
        self.last: MonitorFrame | None = None

    @property
    def finished(self) -> bool:
        """Whether every frame was played."""
        return self.frames_played >= self.frame_count

    def sample(self) -> MonitorFrame:
        """The next recorded frame (marks before it applied)."""
        while self._next < len(self._events):
            event = self._events[self._next]
            self._next += 1
            if isinstance(event, RecordedMark):
                apply_mark(self.registry, event)
            elif isinstance(event, MonitorFrame):
                self.frames_played += 1
                self.last = event
                return event
        if self.last is None:
            raise RuntimeError("the recording holds no frame")
        return self.last

    def rewind(self) -> None:
        """Back to the first frame; the caller clears what it built."""
        self._next = 0
        self.frames_played = 0
        self.last = None

    def apply_trailing_marks(self) -> None:
        """Marks recorded after the last frame (an action that ended as the
        session did)."""
        for event in self._events[self._next :]:
            if isinstance(event, RecordedMark):
                apply_mark(self.registry, event)
        self._next = len(self._events)

    def close(self) -> None:
        """Nothing to release."""

    @property
    def playback(self) -> PlaybackSource:
        """The time cursor: this source itself."""
        return self

    @property
    def statsd_address(self) -> None:
        """A recording listens for nothing."""
        return None

    def add_launch(self, launch: LaunchRecord) -> None:
        """Nothing to remember: a replay starts no server."""

    def request_rescan(self) -> None:
        """Nothing to rediscover: the recording's frames are as they were."""


def replay_epochs(recording: Recording) -> EpochRegistry:
    """The epochs of every instance, as the dashboard had them at the end."""
    registry = EpochRegistry(warmup_s=recording.header.warmup_s)
    source = PlaybackSource(recording, registry)
    while not source.finished:
        registry.observe_frame(source.sample())
    source.apply_trailing_marks()
    return registry
