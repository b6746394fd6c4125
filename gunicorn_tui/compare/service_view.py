"""A Compose service seen as one instance: its replicas' samples and
traffic combined, so that an epoch tracker, a guided A/B or a sweep
measures the service as a whole.

:class:`ServiceView` wraps a frame source: every frame it returns holds
one instance, keyed ``service:HOST/PROJECT/SERVICE``, made of the replicas
the frame shows (:func:`combined_sample`), and its traffic
(:func:`combined_traffic`). The replicas themselves stay available
(:attr:`ServiceView.replicas`) for whatever acts on them.

How the figures combine:

* workers: every replica's, together (the worker count is the service's
  total); ``workers_target`` is the count each replica aims for when they
  agree (the configuration is per replica: ``workers=2`` on 3 replicas
  runs 6 workers), else None;
* CPU and memory: summed over the replicas;
* server seconds: requests summed; a second is given out only once every
  replica that has a history has closed it; error rate and latency
  percentiles are the replicas' per-second figures weighted by their
  requests. (The traffic view keeps no per-request latencies, so a
  service's server-side p99 is an approximation; the load driver's
  latency is exact over every request.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from gunicorn_tui.control.planning.running_config import current_workers
from gunicorn_tui.model.instances import InstanceSample, ResourceTotals
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.traffic.error_log import WorkerLifeCounts
from gunicorn_tui.traffic.instance_traffic import LineCounts, TrafficView
from gunicorn_tui.traffic.metrics import TrafficPoint

SERVICE_KEY_PREFIX = "service:"


def service_key(host: str, project: str, service: str) -> str:
    """The key of a service's combined instance."""
    return f"{SERVICE_KEY_PREFIX}{host}/{project}/{service}"


def is_service_key(key: str | None) -> bool:
    return key is not None and key.startswith(SERVICE_KEY_PREFIX)


def replicas_of(
    instances: Sequence[InstanceSample], project: str, service: str, host: str | None = None
) -> list[InstanceSample]:
    """The instances of Compose service ``project/service`` (on ``host`` when
    given), in replica order."""
    found = []
    for sample in instances:
        container = sample.container
        compose = container.compose if container is not None else None
        if compose is None or (compose.project, compose.service) != (project, service):
            continue
        if host is not None and sample.host != host:
            continue
        found.append(sample)

    def order(sample: InstanceSample) -> tuple[int, str]:
        container = sample.container
        compose = container.compose if container is not None else None
        number = (compose.number or 0) if compose is not None else 0
        return number, container.name if container is not None else ""

    return sorted(found, key=order)


def _sum(values: Sequence[float | int | None]) -> float | None:
    if not values or any(value is None for value in values):
        return None
    return float(sum(value for value in values if value is not None))


def _sum_int(values: Sequence[int | None]) -> int | None:
    total = _sum(values)
    return int(total) if total is not None else None


def _agreed_workers(replicas: Sequence[InstanceSample]) -> int | None:
    counts = {current_workers(sample) for sample in replicas}
    return counts.pop() if len(counts) == 1 else None


def combined_sample(key: str, text: str, replicas: Sequence[InstanceSample]) -> InstanceSample:
    """One instance standing for ``replicas`` (module docstring). The first
    replica lends its master, configuration and version: the replicas of a
    service run one configuration (callers check that they agree)."""
    if not replicas:
        raise ValueError("a service needs at least one replica")
    first = replicas[0]
    totals = ResourceTotals(
        cpu_percent=_sum([s.totals.cpu_percent for s in replicas]),
        memory_bytes=_sum_int([s.totals.memory_bytes for s in replicas]),
        memory_limit_bytes=_sum_int([s.totals.memory_limit_bytes for s in replicas]),
        cpu_limit_cores=_sum([s.totals.cpu_limit_cores for s in replicas]),
        from_cgroup=all(s.totals.from_cgroup for s in replicas),
    )
    reloads = _sum_int([s.reloads for s in replicas])
    return dataclasses.replace(
        first,
        key=key,
        container=None,
        name=text,
        workers=tuple(worker for sample in replicas for worker in sample.workers),
        totals=totals,
        workers_target=_agreed_workers(replicas),
        taken_at=max(sample.taken_at for sample in replicas),
        control_socket=None,
        warnings=tuple(dict.fromkeys(w for sample in replicas for w in sample.warnings)),
        reloads=reloads,
    )


def _weighted(
    points: Sequence[TrafficPoint], value: Callable[[TrafficPoint], float | None]
) -> float | None:
    pairs = [(value(p), p.requests) for p in points if value(p) is not None and p.requests > 0]
    weight = sum(requests for _value, requests in pairs)
    if not weight:
        return None
    return sum((v or 0.0) * requests for v, requests in pairs) / weight


def combined_history(histories: Sequence[Sequence[TrafficPoint]]) -> tuple[TrafficPoint, ...]:
    """Per-second points of every replica added up, up to the last second
    every replica with a history has closed (a later one may still grow)."""
    kept = [history for history in histories if history]
    if not kept:
        return ()
    last = min(history[-1].second for history in kept)
    by_second: dict[int, list[TrafficPoint]] = {}
    for history in kept:
        for point in history:
            if point.second <= last:
                by_second.setdefault(point.second, []).append(point)
    points = []
    for second in sorted(by_second):
        parts = by_second[second]
        maxima = [p.max_ms for p in parts if p.max_ms is not None]
        points.append(
            TrafficPoint(
                second=second,
                requests=sum(p.requests for p in parts),
                error_rate=_weighted(parts, lambda p: p.error_rate),
                p50_ms=_weighted(parts, lambda p: p.p50_ms),
                p90_ms=_weighted(parts, lambda p: p.p90_ms),
                p99_ms=_weighted(parts, lambda p: p.p99_ms),
                max_ms=max(maxima) if maxima else None,
            )
        )
    return tuple(points)


def _summed(items: Sequence[object], kind: type) -> object:
    fields = [f.name for f in dataclasses.fields(kind)]
    totals = {}
    for name in fields:
        values = [getattr(item, name) for item in items]
        totals[name] = sum(values) if all(isinstance(v, int) for v in values) else values[0]
    return kind(**totals)


def combined_traffic(views: Sequence[TrafficView | None]) -> TrafficView | None:
    """The replicas' traffic as one view (None when none is read); only the
    parts an epoch tracker reads are combined: the per-second history, the
    worker-life counts and the line counts. A replica without a view (its
    log not read) leaves its requests out: the notes say so."""
    present = [view for view in views if view is not None]
    if not present:
        return None
    first = present[0]
    notes = list(first.notes)
    if len(present) < len(views):
        notes.append(f"traffic of {len(views) - len(present)} replica(s) not read")
    lives = _summed([view.worker_lives for view in present], WorkerLifeCounts)
    lines = _summed([view.lines for view in present], LineCounts)
    assert isinstance(lives, WorkerLifeCounts) and isinstance(lines, LineCounts)
    return dataclasses.replace(
        first,
        history=combined_history([view.history for view in present]),
        worker_lives=lives,
        lines=lines,
        statsd_packets=sum(view.statsd_packets for view in present),
        notes=tuple(notes),
    )


class ServiceView:
    """A frame source showing Compose service ``project/service`` as one
    instance (module docstring)."""

    def __init__(
        self, frames: Callable[[], MonitorFrame], project: str, service: str, host: str
    ) -> None:
        self._frames = frames
        self.project = project
        self.service = service
        self.host = host
        self.key = service_key(host, project, service)
        self.text = f"{project}/{service}"
        self.replicas: tuple[InstanceSample, ...] = ()

    def __call__(self) -> MonitorFrame:
        frame = self._frames()
        replicas = replicas_of(frame.instances, self.project, self.service, self.host)
        if not replicas:
            self.replicas = ()
            return dataclasses.replace(frame, instances=(), traffic={})
        self.replicas = tuple(replicas)
        sample = combined_sample(self.key, self.text, replicas)
        traffic = combined_traffic([frame.traffic.get(r.key) for r in replicas])
        return dataclasses.replace(
            frame,
            instances=(sample,),
            traffic={self.key: traffic} if traffic is not None else {},
        )
