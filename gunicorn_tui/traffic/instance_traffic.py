"""Everything gtui learns about one instance's traffic, from whatever lines
and metrics reach it.

Lines can arrive from an access log alone, an error log alone, or both mixed
in one stream (a container's stdout, or a demo server's single log file).
Each line is offered to the error-log reader first (its lines start with a
bracketed timestamp, a cheap test), then to the access-log reader. Lines
neither understands are counted and the last few kept, never fatal.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gunicorn_tui.traffic.error_log import (
    ErrorLogEvent,
    ErrorLogParser,
    WorkerEventTimeline,
    WorkerLife,
    WorkerLifeCounts,
)
from gunicorn_tui.traffic.format_detect import AdaptiveAccessLogParser
from gunicorn_tui.traffic.metrics import TrafficMetrics, TrafficPoint, TrafficSnapshot
from gunicorn_tui.traffic.statsd import GunicornMetric, StatsdMetric

RECENT_UNPARSED = 5
RECENT_EVENTS = 200
RECENT_ENDED_WORKERS = 20


@dataclass(frozen=True)
class LineCounts:
    """What became of the lines received."""

    lines: int
    access_records: int
    error_events: int
    unparsed: int
    recent_unparsed: tuple[str, ...]
    access_log_format: str | None


@dataclass(frozen=True)
class TrafficView:
    """One instance's traffic as of one frame: what the UI and JSON read."""

    snapshot: TrafficSnapshot
    history: tuple[TrafficPoint, ...]
    events: tuple[ErrorLogEvent, ...]
    worker_lives: WorkerLifeCounts
    ended_workers: tuple[WorkerLife, ...]
    lines: LineCounts
    statsd_packets: int
    sources: tuple[str, ...]


class InstanceTraffic:
    """Thread-safe: followers feed lines from their threads, the monitor reads."""

    def __init__(self, access_log_format: str | None, use_statsd_requests: bool = False) -> None:
        self._lock = threading.Lock()
        self._access = AdaptiveAccessLogParser(access_log_format)
        self._errors = ErrorLogParser()
        self._timeline = WorkerEventTimeline()
        self._metrics = TrafficMetrics()
        self._unparsed: deque[str] = deque(maxlen=RECENT_UNPARSED)
        self._lines = 0
        self._records = 0
        self._error_events = 0
        self._unparsed_count = 0
        self._statsd_packets = 0
        # StatsD request counts are used only when no access log feeds the
        # same requests: counting both would double them.
        self.use_statsd_requests = use_statsd_requests
        self.sources: list[str] = []

    def add_lines(self, lines: Iterable[str], now: float) -> None:
        """Lines from any stream, received at ``now`` (this host's clock)."""
        with self._lock:
            access_lines: list[str] = []
            for line in lines:
                self._lines += 1
                if line.startswith("["):
                    event = self._errors.parse(line)
                    if event is not None:
                        self._error_events += 1
                        self._timeline.add(event)
                        continue
                access_lines.append(line)
            if not access_lines:
                return
            before = self._access.failed
            records = self._access.feed(access_lines)
            for record in records:
                self._metrics.observe_record(record, now)
            self._records += len(records)
            failed = self._access.failed - before
            if failed > 0:
                self._unparsed_count += failed
                for line in access_lines[-failed:]:
                    self._unparsed.append(line[:300])

    def add_statsd(self, metrics: Iterable[StatsdMetric], now: float) -> None:
        with self._lock:
            self._statsd_packets += 1
            for metric in metrics:
                is_request = metric.kind in (
                    GunicornMetric.REQUESTS,
                    GunicornMetric.REQUEST_DURATION,
                    GunicornMetric.REQUEST_STATUS,
                )
                if is_request and not self.use_statsd_requests:
                    continue
                self._metrics.observe_statsd(metric, now)

    def set_pid_mapping(self, logged_to_host: Mapping[int, int]) -> None:
        with self._lock:
            self._metrics.set_pid_mapping(logged_to_host)

    def view(self, now: float) -> TrafficView:
        with self._lock:
            ended = tuple(life for life in self._timeline.workers() if life.end is not None)
            return TrafficView(
                snapshot=self._metrics.snapshot(now),
                history=self._metrics.history(now),
                events=tuple(self._timeline.events)[-RECENT_EVENTS:],
                worker_lives=self._timeline.counts(),
                ended_workers=ended[-RECENT_ENDED_WORKERS:],
                lines=LineCounts(
                    lines=self._lines,
                    access_records=self._records,
                    error_events=self._error_events,
                    unparsed=self._unparsed_count,
                    recent_unparsed=tuple(self._unparsed),
                    access_log_format=self._access.access_log_format,
                ),
                statsd_packets=self._statsd_packets,
                sources=tuple(self.sources),
            )
