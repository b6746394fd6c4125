"""Attach traffic sources to the instances the monitor sees, and read them.

One :class:`InstanceTraffic` per instance key. Sources:

- container log streams: one follower per container (several masters in one
  container share it; lines are routed by the pid they carry);
- files: polled by one thread every ``FILE_POLL_S``;
- StatsD: one UDP listener (when an address is given), attributed to the
  instances whose ``statsd_host`` points at it, told apart by prefix.

Sources are chosen when an instance first appears and again when its
configuration changes (a reload may turn the access log on).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.traffic.instance_traffic import InstanceTraffic, TrafficView
from gunicorn_tui.traffic.log_follow import DockerLogFollower, FileFollower, LogLine
from gunicorn_tui.traffic.sources import SourcePlan, plan_sources
from gunicorn_tui.traffic.statsd import StatsdListener, StatsdMetric

FILE_POLL_S = 0.25
_PID_IN_LINE = re.compile(r"\[(\d{1,10})\] \[|<(\d{1,10})>")


@dataclass
class _Attached:
    traffic: InstanceTraffic
    plan: SourcePlan
    plan_key: tuple[object, ...]
    container_id: str | None
    files: dict[str, FileFollower] = field(default_factory=dict)
    pids: frozenset[int] = frozenset()
    statsd_prefix: str | None = None
    statsd_host: str | None = None


def _plan_key(sample: InstanceSample) -> tuple[object, ...]:
    config = sample.config
    return tuple(
        config.value(name)
        for name in ("accesslog", "errorlog", "access_log_format", "statsd_host", "statsd_prefix")
    )


class TrafficHub:
    """Owns every follower; thread-safe for one caller of :meth:`update`."""

    def __init__(
        self,
        docker_client: Callable[[], Any] = lambda: None,
        statsd_address: tuple[str, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._docker_client = docker_client
        self._clock = clock
        self._lock = threading.Lock()
        self._attached: dict[str, _Attached] = {}
        self._containers: dict[str, DockerLogFollower] = {}
        self._stop = threading.Event()
        self._file_thread = threading.Thread(
            target=self._poll_files, name="gtui-log-files", daemon=True
        )
        self._file_thread.start()
        self.statsd_error: str | None = None
        self._statsd: StatsdListener | None = None
        if statsd_address is not None:
            listener = StatsdListener(
                self._on_statsd, host=statsd_address[0], port=statsd_address[1]
            )
            try:
                listener.start()
                self._statsd = listener
            except OSError as error:
                self.statsd_error = (
                    f"StatsD listener on {statsd_address[0]}:{statsd_address[1]}: {error}"
                )

    @property
    def statsd_address(self) -> tuple[str, int] | None:
        return self._statsd.address if self._statsd is not None else None

    # -- the monitor's side ------------------------------------------------------

    def update(self, samples: Sequence[InstanceSample]) -> dict[str, TrafficView]:
        """Attach sources for new instances, drop gone ones, return views."""
        now = self._clock()
        seen = {sample.key for sample in samples}
        with self._lock:
            for key in [key for key in self._attached if key not in seen]:
                self._detach(key)
            for sample in samples:
                attached = self._attached.get(sample.key)
                if attached is None or attached.plan_key != _plan_key(sample):
                    if attached is not None:
                        self._detach(sample.key)
                    self._attach(sample)
                    attached = self._attached[sample.key]
                mapping = {
                    worker.ns_pid: worker.pid
                    for worker in sample.workers
                    if worker.ns_pid is not None and worker.pid is not None
                }
                attached.traffic.set_pid_mapping(mapping)
                ns_pids = {sample.master.ns_pid, *mapping}
                attached.pids = frozenset(pid for pid in ns_pids if pid is not None)
            attached_now = dict(self._attached)
        return {key: item.traffic.view(now) for key, item in attached_now.items()}

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            for key in list(self._attached):
                self._detach(key)
        if self._statsd is not None:
            self._statsd.stop()
        self._file_thread.join(timeout=2.0)

    # -- attaching ---------------------------------------------------------------

    def _attach(self, sample: InstanceSample) -> None:
        plan = plan_sources(sample)
        access_format = sample.config.value("access_log_format")
        traffic = InstanceTraffic(access_format if isinstance(access_format, str) else None)
        statsd_host = sample.config.value("statsd_host")
        statsd_prefix = sample.config.value("statsd_prefix")
        attached = _Attached(
            traffic=traffic,
            plan=plan,
            plan_key=_plan_key(sample),
            container_id=sample.container.id if sample.container else None,
            statsd_host=statsd_host if isinstance(statsd_host, str) else None,
            statsd_prefix=statsd_prefix if isinstance(statsd_prefix, str) else None,
        )
        for path in plan.files:
            try:
                attached.files[path] = FileFollower(path)
                traffic.sources.append(f"file {path}")
            except OSError as error:
                traffic.sources.append(f"file {path}: {error}")
        if plan.container_logs and attached.container_id:
            self._follow_container(attached.container_id)
            traffic.sources.append("container log stream")
        if self._listens_for(attached):
            traffic.sources.append("statsd")
            # Without an access log, StatsD is the only request count.
            traffic.use_statsd_requests = not plan.access_log_enabled
        self._attached[sample.key] = attached

    def _detach(self, key: str) -> None:
        attached = self._attached.pop(key, None)
        if attached is None:
            return
        for follower in attached.files.values():
            follower.close()
        container_id = attached.container_id
        if container_id and not any(
            other.container_id == container_id and other.plan.container_logs
            for other in self._attached.values()
        ):
            stream = self._containers.pop(container_id, None)
            if stream is not None:
                stream.stop(timeout_s=0.5)

    def _follow_container(self, container_id: str) -> None:
        if container_id in self._containers:
            return
        client = self._docker_client()
        if client is None:
            return

        def on_lines(lines: list[LogLine], received_at: float) -> None:
            self._route(container_id, [line.text for line in lines], received_at)

        follower = DockerLogFollower(client, container_id, on_lines)
        follower.start()
        self._containers[container_id] = follower

    # -- delivering ----------------------------------------------------------------

    def _route(self, container_id: str, lines: list[str], received_at: float) -> None:
        with self._lock:
            targets = [
                item
                for item in self._attached.values()
                if item.container_id == container_id and item.plan.container_logs
            ]
        if not targets:
            return
        if len(targets) == 1:
            targets[0].traffic.add_lines(lines, received_at)
            return
        # Several masters share one stream: route by the pid a line carries
        # (error log "[pid]", access log "<pid>"), else to the first.
        routed: dict[int, list[str]] = {}
        for line in lines:
            index = 0
            match = _PID_IN_LINE.search(line)
            if match is not None:
                pid = int(match.group(1) or match.group(2))
                index = next((i for i, t in enumerate(targets) if pid in t.pids), 0)
            routed.setdefault(index, []).append(line)
        for index, chunk in routed.items():
            targets[index].traffic.add_lines(chunk, received_at)

    def _poll_files(self) -> None:
        while not self._stop.wait(FILE_POLL_S):
            with self._lock:
                work = [
                    (item.traffic, follower)
                    for item in self._attached.values()
                    for follower in item.files.values()
                ]
            now = self._clock()
            for traffic, follower in work:
                try:
                    lines = follower.poll()
                except Exception:  # a follower must not stop the others
                    continue
                if lines:
                    traffic.add_lines(lines, now)

    def _listens_for(self, attached: _Attached) -> bool:
        if self._statsd is None or attached.statsd_host is None:
            return False
        host, _, port = attached.statsd_host.rpartition(":")
        listen_host, listen_port = self._statsd.address
        return port == str(listen_port) and host in (listen_host, "localhost", "127.0.0.1")

    def _on_statsd(self, metrics: list[StatsdMetric], received_at: float) -> None:
        now = received_at
        with self._lock:
            listeners = [item for item in self._attached.values() if self._listens_for(item)]
        if not listeners or not metrics:
            return
        if len(listeners) == 1:
            listeners[0].traffic.add_statsd(metrics, now)
            return
        by_prefix: dict[str, list[StatsdMetric]] = {}
        for metric in metrics:
            by_prefix.setdefault(metric.prefix.rstrip("."), []).append(metric)
        for item in listeners:
            prefix = (item.statsd_prefix or "").rstrip(".")
            chunk = by_prefix.get(prefix)
            if chunk:
                item.traffic.add_statsd(chunk, now)
