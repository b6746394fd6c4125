"""Attach traffic sources to the instances the monitor sees, and read them.

One :class:`InstanceTraffic` per instance key. Sources:

- container log streams: one follower per container (several masters in one
  container share it; lines are routed by the pid they carry);
- files: polled by one thread every ``FILE_POLL_S``;
- StatsD: one UDP listener (when an address is given), attributed to the
  instances whose ``statsd_host`` points at it (read from the master's
  connected UDP socket when the configuration is hidden), told apart by the
  port their packets come from (the master's socket, which its workers
  share), else by prefix.

Sources are chosen when an instance first appears and again when its
configuration changes (a reload may turn the access log on). A new plan
keeps the instance's figures and the followers of files it still wants (a
follower made anew would start at the end and skip what was written in
between). When the configuration is hidden, the master's open files and
StatsD socket are looked at again every ``RESCAN_HIDDEN_S`` until found.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gunicorn_tui.model.instances import ConfigSource, InstanceSample, SamplingMode
from gunicorn_tui.traffic.instance_traffic import InstanceTraffic, TrafficView
from gunicorn_tui.traffic.log_follow import DockerLogFollower, FileFollower, LogLine
from gunicorn_tui.traffic.sources import SourcePlan, UdpPeer, plan_sources, statsd_peers
from gunicorn_tui.traffic.statsd import StatsdListener, StatsdMetric

FILE_POLL_S = 0.25
RESCAN_HIDDEN_S = 5.0
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
    # The port the instance's StatsD packets come from, when seen here.
    statsd_sender_port: int | None = None
    following_container: bool = False
    # Monotonic time of the next look at a hidden configuration's files and
    # StatsD socket; None when the configuration said where they are.
    rescan_at: float | None = None


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
        # StatsD packets that no watched instance could be told to own.
        self.statsd_unattributed = 0
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
                if attached is None:
                    self._attach(sample)
                    attached = self._attached[sample.key]
                elif attached.plan_key != _plan_key(sample) or (
                    attached.rescan_at is not None and time.monotonic() >= attached.rescan_at
                ):
                    self._apply_plan(attached, sample)
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
        access_format = sample.config.value("access_log_format")
        traffic = InstanceTraffic(access_format if isinstance(access_format, str) else None)
        attached = _Attached(
            traffic=traffic,
            plan=SourcePlan(False, (), (), None),
            plan_key=(),
            container_id=sample.container.id if sample.container else None,
        )
        self._attached[sample.key] = attached
        self._apply_plan(attached, sample)

    def _apply_plan(self, attached: _Attached, sample: InstanceSample) -> None:
        """Follow what ``sample``'s configuration says (again), keeping the
        followers of files that stay, so no line is skipped or read twice."""
        plan = plan_sources(sample)
        config = sample.config
        hidden = config.get("accesslog").source is ConfigSource.UNKNOWN
        rescan = attached.plan_key == _plan_key(sample)
        if rescan and attached.plan.from_open_files:
            # A file found open in the master is followed by its name, which
            # rotation moves: after a rename the master's descriptor names
            # the old file until it reopens its logs. The followers already
            # handle rotation by name; following the new name too would read
            # lines twice or, once the master reopened, start late.
            plan = replace(plan, files=attached.plan.files, from_open_files=True)
        for path in [path for path in attached.files if path not in plan.files]:
            attached.files.pop(path).close()
        for path in plan.files:
            if path not in attached.files:
                # Without an error the follower waits for the file to appear.
                attached.files[path] = FileFollower(path)
        if plan.container_logs and attached.container_id:
            attached.following_container = self._follow_container(attached.container_id)
        elif attached.following_container:
            attached.following_container = False
            self._stop_unused_stream(attached.container_id)
        statsd_host = config.value("statsd_host")
        statsd_prefix = config.value("statsd_prefix")
        attached.statsd_host = statsd_host if isinstance(statsd_host, str) else None
        attached.statsd_prefix = statsd_prefix if isinstance(statsd_prefix, str) else None
        statsd_hidden = config.get("statsd_host").source is ConfigSource.UNKNOWN
        attached.statsd_sender_port = None
        if sample.master.pid is not None and sample.mode is not SamplingMode.API:
            peers = statsd_peers(sample.master.pid)
            ours = [peer for peer in peers if self._peer_is_ours(peer)]
            if ours:
                attached.statsd_sender_port = ours[0].local_port
            if statsd_hidden and (ours or peers):
                # The master may hold other UDP sockets: ours first.
                peer = (ours or peers)[0]
                attached.statsd_host = f"{peer.host}:{peer.port}"
        attached.plan = plan
        attached.plan_key = _plan_key(sample)
        incomplete = not plan.from_open_files or attached.statsd_host is None
        attached.rescan_at = time.monotonic() + RESCAN_HIDDEN_S if hidden and incomplete else None
        traffic = attached.traffic
        sources = [f"file {path}" for path in attached.files]
        if attached.following_container:
            sources.append("container log stream")
        if self._listens_for(attached):
            sources.append("statsd")
        traffic.sources = sources
        traffic.notes = list(plan.notes)
        traffic.access_log_expected = plan.access_log_readable

    def _detach(self, key: str) -> None:
        attached = self._attached.pop(key, None)
        if attached is None:
            return
        for follower in attached.files.values():
            follower.close()
        self._stop_unused_stream(attached.container_id)

    def _stop_unused_stream(self, container_id: str | None) -> None:
        if container_id and not any(
            other.container_id == container_id and other.following_container
            for other in self._attached.values()
        ):
            stream = self._containers.pop(container_id, None)
            if stream is not None:
                stream.stop(timeout_s=0.5)

    def _follow_container(self, container_id: str) -> bool:
        if container_id in self._containers:
            return True
        client = self._docker_client()
        if client is None:
            return False

        def on_lines(lines: list[LogLine], received_at: float) -> None:
            self._route(container_id, [line.text for line in lines], received_at)

        follower = DockerLogFollower(client, container_id, on_lines)
        follower.start()
        self._containers[container_id] = follower
        return True

    # -- delivering ----------------------------------------------------------------

    def _route(self, container_id: str, lines: list[str], received_at: float) -> None:
        with self._lock:
            targets = [
                item
                for item in self._attached.values()
                if item.container_id == container_id and item.following_container
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

    def _peer_is_ours(self, peer: UdpPeer) -> bool:
        if self._statsd is None:
            return False
        listen_host, listen_port = self._statsd.address
        return peer.port == listen_port and peer.host in (listen_host, "127.0.0.1")

    def _on_statsd(self, metrics: list[StatsdMetric], received_at: float) -> None:
        with self._lock:
            listeners = [item for item in self._attached.values() if self._listens_for(item)]
        if not listeners or not metrics:
            return
        sender = self._statsd.sender if self._statsd is not None else None
        if sender is not None:
            matched = [item for item in listeners if item.statsd_sender_port == sender[1]]
            if len(matched) == 1:
                matched[0].traffic.add_statsd(metrics, received_at)
                return
            if all(item.statsd_sender_port is not None for item in listeners):
                # From a server gtui does not watch (or not yet).
                self.statsd_unattributed += 1
                return
        if len(listeners) == 1:
            listeners[0].traffic.add_statsd(metrics, received_at)
            return
        by_prefix: dict[str, list[StatsdMetric]] = {}
        for metric in metrics:
            by_prefix.setdefault(metric.prefix.rstrip("."), []).append(metric)
        for prefix, chunk in by_prefix.items():
            owners = [
                item for item in listeners if (item.statsd_prefix or "").rstrip(".") == prefix
            ]
            if len(owners) == 1:
                owners[0].traffic.add_statsd(chunk, received_at)
            else:
                # No owner, or several servers with one prefix: giving it to
                # each would count it several times.
                self.statsd_unattributed += 1
