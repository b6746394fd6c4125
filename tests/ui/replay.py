"""Frames for dashboard tests: recorded from real servers, replayed in order.

``data/two_containers.json`` was written by ``gtui snapshot --json`` against
two real containers from the test images (a sync server under CPU load and a
gthread server under slow I/O), so the dashboard is tested on real figures
while staying deterministic. ``data/traffic_lines.json`` holds the log lines
of a real Gunicorn under load, replayed as the first instance's traffic.
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
from gunicorn_tui.sampling.local_instance import LaunchRecord
from gunicorn_tui.traffic.instance_traffic import InstanceTraffic
from tests.traffic_live.traffic_waits import PID_AND_DURATION_FORMAT

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
    """A FrameSource that hands out recorded frames, then repeats the last
    (a live source to the app: no time cursor, no StatsD listener)."""

    statsd_address: tuple[str, int] | None = None
    playback: None = None

    def __init__(self, frames: Sequence[MonitorFrame], fail_at: set[int] | None = None) -> None:
        self.frames = list(frames)
        self.calls = 0
        self.closed = False
        self.fail_at = fail_at or set()
        self.launches: list[LaunchRecord] = []
        self.rescans = 0

    def sample(self) -> MonitorFrame:
        index = self.calls
        self.calls += 1
        if index in self.fail_at:
            raise RuntimeError("recorded failure")
        time.sleep(0.01)
        return self.frames[min(index, len(self.frames) - 1)]

    def close(self) -> None:
        self.closed = True

    def add_launch(self, launch: LaunchRecord) -> None:
        self.launches.append(launch)

    def request_rescan(self) -> None:
        self.rescans += 1


def with_recorded_traffic(
    frames: Sequence[MonitorFrame], name: str = "traffic_lines.json"
) -> list[MonitorFrame]:
    """``frames`` with traffic for their first instance, replayed from the
    log lines of a real Gunicorn (``data/capture_traffic_lines.py``).

    Each line is fed at the moment it was read during the capture; frame i
    of n sees the traffic as of 1.2 s after the last line, minus (n - 1 - i)
    seconds, on the capture's own clock (so log times and arrival agree).
    The second instance gets a view with nothing read, as an instance
    without readable logs has.
    """
    capture = json.loads((DATA / name).read_text())
    started = float(capture["started_at"])
    lines = [(started + float(item["t"]), str(item["line"])) for item in capture["lines"]]
    end = lines[-1][0] + 1.2
    first = frames[0].instances[0]
    traffic = InstanceTraffic(PID_AND_DURATION_FORMAT)
    traffic.sources = ["container log stream"]
    traffic.access_log_expected = True
    traffic.set_pid_mapping(
        {w.ns_pid: w.pid for w in first.workers if w.ns_pid is not None and w.pid is not None}
    )
    silent = InstanceTraffic(None)
    position = 0
    replayed = []
    for index, frame in enumerate(frames):
        now = end - (len(frames) - 1 - index)
        ready = position
        while ready < len(lines) and lines[ready][0] <= now:
            ready += 1
        for arrived_at, line in lines[position:ready]:
            traffic.add_lines([line], arrived_at)
        position = ready
        views = {frame.instances[0].key: traffic.view(now)}
        views.update({sample.key: silent.view(now) for sample in frame.instances[1:]})
        replayed.append(replace(frame, traffic=views))
    return replayed
