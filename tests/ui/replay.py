"""Frames for dashboard tests: recorded from real servers, replayed in order.

``data/two_containers.json`` was written by ``gtui snapshot --json`` against
two real containers from the test images (a sync server under CPU load and a
gthread server under slow I/O), so the dashboard is tested on real figures
while staying deterministic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from gunicorn_tui.discovery.docker_engine import DaemonState, DaemonStatus
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.model.snapshot_reader import instances_from_json
from gunicorn_tui.monitor.monitor import MonitorFrame

DATA = Path(__file__).resolve().parent / "data"


def recorded_instances(name: str = "two_containers.json") -> tuple[InstanceSample, ...]:
    return instances_from_json(json.loads((DATA / name).read_text()))


def frames_from(instances: Sequence[InstanceSample], count: int) -> list[MonitorFrame]:
    """``count`` frames one second apart, ending at the recording's time."""
    status = DaemonStatus(DaemonState.CONNECTED, "connected", 0.0, "test")
    last = max(sample.taken_at for sample in instances)
    frames = []
    for index in range(count):
        shift = (index - count + 1) * 1.0
        frames.append(
            MonitorFrame(
                taken_at=last + shift,
                instances=tuple(replace(s, taken_at=s.taken_at + shift) for s in instances),
                docker=status,
            )
        )
    return frames


class ReplaySource:
    """A FrameSource that hands out recorded frames, then repeats the last."""

    def __init__(self, frames: Sequence[MonitorFrame], fail_at: set[int] | None = None) -> None:
        self.frames = list(frames)
        self.calls = 0
        self.closed = False
        self.fail_at = fail_at or set()

    def sample(self) -> MonitorFrame:
        index = self.calls
        self.calls += 1
        if index in self.fail_at:
            raise RuntimeError("recorded failure")
        time.sleep(0.01)
        return self.frames[min(index, len(self.frames) - 1)]

    def close(self) -> None:
        self.closed = True
