"""Everything gtui learns about one instance's traffic, from whatever lines
and metrics reach it.

Lines can arrive from an access log alone, an error log alone, or both mixed
in one stream (a container's stdout, or a demo server's single log file).
Each line is offered to the error-log reader first (its lines start with a
bracketed timestamp, a cheap test), then to the access-log reader. Lines
neither understands are counted and the last few kept, never fatal.

Requests are counted from one source only, never two: the access log when
there is one (it has per-worker and per-endpoint figures), else StatsD. Both
are fed to separate metrics and the view picks one (``request_source``), so
an instance whose configuration is hidden switches to the access log the
moment its first line is read, without counting a request twice.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gunicorn_tui.traffic.access_log_format import AccessRecord
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
UNPARSED_SAMPLE_CHARS = 300
# Lines waiting for the access-log format to be detected are read with what
# has arrived once they have waited this long (detection wants 64 lines;
# a quiet server may never send that many).
DETECT_AFTER_S = 1.0

_REQUEST_METRICS = frozenset(
    {GunicornMetric.REQUESTS, GunicornMetric.REQUEST_DURATION, GunicornMetric.REQUEST_STATUS}
)


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
    """One instance's traffic as of one frame: what the UI and JSON read.

    ``request_source`` says where the request figures come from:
    ``"access log"``, ``"statsd"`` or None (nothing counted yet).
    ``notes`` say why a log cannot be read, or how it was found.
    """

    snapshot: TrafficSnapshot
    history: tuple[TrafficPoint, ...]
    events: tuple[ErrorLogEvent, ...]
    worker_lives: WorkerLifeCounts
    ended_workers: tuple[WorkerLife, ...]
    lines: LineCounts
    statsd_packets: int
    sources: tuple[str, ...]
    request_source: str | None = None
    notes: tuple[str, ...] = ()


class InstanceTraffic:
    """Thread-safe: followers feed lines from their threads, the monitor reads."""

    def __init__(self, access_log_format: str | None) -> None:
        self._lock = threading.Lock()
        self._access = AdaptiveAccessLogParser(access_log_format)
        self._errors = ErrorLogParser()
        self._timeline = WorkerEventTimeline()
        self._metrics = TrafficMetrics()
        self._statsd_metrics = TrafficMetrics()
        self._unparsed: deque[str] = deque(maxlen=RECENT_UNPARSED)
        # Lines held by the detector, kept to show the ones it could not read.
        self._pending: deque[str] = deque(maxlen=self._access.window)
        self._pending_since: float | None = None
        self._lines = 0
        self._records = 0
        self._error_events = 0
        self._statsd_packets = 0
        # True when the configuration names an access log that a source
        # reads; None when unknown (the lines tell).
        self.access_log_expected: bool | None = None
        self.sources: list[str] = []
        self.notes: list[str] = []

    def _unparsed_total(self) -> int:
        return self._access.failed + self._access.oversized

    def add_lines(self, lines: Iterable[str], now: float) -> None:
        """Lines from any stream, received at ``now`` (this host's clock)."""
        with self._lock:
            access = self._access
            for line in lines:
                self._lines += 1
                if line.startswith("["):
                    event = self._errors.parse(line)
                    if event is not None:
                        self._error_events += 1
                        self._timeline.add(event)
                        continue
                detecting = access.parser is None
                before = self._unparsed_total()
                records = access.feed((line,))
                if detecting:
                    self._after_detection_feed(line, before, now)
                elif self._unparsed_total() > before:
                    self._unparsed.append(line[:UNPARSED_SAMPLE_CHARS])
                self._observe(records, now)
            self._detect_if_waited(now)

    def _after_detection_feed(self, line: str, before: int, now: float) -> None:
        self._pending.append(line)
        if self._access.parser is None and self._unparsed_total() == before:
            if self._pending_since is None:
                self._pending_since = now
            return
        # Detection ran on the held lines (this one included), found a
        # format or gave them up as unreadable.
        self._keep_undetected(before)

    def _keep_undetected(self, before: int) -> None:
        failed = self._unparsed_total() - before
        if failed > 0:
            parser = self._access.parser
            for held in self._pending:
                if parser is None or not parser.matches(held):
                    self._unparsed.append(held[:UNPARSED_SAMPLE_CHARS])
        self._pending.clear()
        self._pending_since = None

    def _detect_if_waited(self, now: float) -> None:
        since = self._pending_since
        if since is None or now - since < DETECT_AFTER_S:
            return
        before = self._unparsed_total()
        records = self._access.flush()
        self._keep_undetected(before)
        self._observe(records, now)

    def _observe(self, records: Iterable[AccessRecord], now: float) -> None:
        for record in records:
            self._metrics.observe_record(record, now)
            self._records += 1

    def add_statsd(self, metrics: Iterable[StatsdMetric], now: float) -> None:
        """Metrics from one StatsD packet, received at ``now``."""
        with self._lock:
            self._statsd_packets += 1
            for metric in metrics:
                self._statsd_metrics.observe_statsd(metric, now)
                if metric.kind not in _REQUEST_METRICS:
                    self._metrics.observe_statsd(metric, now)

    def set_pid_mapping(self, logged_to_host: Mapping[int, int]) -> None:
        """Map pids as logged (a container's namespace) to host pids."""
        with self._lock:
            self._metrics.set_pid_mapping(logged_to_host)

    def _request_source(self) -> str | None:
        if self._records or self.access_log_expected:
            return "access log"
        if self._statsd_metrics.requests_total:
            return "statsd"
        return None

    def view(self, now: float) -> TrafficView:
        """Everything as of ``now``; lines held for format detection for a
        second or more are read first."""
        with self._lock:
            self._detect_if_waited(now)
            source = self._request_source()
            metrics = self._statsd_metrics if source == "statsd" else self._metrics
            ended = tuple(life for life in self._timeline.workers() if life.end is not None)
            return TrafficView(
                snapshot=metrics.snapshot(now),
                history=metrics.history(now),
                events=tuple(self._timeline.events)[-RECENT_EVENTS:],
                worker_lives=self._timeline.counts(),
                ended_workers=ended[-RECENT_ENDED_WORKERS:],
                lines=LineCounts(
                    lines=self._lines,
                    access_records=self._records,
                    error_events=self._error_events,
                    unparsed=self._unparsed_total(),
                    recent_unparsed=tuple(self._unparsed),
                    access_log_format=self._access.access_log_format,
                ),
                statsd_packets=self._statsd_packets,
                sources=tuple(self.sources),
                request_source=source,
                notes=tuple(self.notes),
            )
