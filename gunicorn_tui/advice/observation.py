"""A window of observations of one instance, boiled down for the rules.

:func:`summarize_window` is pure: samples (and the traffic view and
backlog reading taken with each) in, one :class:`LoadObservation` out.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gunicorn_tui.model.instances import InstanceSample, WorkerState
from gunicorn_tui.traffic.instance_traffic import TrafficView

_BUSY = (WorkerState.BUSY, WorkerState.STUCK)
_KNOWN = (WorkerState.BUSY, WorkerState.STUCK, WorkerState.IDLE)


@dataclass(frozen=True)
class ObservedSample:
    """One sample of the window with what was read next to it.

    ``schedstat`` maps a worker's host pid to its cumulative CPU time and
    run-queue wait in ns (``/proc/PID/schedstat``). Waiting for a CPU (the
    host busy, or the cgroup's quota used up) looks like idling in CPU
    figures; the wait tells a starved worker from one waiting on I/O.
    """

    sample: InstanceSample
    traffic: TrafficView | None
    backlog_queued: int | None
    schedstat: Mapping[int, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadObservation:
    """What a window of samples showed.

    CPU figures are percent of one core; ``busy_share`` is the mean share
    of workers busy (serving, or stuck) among those whose state was known.
    Event counts are since gtui began reading the error log (None when no
    error log is read).
    """

    window_s: float
    samples: int
    busy_share: float | None
    worker_cpu_percent: float | None  # mean per worker
    busy_worker_cpu_percent: float | None  # CPU per busy worker: low means waiting
    # Run-queue wait per worker (% of wall time) and CPU plus that wait per
    # busy worker: what a busy worker would use with a CPU free for it.
    worker_run_wait_percent: float | None
    busy_worker_cpu_demand_percent: float | None
    cpu_percent: float | None  # the whole instance
    requests_per_s: float | None
    latency_p99_ms: float | None
    error_rate: float | None
    backlog_first: int | None
    backlog_last: int | None
    backlog_max: int | None
    timeouts: int | None
    oom_suspected: int | None
    killed: int | None
    nonzero_exits: int | None
    max_requests_restarts: int | None
    traffic_source: str | None


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def parse_schedstat(text: str) -> tuple[int, int] | None:
    """(CPU ns, run-queue wait ns) of a ``/proc/PID/schedstat`` line."""
    words = text.split()
    if len(words) < 2 or not words[0].isdigit() or not words[1].isdigit():
        return None
    return int(words[0]), int(words[1])


def _run_wait_percent(observed: Sequence[ObservedSample]) -> float | None:
    """Mean run-queue wait per worker over the window, % of wall time."""
    first: dict[int, tuple[float, int]] = {}
    last: dict[int, tuple[float, int]] = {}
    for item in observed:
        for pid, (_cpu_ns, wait_ns) in item.schedstat.items():
            first.setdefault(pid, (item.sample.taken_at, wait_ns))
            last[pid] = (item.sample.taken_at, wait_ns)
    shares = []
    for pid, (start_at, start_ns) in first.items():
        end_at, end_ns = last[pid]
        if end_at - start_at >= 1.0 and end_ns >= start_ns:
            shares.append((end_ns - start_ns) / 1e9 / (end_at - start_at) * 100.0)
    return statistics.fmean(shares) if shares else None


def summarize_window(observed: Sequence[ObservedSample]) -> LoadObservation:
    """Boil a window down (an empty window gives all-None figures)."""
    busy_shares: list[float] = []
    worker_cpu: list[float] = []
    totals: list[float] = []
    backlog = [o.backlog_queued for o in observed if o.backlog_queued is not None]
    for item in observed:
        workers = item.sample.workers
        known = [w for w in workers if w.state in _KNOWN]
        if known:
            busy = sum(1 for w in known if w.state in _BUSY)
            busy_shares.append(busy / len(known))
        cpus = [w.process.cpu_percent for w in workers if w.process.cpu_percent is not None]
        if cpus:
            worker_cpu.append(statistics.fmean(cpus))
        if item.sample.totals.cpu_percent is not None:
            totals.append(item.sample.totals.cpu_percent)
    busy_share = _mean(busy_shares)
    worker_cpu_mean = _mean(worker_cpu)
    busy_cpu = None
    if busy_share is not None and worker_cpu_mean is not None and busy_share > 0.05:
        busy_cpu = worker_cpu_mean / busy_share
    wait_percent = _run_wait_percent(observed)
    demand = None
    if busy_cpu is not None and wait_percent is not None and busy_share:
        demand = busy_cpu + wait_percent / busy_share
    window_s = observed[-1].sample.taken_at - observed[0].sample.taken_at if observed else 0.0
    last_view = next((o.traffic for o in reversed(observed) if o.traffic is not None), None)
    rps = p99 = error_rate = None
    source = None
    timeouts = oom = killed = nonzero = max_req = None
    if last_view is not None:
        source = last_view.request_source
        if source is not None:
            figures = last_view.snapshot.window(10)
            rps = figures.requests_per_s
            p99 = figures.latency.p99_ms
            error_rate = figures.error_rate
        if any(s != "statsd" for s in last_view.sources):  # a log is read
            lives = last_view.worker_lives
            timeouts, oom, killed = lives.timeouts, lives.oom_suspected, lives.killed
            nonzero, max_req = lives.nonzero_exits, lives.max_requests_restarts
    return LoadObservation(
        window_s=window_s,
        samples=len(observed),
        busy_share=busy_share,
        worker_cpu_percent=worker_cpu_mean,
        busy_worker_cpu_percent=busy_cpu,
        worker_run_wait_percent=wait_percent,
        busy_worker_cpu_demand_percent=demand,
        cpu_percent=_mean(totals),
        requests_per_s=rps,
        latency_p99_ms=p99,
        error_rate=error_rate,
        backlog_first=backlog[0] if backlog else None,
        backlog_last=backlog[-1] if backlog else None,
        backlog_max=max(backlog) if backlog else None,
        timeouts=timeouts,
        oom_suspected=oom,
        killed=killed,
        nonzero_exits=nonzero,
        max_requests_restarts=max_req,
        traffic_source=source,
    )
