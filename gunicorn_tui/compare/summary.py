"""An epoch's summary: its figures after the warm-up, and what they rest on.

Each figure is a :class:`~gunicorn_tui.compare.metrics.Metric` (see there
for how it is computed); a figure that could not be measured is None and
``notes`` say why (no access log or StatsD, no load run, a remote daemon
without per-process figures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gunicorn_tui.compare.epochs import Epoch, EpochConfig
from gunicorn_tui.compare.metrics import Metric, metric_units

# Fewer measured seconds than this after the warm-up: "not enough data".
DEFAULT_MIN_MEASURED_S = 10.0


@dataclass(frozen=True)
class EpochSummary:
    """The figures of one epoch, warm-up left out."""

    epoch_id: int
    change_label: str
    started_at: float
    ended_at: float | None
    config: EpochConfig | None
    warmup_s: float  # left out at the start
    measured_s: float  # seconds with data after the warm-up
    server_seconds: int
    resource_readings: int
    client_seconds: int
    requests: int  # logged by the server after the warm-up
    requests_per_s: float | None
    latency_p50_ms: float | None  # mean of per-second p50
    latency_p90_ms: float | None
    latency_p99_ms: float | None
    error_rate: float | None  # 5xx share
    cpu_ms_per_request: float | None
    cpu_percent: float | None  # of one core
    cpu_percent_per_worker: float | None
    memory_bytes: float | None
    memory_bytes_per_worker: float | None
    busy_share: float | None
    worker_restarts: int
    worker_restarts_per_min: float | None
    client_requests_per_s: float | None  # None: no load run of gtui's
    client_latency_p50_ms: float | None  # from the due time (open loop)
    client_latency_p90_ms: float | None
    client_latency_p99_ms: float | None
    client_error_rate: float | None
    client_requests: int
    client_errors: int
    load_profiles: tuple[str, ...]
    enough_data: bool
    min_measured_s: float
    notes: tuple[str, ...]

    def value(self, metric: Metric) -> float | None:
        """The figure for ``metric``."""
        value: float | None = getattr(self, metric.value)
        return value


def summarize(epoch: Epoch, *, min_measured_s: float = DEFAULT_MIN_MEASURED_S) -> EpochSummary:
    """Summarise ``epoch`` without its warm-up."""
    measured = epoch.measured()
    values = {metric: metric_units(measured, metric).value for metric in Metric}
    server_s = float(len(measured.server))
    resource_s = sum(r.interval_s for r in measured.resources)
    client_s = sum(c.window_s for c in measured.client)
    measured_s = max(server_s, resource_s, client_s)
    notes = list(epoch.notes)
    if math.isinf(epoch.measured_from):
        notes.append("a change is still in progress: everything so far is warm-up")
    if not measured.server:
        notes.append(
            "no server-side traffic figures (no access log or StatsD read, or no requests)"
        )
    if not measured.client:
        notes.append("no load run of gtui's in this epoch: no client-side figures")
    if measured.resources and all(r.cpu_percent_per_worker is None for r in measured.resources):
        notes.append("per-worker CPU not available (sampled through the Docker API)")
    if epoch.dropped_records:
        notes.append(
            f"{epoch.dropped_records} records left out (straddling a boundary or past the bound)"
        )
    enough = measured_s >= min_measured_s
    if not enough:
        notes.append(
            f"not enough data: {measured_s:.0f} s measured after a {epoch.warmup_s:.0f} s "
            f"warm-up (at least {min_measured_s:.0f} s needed)"
        )
    return EpochSummary(
        epoch_id=epoch.id,
        change_label=epoch.change.label,
        started_at=epoch.started_at,
        ended_at=epoch.ended_at,
        config=epoch.config,
        warmup_s=epoch.warmup_s,
        measured_s=measured_s,
        server_seconds=len(measured.server),
        resource_readings=len(measured.resources),
        client_seconds=len(measured.client),
        requests=sum(s.requests for s in measured.server),
        requests_per_s=values[Metric.REQUESTS_PER_S],
        latency_p50_ms=values[Metric.LATENCY_P50_MS],
        latency_p90_ms=values[Metric.LATENCY_P90_MS],
        latency_p99_ms=values[Metric.LATENCY_P99_MS],
        error_rate=values[Metric.ERROR_RATE],
        cpu_ms_per_request=values[Metric.CPU_MS_PER_REQUEST],
        cpu_percent=values[Metric.CPU_PERCENT],
        cpu_percent_per_worker=values[Metric.CPU_PERCENT_PER_WORKER],
        memory_bytes=values[Metric.MEMORY_BYTES],
        memory_bytes_per_worker=values[Metric.MEMORY_BYTES_PER_WORKER],
        busy_share=values[Metric.BUSY_SHARE],
        worker_restarts=sum(r.worker_restarts for r in measured.resources),
        worker_restarts_per_min=values[Metric.WORKER_RESTARTS_PER_MIN],
        client_requests_per_s=values[Metric.CLIENT_REQUESTS_PER_S],
        client_latency_p50_ms=values[Metric.CLIENT_LATENCY_P50_MS],
        client_latency_p90_ms=values[Metric.CLIENT_LATENCY_P90_MS],
        client_latency_p99_ms=values[Metric.CLIENT_LATENCY_P99_MS],
        client_error_rate=values[Metric.CLIENT_ERROR_RATE],
        client_requests=sum(c.completed for c in measured.client),
        client_errors=sum(c.errors for c in measured.client),
        load_profiles=epoch.load_profiles,
        enough_data=enough,
        min_measured_s=min_measured_s,
        notes=tuple(notes),
    )
