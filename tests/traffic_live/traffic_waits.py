"""Bounded helpers for the live traffic tests: drive requests, count what
each worker answered, and sample a real ``Monitor`` until its traffic shows
them.

The truth the tests compare with is independent of gtui: the sample app's
``/fast`` answers with the pid of the worker that served it, so counting
response bodies tells how many requests each worker handled.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor, MonitorFrame, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.traffic.instance_traffic import TrafficView
from tests.core.monitor_waits import describe

# Gunicorn's default format plus the worker pid and the request time (µs).
PID_AND_DURATION_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(p)s %(D)s'
# A short custom format (no quotes, pid and duration), for the rotation test.
SHORT_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %(p)s %(D)s'


def get_many(base_url: str, path: str, count: int, timeout_s: float = 5.0) -> Counter[int]:
    """GET ``path`` ``count`` times; the pids the bodies report, counted.

    Every response must be a 200 with a JSON ``pid``: the truth must be whole.
    """
    pids: Counter[int] = Counter()
    with httpx.Client(base_url=base_url, timeout=timeout_s, trust_env=False) as client:
        for _ in range(count):
            response = client.get(path)
            assert response.status_code == 200, response.text
            pids[int(response.json()["pid"])] += 1
    return pids


def get_paths(base_url: str, paths: list[str], timeout_s: float = 5.0) -> list[int]:
    """GET each of ``paths`` once; the statuses."""
    with httpx.Client(base_url=base_url, timeout=timeout_s, trust_env=False) as client:
        return [client.get(path).status_code for path in paths]


@contextmanager
def traffic_monitor(
    *targets: str,
    statsd_address: tuple[str, int] | None = None,
    use_docker: bool = False,
) -> Iterator[Monitor]:
    """An opened Monitor on ``targets`` collecting traffic, closed after."""
    monitor = Monitor(
        MonitorOptions(
            targets=tuple(parse_target(text) for text in targets),
            use_docker=use_docker,
            probe_versions=False,
            rescan_interval_s=0.5,
            collect_traffic=True,
            statsd_address=statsd_address,
        )
    )
    try:
        monitor.open()
        yield monitor
    finally:
        monitor.close()


def instance_of(frame: MonitorFrame, master_pid: int) -> InstanceSample | None:
    """The instance whose master has host pid ``master_pid``."""
    return next((s for s in frame.instances if s.master.pid == master_pid), None)


def describe_traffic(frame: MonitorFrame) -> str:
    """The frame and each instance's traffic counters, for assertion messages."""
    lines = [describe(frame)]
    for key, view in frame.traffic.items():
        counts = view.lines
        workers = [(w.logged_pid, w.host_pid, w.requests_total) for w in view.snapshot.workers]
        lines.append(
            f"traffic {key}: total={view.snapshot.requests_total} sources={view.sources} "
            f"lines={counts.lines} records={counts.access_records} "
            f"events={counts.error_events} unparsed={counts.unparsed} "
            f"format={counts.access_log_format!r} statsd_packets={view.statsd_packets} "
            f"workers={workers} notes={view.notes}"
        )
    return "\n".join(lines)


def traffic_until(
    monitor: Monitor,
    master_pid: int,
    condition: Callable[[InstanceSample, TrafficView], bool],
    timeout_s: float,
    what: str,
    interval_s: float = 0.25,
) -> tuple[InstanceSample, TrafficView, MonitorFrame]:
    """Sample until the instance of ``master_pid`` has traffic meeting
    ``condition``; AssertionError with the last frame after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        frame = monitor.sample()
        sample = instance_of(frame, master_pid)
        view = frame.traffic.get(sample.key) if sample is not None else None
        if sample is not None and view is not None and condition(sample, view):
            return sample, view, frame
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{what} not reached within {timeout_s} s:\n{describe_traffic(frame)}"
            )
        time.sleep(interval_s)


def settle(
    monitor: Monitor, master_pid: int, quiet_s: float = 1.5, timeout_s: float = 15.0
) -> tuple[InstanceSample, TrafficView, MonitorFrame]:
    """Sample until the request total has not moved for ``quiet_s``: what
    arrives late would otherwise be missed by an exact comparison."""
    last_total = -1
    last_change = time.monotonic()
    deadline = last_change + timeout_s
    while True:
        frame = monitor.sample()
        sample = instance_of(frame, master_pid)
        assert sample is not None, describe_traffic(frame)
        view = frame.traffic[sample.key]
        total = view.snapshot.requests_total
        now = time.monotonic()
        if total != last_total:
            last_total, last_change = total, now
        elif now - last_change >= quiet_s:
            return sample, view, frame
        assert now < deadline, f"traffic never settled:\n{describe_traffic(frame)}"
        time.sleep(0.25)
