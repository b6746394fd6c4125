"""What a load run reports: one summary per second and one for the run.

Two latencies are reported for every request that got a response:

- ``latency``: from the time the request was *due* to the last byte of the
  response. In an open loop this is what a user arriving on schedule would
  have waited, queueing in the client included (coordinated omission
  corrected). In a closed loop a request is due when it is sent, so it
  equals ``service``.
- ``service``: from the moment the request was actually sent.

``send_lag`` is the difference (sent minus due): near zero while the client
and server keep up; large when every connection is busy (the server is
slow) or when the client's own CPU is saturated (compare ``client_cpu_s``
with the elapsed time).

Counting: ``sent = completed + transport errors + unfinished``. ``completed``
counts every response, whatever its status; 4xx and 5xx responses are also
counted in ``errors``. ``unfinished`` requests were cut off when the run was
stopped or its drain time ran out; ``missed`` requests were due but never
sent because the run ended first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gunicorn_tui.load.error_kind import TRANSPORT_KINDS, ErrorKind
from gunicorn_tui.load.latency_histogram import LatencyHistogram
from gunicorn_tui.load.profile import RunMode

_NS_PER_MS = 1_000_000


class StopReason(StrEnum):
    """Why a run ended."""

    DURATION = "duration"
    MAX_REQUESTS = "max_requests"
    STOPPED = "stopped"
    TIME_CAP = "time_cap"


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles of one latency series, in milliseconds (None when empty).

    Percentiles are within 0.1% of the exact nearest-rank value (see
    :mod:`gunicorn_tui.load.latency_histogram`); min, max and mean are exact.
    """

    count: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    min_ms: float | None
    mean_ms: float | None

    @classmethod
    def of(cls, histogram: LatencyHistogram) -> LatencySummary:
        """Summarise ``histogram``."""
        p50, p90, p99 = histogram.percentiles_ns((0.5, 0.9, 0.99))
        mean = histogram.mean_ns
        empty = histogram.count == 0
        return cls(
            count=histogram.count,
            p50_ms=_ms(p50),
            p90_ms=_ms(p90),
            p99_ms=_ms(p99),
            max_ms=None if empty else histogram.max_ns / _NS_PER_MS,
            min_ms=None if empty else histogram.min_ns / _NS_PER_MS,
            mean_ms=None if mean is None else mean / _NS_PER_MS,
        )


def _ms(value_ns: int | None) -> float | None:
    return None if value_ns is None else value_ns / _NS_PER_MS


@dataclass(frozen=True)
class ErrorCounts:
    """Failed requests by kind (see :class:`~gunicorn_tui.load.outcome.ErrorKind`)."""

    connect_refused: int = 0
    timeout: int = 0
    http_5xx: int = 0
    http_4xx: int = 0
    protocol: int = 0
    tls: int = 0
    other: int = 0

    def get(self, kind: ErrorKind) -> int:
        """The count for ``kind``."""
        value: int = getattr(self, kind.value)
        return value

    @property
    def total(self) -> int:
        """Every failed request, HTTP errors included."""
        return sum(self.get(kind) for kind in ErrorKind)

    @property
    def transport_total(self) -> int:
        """Requests that got no response at all."""
        return sum(self.get(kind) for kind in TRANSPORT_KINDS)

    @classmethod
    def from_list(cls, counts: list[int]) -> ErrorCounts:
        """Build from counts in :data:`ERROR_KIND_ORDER` order."""
        return cls(**{kind.value: counts[i] for i, kind in enumerate(ERROR_KIND_ORDER)})


ERROR_KIND_ORDER: tuple[ErrorKind, ...] = tuple(ErrorKind)
ERROR_KIND_INDEX: Mapping[ErrorKind, int] = {kind: i for i, kind in enumerate(ERROR_KIND_ORDER)}


@dataclass(frozen=True)
class SecondSummary:
    """One second of a run (the last one may be shorter: see ``window_s``).

    Sends are counted in the second they were sent, responses and errors in
    the second they ended.
    """

    second: int
    window_s: float
    started_at: float
    target_sends: int | None
    sent: int
    completed: int
    errors: ErrorCounts
    in_flight: int
    latency: LatencySummary
    service: LatencySummary
    send_lag_max_ms: float | None
    # The second's latency histogram (bucket index, count): an interleaved
    # comparison pools them into percentiles of every request of a segment.
    # Left out of JSON output.
    latency_buckets: tuple[tuple[int, int], ...] = ()

    @property
    def sent_rps(self) -> float:
        """Sends per second in this window."""
        return self.sent / self.window_s if self.window_s > 0 else 0.0

    @property
    def completed_rps(self) -> float:
        """Responses per second in this window."""
        return self.completed / self.window_s if self.window_s > 0 else 0.0


@dataclass(frozen=True)
class EndpointSummary:
    """The figures of one request of the profile's mix."""

    name: str
    method: str
    path: str
    sent: int
    completed: int
    errors: ErrorCounts
    latency: LatencySummary


@dataclass(frozen=True)
class RunSummary:
    """A finished run."""

    profile_source: str
    mode: RunMode
    target: str
    started_at: float
    elapsed_s: float
    stop_reason: StopReason
    rate_rps: float | None
    concurrency: int | None
    connections: int
    planned_requests: int | None
    sent: int
    completed: int
    unfinished: int
    missed: int
    errors: ErrorCounts
    status_counts: Mapping[int, int]
    latency: LatencySummary
    service: LatencySummary
    send_lag: LatencySummary
    endpoints: tuple[EndpointSummary, ...]
    seconds: tuple[SecondSummary, ...]
    client_cpu_s: float
    warnings: tuple[str, ...] = field(default=())
    client_stack: str = ""
    """The driver's event loop and parser (``uvloop + httptools``...)."""

    @property
    def throughput_rps(self) -> float:
        """Responses per second over the whole run."""
        return self.completed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def error_rate(self) -> float:
        """Failed requests (HTTP errors included) per request that ended."""
        ended = self.completed + self.errors.transport_total
        return self.errors.total / ended if ended else 0.0

    @property
    def client_cpu_percent(self) -> float:
        """The driver's CPU use (its process's, or its thread's when it ran
        in the caller's process), in percent of one core."""
        return 100.0 * self.client_cpu_s / self.elapsed_s if self.elapsed_s > 0 else 0.0
