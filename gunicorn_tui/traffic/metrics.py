"""Rolling traffic figures for one Gunicorn instance, in bounded memory.

Feed it access-log records (:meth:`TrafficMetrics.observe_record`), plain
request facts (:meth:`TrafficMetrics.observe_request`) or StatsD metrics
(:meth:`TrafficMetrics.observe_statsd`), always with ``now``: the time the
line or packet *arrived*, on the caller's clock. Read figures with
:meth:`TrafficMetrics.snapshot` and the per-second history with
:meth:`TrafficMetrics.history`.

Time. Windows and history are keyed by arrival time, never by the time in
the log line: a container's clock can be off from the host's, and
``%(t)s`` has whole-second resolution, so a skewed record is still counted,
in the second it arrived. The difference ``arrival - %(t)s`` is sampled
(one record in 16) and reported as :attr:`TrafficSnapshot.log_delay_s`
(median of recent samples):
it is delivery lag plus clock offset plus 0 to 1 s of truncation (0.5 s on
average); more than a few seconds means the clocks disagree.

Windows. Rates and latencies over 1, 10 and 60 s use the *complete* seconds
before ``now``: the second in progress is left out, so a rate is never
diluted by a half-filled second.

Latency. Per-second log-linear histograms (see
``gunicorn_tui.stats.log_linear_histogram`` for why), merged when a window
is read: p50/p90/p99 within 0.8 % of the true value, max exact.
With an access log, latency is Gunicorn's own request time (``%(D)s`` and
friends: from parsing the request to the last byte handed to the socket),
so it excludes the client's connect and the time in the listen queue.

Memory. Everything is bounded: 60 s of per-second histograms, ``history_s``
points, at most ``max_workers`` workers (the least recently seen are
forgotten, and workers idle for ``worker_expiry_s`` go) and
``max_endpoints`` endpoints (one of them ``("*", "(other)")``, where
the newcomers go once the rest are taken), and a bounded path-pattern cache.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from gunicorn_tui.stats.log_linear_histogram import LogLinearHistogram
from gunicorn_tui.traffic.access_log_format import AccessRecord
from gunicorn_tui.traffic.endpoint_patterns import EndpointPatternCache
from gunicorn_tui.traffic.statsd import GunicornMetric, StatsdMetric

STATUS_CLASSES: Final = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
WINDOWS_S: Final = (1, 10, 60)
OTHER_ENDPOINT: Final = ("*", "(other)")
_QUANTILES: Final = (0.5, 0.9, 0.99)
_MAX_WINDOW_S: Final = max(WINDOWS_S)
# Endpoint histograms use coarser buckets (within 3 %) so 200 of them stay
# small; the instance-wide ones use the precise default.
_ENDPOINT_HISTOGRAM_BITS: Final = 5


def _ms(value_us: int | float | None) -> float | None:
    return None if value_us is None else value_us / 1000.0


@dataclass(frozen=True)
class LatencySummary:
    """Latency over a window, in milliseconds; None when nothing was timed."""

    count: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None

    @classmethod
    def of(cls, histogram: LogLinearHistogram, sum_us: int) -> LatencySummary:
        """The summary of ``histogram`` (µs) with the exact sum of its values."""
        p50, p90, p99 = histogram.percentiles(_QUANTILES)
        count = histogram.total
        return cls(
            count=count,
            p50_ms=_ms(p50),
            p90_ms=_ms(p90),
            p99_ms=_ms(p99),
            max_ms=_ms(histogram.max_seen),
            mean_ms=sum_us / count / 1000.0 if count else None,
        )


@dataclass(frozen=True)
class WindowFigures:
    """Traffic over the ``window_s`` complete seconds before the snapshot."""

    window_s: int
    requests: int
    requests_per_s: float
    status_counts: Mapping[str, int]
    error_rate: float | None  # 5xx share of responses with a status
    client_error_rate: float | None  # 4xx share
    latency: LatencySummary


@dataclass(frozen=True)
class WorkerTraffic:
    """One worker, keyed by the pid in the log (``%(p)s``)."""

    logged_pid: int
    host_pid: int | None  # from the pid mapping; None when not mapped
    requests_total: int
    requests_per_s_10s: float
    requests_per_s_60s: float
    busy_share_10s: float | None  # time spent in requests / wall time; None without durations
    first_seen_at: float
    last_seen_at: float


@dataclass(frozen=True)
class EndpointTraffic:
    """Requests to one method and path pattern since the metrics began."""

    method: str
    path_pattern: str
    requests_total: int
    requests_60s: int
    server_errors: int
    client_errors: int
    latency: LatencySummary


@dataclass(frozen=True)
class TrafficPoint:
    """One second of history (arrival time)."""

    second: int  # epoch second
    requests: int
    error_rate: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass(frozen=True)
class TrafficSnapshot:
    """Everything the dashboard and ``--json`` show about traffic."""

    taken_at: float
    requests_total: int
    status_totals: Mapping[str, int]
    windows: tuple[WindowFigures, ...]
    workers: tuple[WorkerTraffic, ...]
    endpoints: tuple[EndpointTraffic, ...]
    log_delay_s: float | None
    requests_without_status: int
    requests_without_latency: int
    workers_gauge: int | None  # StatsD gunicorn.workers
    backlog: float | None  # StatsD gunicorn.backlog, last value
    log_messages: Mapping[str, int] = field(default_factory=dict)  # StatsD gunicorn.log.*
    forgotten_workers: int = 0

    def window(self, window_s: int) -> WindowFigures:
        """The figures for one of :data:`WINDOWS_S`."""
        for figures in self.windows:
            if figures.window_s == window_s:
                return figures
        raise KeyError(window_s)


class _Second:
    """What arrived during one second. Per-worker and per-endpoint counts
    live here too (small dicts), so the hot path only increments and the
    windows are summed from the closed seconds when read."""

    __slots__ = (
        "endpoint_requests",
        "latency",
        "latency_sum_us",
        "requests",
        "second",
        "statuses",
        "worker_busy_us",
        "worker_requests",
    )

    def __init__(self, second: int) -> None:
        self.second = second
        self.requests = 0
        self.statuses = [0, 0, 0, 0, 0, 0]  # 1xx..5xx, other
        self.latency = LogLinearHistogram()
        self.latency_sum_us = 0
        self.worker_requests: dict[int, int] = {}
        self.worker_busy_us: dict[int, int] = {}
        self.endpoint_requests: dict[tuple[str, str], int] = {}


class _Worker:
    __slots__ = ("first_seen_at", "has_durations", "last_seen_at", "total")

    def __init__(self, now: float) -> None:
        self.total = 0
        self.has_durations = False
        self.first_seen_at = now
        self.last_seen_at = now


class _Endpoint:
    __slots__ = ("client_errors", "latency", "latency_sum_us", "server_errors", "total")

    def __init__(self) -> None:
        self.total = 0
        self.server_errors = 0
        self.client_errors = 0
        self.latency = LogLinearHistogram(bits=_ENDPOINT_HISTOGRAM_BITS)
        self.latency_sum_us = 0


def _status_slot(status: int) -> int:
    return status // 100 - 1 if 100 <= status < 600 else 5


class TrafficMetrics:
    """Rolling traffic figures of one instance. Not thread-safe: feed and
    read it from one thread (or hold a lock around both)."""

    def __init__(
        self,
        *,
        history_s: int = 900,
        max_workers: int = 256,
        worker_expiry_s: float = 600.0,
        max_endpoints: int = 200,
        top_endpoints: int = 20,
        delay_samples: int = 256,
    ) -> None:
        self.history_s: Final = history_s
        self.max_workers: Final = max_workers
        self.worker_expiry_s: Final = worker_expiry_s
        self.max_endpoints: Final = max_endpoints
        self.top_endpoints: Final = top_endpoints
        self._current: _Second | None = None
        # The first second not yet closed (None until anything arrives).
        self._next_open: int | None = None
        self._closed: deque[_Second] = deque(maxlen=_MAX_WINDOW_S)
        self._history: deque[TrafficPoint] = deque(maxlen=history_s)
        self.requests_total = 0
        self._status_totals = [0, 0, 0, 0, 0, 0]
        self.requests_without_status = 0
        self.requests_without_latency = 0
        self._workers: dict[int, _Worker] = {}
        self.forgotten_workers = 0
        self._pid_mapping: dict[int, int] = {}
        self._endpoints: dict[tuple[str, str], _Endpoint] = {}
        self._patterns = EndpointPatternCache()
        self._delays: deque[float] = deque(maxlen=delay_samples)
        self._workers_gauge: int | None = None
        self._backlog: float | None = None
        self._log_messages: dict[str, int] = {}

    # --- feeding -------------------------------------------------------------

    def set_pid_mapping(self, logged_to_host: Mapping[int, int]) -> None:
        """Map pids as logged (a container's namespace) to host pids; the
        mapping replaces the previous one and applies to past counts too."""
        self._pid_mapping = dict(logged_to_host)

    def observe_record(self, record: AccessRecord, now: float) -> None:
        """Count one access-log record that arrived at ``now``."""
        # The log time is only needed for the delay estimate: sample it.
        logged_at = record.logged_at if (self.requests_total & 15) == 0 else None
        self._observe(
            now,
            record.status,
            record.duration_us,
            record.worker_pid,
            record.method,
            record.path,
            logged_at,
        )

    def observe_request(
        self,
        now: float,
        *,
        status: int | None = None,
        duration_us: int | None = None,
        worker_pid: int | None = None,
        method: str | None = None,
        path: str | None = None,
        logged_at: float | None = None,
    ) -> None:
        """Count one request that arrived at ``now`` with what is known of it."""
        self._observe(now, status, duration_us, worker_pid, method, path, logged_at)

    def _observe(
        self,
        now: float,
        status: int | None,
        duration_us: int | None,
        worker_pid: int | None,
        method: str | None,
        path: str | None,
        logged_at: float | None,
    ) -> None:
        current = self._current
        second = current if current is not None and int(now) <= current.second else None
        if second is None:
            second = self._second_for(now)
        second.requests += 1
        self.requests_total += 1
        if status is not None:
            slot = status // 100 - 1 if 100 <= status < 600 else 5
            second.statuses[slot] += 1
            self._status_totals[slot] += 1
        else:
            self.requests_without_status += 1
        if duration_us is not None:
            if duration_us < 0:
                duration_us = 0
            second.latency.record(duration_us)
            second.latency_sum_us += duration_us
        else:
            self.requests_without_latency += 1
        if logged_at is not None:
            self._delays.append(now - logged_at)
        if worker_pid is not None:
            counts = second.worker_requests
            counts[worker_pid] = counts.get(worker_pid, 0) + 1
            if duration_us is not None:
                busy = second.worker_busy_us
                busy[worker_pid] = busy.get(worker_pid, 0) + duration_us
            worker = self._workers.get(worker_pid)
            if worker is None:
                worker = self._new_worker(worker_pid, now)
            worker.total += 1
            worker.last_seen_at = now
            if duration_us is not None:
                worker.has_durations = True
        if path is not None:
            self._count_endpoint(second, method or "?", path, status, duration_us)

    def observe_statsd(self, metric: StatsdMetric, now: float) -> None:
        """Count one Gunicorn StatsD metric that arrived at ``now``.

        ``requests`` counts requests, ``request.status.N`` statuses and
        ``request.duration`` latency; they arrive as separate packets, so
        per-worker and per-endpoint figures need the access log.
        """
        kind = metric.kind
        if kind is GunicornMetric.REQUESTS:
            count = round(metric.estimated_count)
            second = self._second_for(now)
            second.requests += count
            self.requests_total += count
        elif kind is GunicornMetric.REQUEST_STATUS and metric.status_code is not None:
            slot = _status_slot(metric.status_code)
            count = round(metric.estimated_count)
            self._second_for(now).statuses[slot] += count
            self._status_totals[slot] += count
        elif kind is GunicornMetric.REQUEST_DURATION:
            duration_us = max(0, round(metric.value * 1000))
            second = self._second_for(now)
            second.latency.record(duration_us)
            second.latency_sum_us += duration_us
        elif kind is GunicornMetric.WORKERS:
            if metric.gauge_delta and self._workers_gauge is not None:
                self._workers_gauge += int(metric.value)
            else:
                self._workers_gauge = int(metric.value)
        elif kind is GunicornMetric.BACKLOG:
            self._backlog = metric.value
        elif kind.value.startswith("log."):
            level = kind.value.removeprefix("log.")
            self._log_messages[level] = self._log_messages.get(level, 0) + round(
                metric.estimated_count
            )

    def _second_for(self, now: float) -> _Second:
        whole = int(now)
        current = self._current
        if current is not None:
            if whole <= current.second:
                # Same second, or the clock stepped back: count it now.
                return current
            self._advance(whole)
        elif self._next_open is not None and whole < self._next_open:
            # Arrived after its second was closed (a snapshot ran ahead of
            # the feed): count it in the first open second.
            whole = self._next_open
        else:
            self._advance(whole)
        current = _Second(whole)
        self._current = current
        return current

    def _advance(self, whole: int) -> None:
        """Close every second before ``whole``, empty ones included."""
        current = self._current
        if current is not None:
            if whole <= current.second:
                return
            self._close(current)
            self._current = None
            start = current.second + 1
        elif self._next_open is not None:
            start = self._next_open
        else:
            return  # nothing seen yet: no history to extend
        # Seconds with no traffic still belong in the history (as zeros);
        # the windows need no entry for them.
        history = self._history
        for empty in range(max(start, whole - self.history_s), whole):
            history.append(TrafficPoint(empty, 0, None, None, None, None, None))
        self._next_open = max(start, whole)

    def _close(self, second: _Second) -> None:
        self._closed.append(second)
        p50, p90, p99 = second.latency.percentiles(_QUANTILES)
        with_status = sum(second.statuses)
        self._history.append(
            TrafficPoint(
                second=second.second,
                requests=second.requests,
                error_rate=second.statuses[4] / with_status if with_status else None,
                p50_ms=_ms(p50),
                p90_ms=_ms(p90),
                p99_ms=_ms(p99),
                max_ms=_ms(second.latency.max_seen),
            )
        )

    def _new_worker(self, pid: int, now: float) -> _Worker:
        if len(self._workers) >= self.max_workers:
            self._forget_workers(now, keep=self.max_workers - 1)
        worker = _Worker(now)
        self._workers[pid] = worker
        return worker

    def _forget_workers(self, now: float, keep: int) -> None:
        expired = [
            pid
            for pid, worker in self._workers.items()
            if now - worker.last_seen_at > self.worker_expiry_s
        ]
        for pid in expired:
            del self._workers[pid]
        self.forgotten_workers += len(expired)
        if len(self._workers) > keep:
            by_age = sorted(self._workers, key=lambda pid: self._workers[pid].last_seen_at)
            for pid in by_age[: len(self._workers) - keep]:
                del self._workers[pid]
                self.forgotten_workers += 1

    def _count_endpoint(
        self,
        second: _Second,
        method: str,
        path: str,
        status: int | None,
        duration_us: int | None,
    ) -> None:
        key = (method, self._patterns.pattern(path))
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            # One of the max_endpoints entries is kept for "(other)".
            named = len(self._endpoints) - (OTHER_ENDPOINT in self._endpoints)
            if named >= self.max_endpoints - 1:
                key = OTHER_ENDPOINT
                endpoint = self._endpoints.get(key)
            if endpoint is None:
                endpoint = _Endpoint()
                self._endpoints[key] = endpoint
        endpoint.total += 1
        recent = second.endpoint_requests
        recent[key] = recent.get(key, 0) + 1
        if status is not None and status >= 400:
            if status >= 500:
                endpoint.server_errors += 1
            else:
                endpoint.client_errors += 1
        if duration_us is not None:
            endpoint.latency.record(duration_us)
            endpoint.latency_sum_us += duration_us

    # --- reading -------------------------------------------------------------

    def history(self, now: float) -> tuple[TrafficPoint, ...]:
        """One point per complete second, oldest first, up to ``history_s``."""
        self._advance(int(now))
        return tuple(self._history)

    def snapshot(self, now: float) -> TrafficSnapshot:
        """All figures as of ``now`` (which closes the seconds before it)."""
        whole = int(now)
        self._advance(whole)
        self._forget_workers(now, keep=self.max_workers)
        return TrafficSnapshot(
            taken_at=now,
            requests_total=self.requests_total,
            status_totals=dict(zip(STATUS_CLASSES, self._status_totals, strict=True)),
            windows=self._windows(whole),
            workers=self._worker_figures(whole),
            endpoints=self._endpoint_figures(whole),
            log_delay_s=statistics.median(self._delays) if self._delays else None,
            requests_without_status=self.requests_without_status,
            requests_without_latency=self.requests_without_latency,
            workers_gauge=self._workers_gauge,
            backlog=self._backlog,
            log_messages=dict(self._log_messages),
            forgotten_workers=self.forgotten_workers,
        )

    def _windows(self, whole: int) -> tuple[WindowFigures, ...]:
        results: list[WindowFigures] = []
        merged = LogLinearHistogram()
        requests = 0
        statuses = [0, 0, 0, 0, 0, 0]
        latency_sum_us = 0
        # Newest first, so each larger window extends the smaller one.
        closed = [second for second in reversed(self._closed) if second.second < whole]
        position = 0
        for window_s in WINDOWS_S:
            first = whole - window_s
            while position < len(closed) and closed[position].second >= first:
                second = closed[position]
                requests += second.requests
                statuses = [a + b for a, b in zip(statuses, second.statuses, strict=True)]
                merged.merge(second.latency)
                latency_sum_us += second.latency_sum_us
                position += 1
            with_status = sum(statuses)
            results.append(
                WindowFigures(
                    window_s=window_s,
                    requests=requests,
                    requests_per_s=requests / window_s,
                    status_counts=dict(zip(STATUS_CLASSES, statuses, strict=True)),
                    error_rate=statuses[4] / with_status if with_status else None,
                    client_error_rate=statuses[3] / with_status if with_status else None,
                    latency=LatencySummary.of(merged, latency_sum_us),
                )
            )
        return tuple(results)

    def _recent_seconds(self, whole: int, window_s: int) -> list[_Second]:
        first = whole - window_s
        return [second for second in self._closed if first <= second.second < whole]

    def _worker_figures(self, whole: int) -> tuple[WorkerTraffic, ...]:
        requests_10s: dict[int, int] = {}
        requests_60s: dict[int, int] = {}
        busy_10s: dict[int, int] = {}
        for second in self._recent_seconds(whole, 60):
            recent = second.second >= whole - 10
            for pid, count in second.worker_requests.items():
                requests_60s[pid] = requests_60s.get(pid, 0) + count
                if recent:
                    requests_10s[pid] = requests_10s.get(pid, 0) + count
            if recent:
                for pid, busy_us in second.worker_busy_us.items():
                    busy_10s[pid] = busy_10s.get(pid, 0) + busy_us
        figures = [
            WorkerTraffic(
                logged_pid=pid,
                host_pid=self._pid_mapping.get(pid),
                requests_total=worker.total,
                requests_per_s_10s=requests_10s.get(pid, 0) / 10,
                requests_per_s_60s=requests_60s.get(pid, 0) / 60,
                busy_share_10s=busy_10s.get(pid, 0) / 10_000_000 if worker.has_durations else None,
                first_seen_at=worker.first_seen_at,
                last_seen_at=worker.last_seen_at,
            )
            for pid, worker in self._workers.items()
        ]
        figures.sort(key=lambda worker: worker.logged_pid)
        return tuple(figures)

    def _endpoint_figures(self, whole: int) -> tuple[EndpointTraffic, ...]:
        requests_60s: dict[tuple[str, str], int] = {}
        for second in self._recent_seconds(whole, 60):
            for key, count in second.endpoint_requests.items():
                requests_60s[key] = requests_60s.get(key, 0) + count
        ranked = sorted(self._endpoints.items(), key=lambda item: item[1].total, reverse=True)
        return tuple(
            EndpointTraffic(
                method=key[0],
                path_pattern=key[1],
                requests_total=endpoint.total,
                requests_60s=requests_60s.get(key, 0),
                server_errors=endpoint.server_errors,
                client_errors=endpoint.client_errors,
                latency=LatencySummary.of(endpoint.latency, endpoint.latency_sum_us),
            )
            for key, endpoint in ranked[: self.top_endpoints]
        )

    def worker_pids(self) -> Sequence[int]:
        """Pids (as logged) the metrics currently track."""
        return tuple(self._workers)
