"""The traffic block of the JSON outputs (``snapshot --json``, ``watch --jsonl``)."""

from __future__ import annotations

from typing import Any

from gunicorn_tui.traffic.instance_traffic import TrafficView
from gunicorn_tui.traffic.metrics import LatencySummary, WorkerTraffic


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def latency_json(latency: LatencySummary) -> dict[str, Any]:
    return {
        "count": latency.count,
        "p50_ms": _round(latency.p50_ms),
        "p90_ms": _round(latency.p90_ms),
        "p99_ms": _round(latency.p99_ms),
        "max_ms": _round(latency.max_ms),
        "mean_ms": _round(latency.mean_ms),
    }


def worker_traffic_json(worker: WorkerTraffic) -> dict[str, Any]:
    return {
        "requests_total": worker.requests_total,
        "requests_per_s_10s": _round(worker.requests_per_s_10s),
        "requests_per_s_60s": _round(worker.requests_per_s_60s),
        "busy_share_10s": _round(worker.busy_share_10s),
    }


def traffic_json(view: TrafficView) -> dict[str, Any]:
    """One instance's traffic."""
    snapshot = view.snapshot
    return {
        "request_source": view.request_source,
        "requests_total": snapshot.requests_total,
        "status_totals": dict(snapshot.status_totals),
        "windows": {
            f"{window.window_s}s": {
                "requests": window.requests,
                "requests_per_s": _round(window.requests_per_s),
                "status_counts": dict(window.status_counts),
                "error_rate": _round(window.error_rate, 4),
                "client_error_rate": _round(window.client_error_rate, 4),
                "latency": latency_json(window.latency),
            }
            for window in snapshot.windows
        },
        "endpoints": [
            {
                "method": endpoint.method,
                "path": endpoint.path_pattern,
                "requests_total": endpoint.requests_total,
                "requests_60s": endpoint.requests_60s,
                "server_errors": endpoint.server_errors,
                "client_errors": endpoint.client_errors,
                "latency": latency_json(endpoint.latency),
            }
            for endpoint in snapshot.endpoints
        ],
        "worker_events": {
            name: getattr(view.worker_lives, name)
            for name in view.worker_lives.__dataclass_fields__
        },
        "recent_events": [
            {
                "kind": event.kind.value,
                "logged_at": event.logged_at,
                "worker_pid": event.worker_pid,
                "signal": event.signal_name,
                "oom_suspected": event.oom_suspected,
                "message": event.message[:200],
            }
            for event in view.events[-20:]
        ],
        "log_delay_s": _round(snapshot.log_delay_s),
        "backlog": snapshot.backlog,
        "workers_gauge": snapshot.workers_gauge,
        "lines": {
            "read": view.lines.lines,
            "access_records": view.lines.access_records,
            "error_events": view.lines.error_events,
            "unparsed": view.lines.unparsed,
            "recent_unparsed": list(view.lines.recent_unparsed),
            "access_log_format": view.lines.access_log_format,
        },
        "statsd_packets": view.statsd_packets,
        "sources": list(view.sources),
        "source_notes": list(view.notes),
    }


def workers_traffic_by_host_pid(view: TrafficView) -> dict[int, dict[str, Any]]:
    """Per-worker traffic keyed by host pid (workers the log names)."""
    return {
        worker.host_pid: worker_traffic_json(worker)
        for worker in view.snapshot.workers
        if worker.host_pid is not None
    }
