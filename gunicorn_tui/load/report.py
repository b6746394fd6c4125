"""Load run results as plain text and as JSON-ready dictionaries."""

from __future__ import annotations

import dataclasses
from typing import Any

from gunicorn_tui.load.outcome import ErrorKind
from gunicorn_tui.load.profile import RunMode
from gunicorn_tui.load.summary import ErrorCounts, LatencySummary, RunSummary, SecondSummary


def summary_to_dict(summary: RunSummary) -> dict[str, Any]:
    """``summary`` as plain JSON types, derived rates included."""
    data = dataclasses.asdict(summary)
    data["status_counts"] = {str(code): count for code, count in summary.status_counts.items()}
    data["throughput_rps"] = summary.throughput_rps
    data["error_rate"] = summary.error_rate
    data["client_cpu_percent"] = summary.client_cpu_percent
    data["errors"]["total"] = summary.errors.total
    return data


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def _errors_text(errors: ErrorCounts) -> str:
    parts = [f"{kind.value} {errors.get(kind)}" for kind in ErrorKind if errors.get(kind)]
    return ", ".join(parts) if parts else "none"


def _latency_text(latency: LatencySummary) -> str:
    return (
        f"p50 {_ms(latency.p50_ms)}  p90 {_ms(latency.p90_ms)}  "
        f"p99 {_ms(latency.p99_ms)}  max {_ms(latency.max_ms)}"
    )


def format_second(second: SecondSummary) -> str:
    """A one-line progress report for one second of a run."""
    target = f"/{second.target_sends}" if second.target_sends is not None else ""
    return (
        f"{second.second + 1:>4}s  sent {second.sent}{target}  done {second.completed}  "
        f"errors {second.errors.total}  in flight {second.in_flight}  "
        f"p50 {_ms(second.latency.p50_ms)}  p99 {_ms(second.latency.p99_ms)}"
    )


def format_summary(summary: RunSummary) -> str:
    """A human-readable report of a finished run."""
    if summary.mode is RunMode.OPEN:
        shape = f"open loop at {summary.rate_rps:g} req/s"
    else:
        shape = f"closed loop with {summary.concurrency} clients"
    lines = [
        f"target      {summary.target}  ({summary.profile_source}; {shape}; "
        f"{summary.connections} connections)",
        f"ended       by {summary.stop_reason.value} after {summary.elapsed_s:.1f} s",
        f"requests    sent {summary.sent}  completed {summary.completed}  "
        f"unfinished {summary.unfinished}  missed {summary.missed}",
        f"throughput  {summary.throughput_rps:.1f} req/s",
        f"errors      {100 * summary.error_rate:.1f}%  ({_errors_text(summary.errors)})",
        "statuses    "
        + (
            "  ".join(f"{code}: {count}" for code, count in summary.status_counts.items()) or "none"
        ),
        f"latency     {_latency_text(summary.latency)}  (from the time each request was due)",
        f"service     {_latency_text(summary.service)}  (from the time it was sent)",
        f"send lag    p50 {_ms(summary.send_lag.p50_ms)}  p99 {_ms(summary.send_lag.p99_ms)}  "
        f"max {_ms(summary.send_lag.max_ms)}",
        f"client CPU  {summary.client_cpu_percent:.0f}% of one core"
        + (f"  ({summary.client_stack})" if summary.client_stack else ""),
    ]
    if len(summary.endpoints) > 1:
        lines.append("by request:")
        width = max(len(endpoint.name) for endpoint in summary.endpoints)
        for endpoint in summary.endpoints:
            lines.append(
                f"  {endpoint.name:<{width}}  sent {endpoint.sent:>7}  "
                f"errors {endpoint.errors.total:>6}  "
                f"p50 {_ms(endpoint.latency.p50_ms):>9}  p99 {_ms(endpoint.latency.p99_ms):>9}"
            )
    lines.extend(f"warning: {warning}" for warning in summary.warnings)
    return "\n".join(lines)
