"""The figures an epoch is judged by, and the per-unit data behind each.

Every metric is a ratio of sums over *units* (a second of traffic, a
resource reading, a second of a load run): ``value = sum(numerators) /
sum(denominators)``. A plain average has denominators of 1; a rate has the
requests as denominators, so a busy second weighs more than a quiet one.
The same units, grouped into consecutive batches, feed the significance
test (see :mod:`gunicorn_tui.compare.significance`).

Latency percentiles are per second (the traffic history keeps no raw
latencies), so an epoch's ``latency_p99_ms`` is the mean over its seconds
of each second's p99: the typical tail of a second, not the p99 of every
request in the epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from gunicorn_tui.compare.epochs import ClientSecond, Epoch, ResourceReading, ServerSecond


class Metric(StrEnum):
    """One figure of an epoch; the value is the summary's field name."""

    REQUESTS_PER_S = "requests_per_s"
    LATENCY_P50_MS = "latency_p50_ms"
    LATENCY_P90_MS = "latency_p90_ms"
    LATENCY_P99_MS = "latency_p99_ms"
    ERROR_RATE = "error_rate"
    CPU_MS_PER_REQUEST = "cpu_ms_per_request"
    CPU_PERCENT = "cpu_percent"
    CPU_PERCENT_PER_WORKER = "cpu_percent_per_worker"
    MEMORY_BYTES = "memory_bytes"
    MEMORY_BYTES_PER_WORKER = "memory_bytes_per_worker"
    BUSY_SHARE = "busy_share"
    WORKER_RESTARTS_PER_MIN = "worker_restarts_per_min"
    CLIENT_REQUESTS_PER_S = "client_requests_per_s"
    CLIENT_LATENCY_P50_MS = "client_latency_p50_ms"
    CLIENT_LATENCY_P90_MS = "client_latency_p90_ms"
    CLIENT_LATENCY_P99_MS = "client_latency_p99_ms"
    CLIENT_ERROR_RATE = "client_error_rate"


class Side(StrEnum):
    """Where a metric is measured."""

    SERVER = "server"
    RESOURCES = "resources"
    CLIENT = "client"


@dataclass(frozen=True)
class MetricInfo:
    """How to show and judge a metric.

    ``higher_is_better`` is None where neither direction is good in itself.
    A difference smaller than both ``negligible_fraction`` of the before
    value and ``negligible_abs`` (in the metric's unit) is too small to
    matter, however sure it is: memory creeping up by 200 kB between two
    epochs of the same config is real, and says nothing about the config.
    """

    metric: Metric
    label: str
    unit: str
    side: Side
    higher_is_better: bool | None
    negligible_fraction: float
    negligible_abs: float


_MIB = 1024 * 1024

METRICS: Mapping[Metric, MetricInfo] = {
    info.metric: info
    for info in (
        MetricInfo(Metric.REQUESTS_PER_S, "req/s", "req/s", Side.SERVER, True, 0.05, 0.5),
        MetricInfo(Metric.LATENCY_P50_MS, "p50", "ms", Side.SERVER, False, 0.10, 0.5),
        MetricInfo(Metric.LATENCY_P90_MS, "p90", "ms", Side.SERVER, False, 0.10, 1.0),
        MetricInfo(Metric.LATENCY_P99_MS, "p99", "ms", Side.SERVER, False, 0.10, 2.0),
        MetricInfo(Metric.ERROR_RATE, "errors (5xx)", "share", Side.SERVER, False, 0.10, 0.005),
        MetricInfo(
            Metric.CPU_MS_PER_REQUEST, "CPU per request", "ms", Side.RESOURCES, False, 0.10, 0.1
        ),
        MetricInfo(Metric.CPU_PERCENT, "CPU total", "% of a core", Side.RESOURCES, None, 0.10, 2.0),
        MetricInfo(
            Metric.CPU_PERCENT_PER_WORKER,
            "CPU per worker",
            "% of a core",
            Side.RESOURCES,
            None,
            0.10,
            2.0,
        ),
        MetricInfo(Metric.MEMORY_BYTES, "memory total", "bytes", Side.RESOURCES, False, 0.05, _MIB),
        MetricInfo(
            Metric.MEMORY_BYTES_PER_WORKER,
            "memory per worker",
            "bytes",
            Side.RESOURCES,
            False,
            0.05,
            _MIB,
        ),
        MetricInfo(Metric.BUSY_SHARE, "busy workers", "share", Side.RESOURCES, None, 0.10, 0.05),
        MetricInfo(
            Metric.WORKER_RESTARTS_PER_MIN,
            "worker restarts",
            "per min",
            Side.RESOURCES,
            False,
            0.10,
            1.0,
        ),
        MetricInfo(
            Metric.CLIENT_REQUESTS_PER_S, "client req/s", "req/s", Side.CLIENT, True, 0.05, 0.5
        ),
        MetricInfo(Metric.CLIENT_LATENCY_P50_MS, "client p50", "ms", Side.CLIENT, False, 0.10, 0.5),
        MetricInfo(Metric.CLIENT_LATENCY_P90_MS, "client p90", "ms", Side.CLIENT, False, 0.10, 1.0),
        MetricInfo(Metric.CLIENT_LATENCY_P99_MS, "client p99", "ms", Side.CLIENT, False, 0.10, 2.0),
        MetricInfo(
            Metric.CLIENT_ERROR_RATE, "client errors", "share", Side.CLIENT, False, 0.10, 0.005
        ),
    )
}


@dataclass(frozen=True)
class Units:
    """The per-unit numerators and denominators of one metric, in time order."""

    numerators: tuple[float, ...]
    denominators: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.numerators)

    @property
    def value(self) -> float | None:
        """sum(numerators) / sum(denominators), None when nothing counts."""
        total = sum(self.denominators)
        return sum(self.numerators) / total if total > 0 else None

    def ratios(self) -> list[float]:
        """Each unit's own value (units with a zero denominator left out)."""
        return [n / d for n, d in zip(self.numerators, self.denominators, strict=True) if d > 0]


def _plain(values: list[float | None]) -> Units:
    kept = tuple(float(value) for value in values if value is not None)
    return Units(kept, (1.0,) * len(kept))


def _server_latency(seconds: tuple[ServerSecond, ...], attribute: str) -> Units:
    return _plain([getattr(s, attribute) for s in seconds if s.requests > 0])


def _client_latency(seconds: tuple[ClientSecond, ...], attribute: str) -> Units:
    return _plain([getattr(s, attribute) for s in seconds if s.completed > 0])


def _requests_during(seconds: Mapping[int, int], reading: ResourceReading) -> float | None:
    """Requests the server logged during the reading's interval, each second
    counted by its overlap; None when a second in it is missing."""
    start, end = reading.start_at, reading.end_at
    total = 0.0
    second = int(start)
    while second < end:
        overlap = min(end, second + 1) - max(start, second)
        if overlap > 0:
            count = seconds.get(second)
            if count is None:
                return None
            total += count * overlap
        second += 1
    return total


def _cpu_per_request(epoch: Epoch) -> Units:
    by_second = {s.second: s.requests for s in epoch.server}
    numerators: list[float] = []
    denominators: list[float] = []
    for reading in epoch.resources:
        if reading.cpu_percent is None or reading.interval_s <= 0:
            continue
        requests = _requests_during(by_second, reading)
        if requests is None:
            continue
        numerators.append(reading.cpu_percent / 100.0 * reading.interval_s * 1000.0)
        denominators.append(requests)
    return Units(tuple(numerators), tuple(denominators))


def metric_units(epoch: Epoch, metric: Metric) -> Units:
    """The units of ``metric`` in ``epoch`` (pass ``epoch.measured()`` to
    leave the warm-up out)."""
    server, resources, client = epoch.server, epoch.resources, epoch.client
    if metric is Metric.REQUESTS_PER_S:
        return _plain([s.requests for s in server])
    if metric is Metric.LATENCY_P50_MS:
        return _server_latency(server, "p50_ms")
    if metric is Metric.LATENCY_P90_MS:
        return _server_latency(server, "p90_ms")
    if metric is Metric.LATENCY_P99_MS:
        return _server_latency(server, "p99_ms")
    if metric is Metric.ERROR_RATE:
        rated = [s for s in server if s.error_rate is not None and s.requests > 0]
        return Units(
            tuple((s.error_rate or 0.0) * s.requests for s in rated),
            tuple(float(s.requests) for s in rated),
        )
    if metric is Metric.CPU_MS_PER_REQUEST:
        return _cpu_per_request(epoch)
    if metric is Metric.CPU_PERCENT:
        return _plain([r.cpu_percent for r in resources])
    if metric is Metric.CPU_PERCENT_PER_WORKER:
        return _plain([r.cpu_percent_per_worker for r in resources])
    if metric is Metric.MEMORY_BYTES:
        return _plain([r.memory_bytes for r in resources])
    if metric is Metric.MEMORY_BYTES_PER_WORKER:
        return _plain([r.memory_bytes_per_worker for r in resources])
    if metric is Metric.BUSY_SHARE:
        return _plain([r.busy_share for r in resources])
    if metric is Metric.WORKER_RESTARTS_PER_MIN:
        timed = [r for r in resources if r.interval_s > 0]
        return Units(
            tuple(float(r.worker_restarts) for r in timed),
            tuple(r.interval_s / 60.0 for r in timed),
        )
    if metric is Metric.CLIENT_REQUESTS_PER_S:
        timed_client = [c for c in client if c.window_s > 0]
        return Units(
            tuple(float(c.completed) for c in timed_client),
            tuple(c.window_s for c in timed_client),
        )
    if metric is Metric.CLIENT_LATENCY_P50_MS:
        return _client_latency(client, "p50_ms")
    if metric is Metric.CLIENT_LATENCY_P90_MS:
        return _client_latency(client, "p90_ms")
    if metric is Metric.CLIENT_LATENCY_P99_MS:
        return _client_latency(client, "p99_ms")
    ended = [c for c in client if c.completed + c.transport_errors > 0]
    return Units(
        tuple(float(c.errors) for c in ended),
        tuple(float(c.completed + c.transport_errors) for c in ended),
    )
