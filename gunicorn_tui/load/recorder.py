"""Accumulates what happens to each request into per-second and run summaries.

It takes times as arguments (integer nanoseconds of one monotonic clock) and
does no I/O, so it is tested with plain data. It belongs to the driver's
event loop: it is not thread-safe, and callers outside that loop only see the
frozen summaries it returns.
"""

from __future__ import annotations

from collections.abc import Sequence

from gunicorn_tui.load.latency_histogram import LatencyHistogram
from gunicorn_tui.load.outcome import ErrorKind, status_error_kind
from gunicorn_tui.load.profile import RequestSpec
from gunicorn_tui.load.summary import (
    ERROR_KIND_INDEX,
    ERROR_KIND_ORDER,
    EndpointSummary,
    ErrorCounts,
    LatencySummary,
    SecondSummary,
)

_NS_PER_MS = 1_000_000
_HTTP_5XX = ERROR_KIND_INDEX[ErrorKind.HTTP_5XX]
_HTTP_4XX = ERROR_KIND_INDEX[ErrorKind.HTTP_4XX]


class _Window:
    """Counters and histograms of one second."""

    __slots__ = ("completed", "errors", "latency", "send_lag", "sent", "service")

    def __init__(self) -> None:
        self.sent = 0
        self.completed = 0
        self.errors = [0] * len(ERROR_KIND_ORDER)
        self.latency = LatencyHistogram()
        self.service = LatencyHistogram()
        self.send_lag = LatencyHistogram()


class _Endpoint:
    __slots__ = ("completed", "errors", "latency", "sent")

    def __init__(self) -> None:
        self.sent = 0
        self.completed = 0
        self.errors = [0] * len(ERROR_KIND_ORDER)
        self.latency = LatencyHistogram()


class RunRecorder:
    """Counts sends, responses and failures; closes one window per second."""

    def __init__(self, specs: Sequence[RequestSpec]) -> None:
        self.specs = tuple(specs)
        self.window = _Window()
        self.endpoints = [_Endpoint() for _ in self.specs]
        self.status_counts: dict[int, int] = {}
        self.sent = 0
        self.completed = 0
        self.unfinished = 0
        self.in_flight = 0
        self.errors = [0] * len(ERROR_KIND_ORDER)
        self.latency = LatencyHistogram()
        self.service = LatencyHistogram()
        self.send_lag = LatencyHistogram()
        self.seconds: list[SecondSummary] = []

    def on_sent(self, spec_index: int, due_ns: int, sent_ns: int) -> None:
        """A request left (or is about to leave) the client."""
        self.sent += 1
        self.in_flight += 1
        window = self.window
        window.sent += 1
        window.send_lag.record(sent_ns - due_ns)
        self.endpoints[spec_index].sent += 1

    def on_response(
        self, spec_index: int, status_code: int, due_ns: int, sent_ns: int, done_ns: int
    ) -> None:
        """A complete response arrived, whatever its status."""
        self.in_flight -= 1
        self.completed += 1
        window = self.window
        window.completed += 1
        latency_ns = done_ns - due_ns
        window.latency.record(latency_ns)
        window.service.record(done_ns - sent_ns)
        endpoint = self.endpoints[spec_index]
        endpoint.completed += 1
        endpoint.latency.record(latency_ns)
        self.status_counts[status_code] = self.status_counts.get(status_code, 0) + 1
        kind = status_error_kind(status_code)
        if kind is not None:
            index = _HTTP_5XX if kind is ErrorKind.HTTP_5XX else _HTTP_4XX
            window.errors[index] += 1
            endpoint.errors[index] += 1

    def on_failure(self, spec_index: int, kind: ErrorKind) -> None:
        """A request ended without a response."""
        self.in_flight -= 1
        index = ERROR_KIND_INDEX[kind]
        self.window.errors[index] += 1
        self.endpoints[spec_index].errors[index] += 1

    def on_unfinished(self, spec_index: int) -> None:
        """A request was cut off by a stop or the end of the drain time."""
        self.in_flight -= 1
        self.unfinished += 1

    def window_is_empty(self) -> bool:
        """Whether nothing happened in the current window yet."""
        window = self.window
        return window.sent == 0 and window.completed == 0 and not any(window.errors)

    def close_second(
        self, second: int, window_s: float, started_at: float, target_sends: int | None
    ) -> SecondSummary:
        """End the current window, fold it into the totals, and summarise it."""
        window = self.window
        self.window = _Window()
        for index, count in enumerate(window.errors):
            self.errors[index] += count
        self.latency.merge(window.latency)
        self.service.merge(window.service)
        self.send_lag.merge(window.send_lag)
        summary = SecondSummary(
            second=second,
            window_s=window_s,
            started_at=started_at,
            target_sends=target_sends,
            sent=window.sent,
            completed=window.completed,
            errors=ErrorCounts.from_list(window.errors),
            in_flight=self.in_flight,
            latency=LatencySummary.of(window.latency),
            service=LatencySummary.of(window.service),
            send_lag_max_ms=(
                window.send_lag.max_ns / _NS_PER_MS if window.send_lag.count else None
            ),
            latency_buckets=tuple(window.latency.buckets.items()),
        )
        self.seconds.append(summary)
        return summary

    def error_counts(self) -> ErrorCounts:
        """Failures so far (closed windows only)."""
        return ErrorCounts.from_list(self.errors)

    def endpoint_summaries(self) -> tuple[EndpointSummary, ...]:
        """Per-request-kind figures of the whole run."""
        return tuple(
            EndpointSummary(
                name=spec.name,
                method=spec.method,
                path=spec.path,
                sent=endpoint.sent,
                completed=endpoint.completed,
                errors=ErrorCounts.from_list(endpoint.errors),
                latency=LatencySummary.of(endpoint.latency),
            )
            for spec, endpoint in zip(self.specs, self.endpoints, strict=True)
        )
