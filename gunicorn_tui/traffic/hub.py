"""Attach traffic sources to the instances the monitor sees, and read them.

One :class:`InstanceTraffic` per instance key. Sources:

- container log streams: one follower per container (several masters in one
  container share it; lines are routed by the pid they carry), through the
  Docker API client of the engine the instance came from (over SSH, a
  channel of that host's one connection); a follower whose engine
  reconnected is made anew on the new client, resuming where the old one
  stopped;
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
StatsD socket are looked at again every ``RESCAN_HIDDEN_S`` until found
(the StatsD socket also when the configuration names it).

An instance of an engine on another machine (``remote_host`` says which)
is planned as through a remote daemon whatever its sampling mode (an agent
there samples /proc, but its pids are not this machine's to read): its
container log stream only, and no StatsD (the listener is this machine's).
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
from gunicorn_tui.traffic.log_paths import LogFileRef
from gunicorn_tui.traffic.sources import SourcePlan, UdpPeer, plan_sources, statsd_peers
from gunicorn_tui.traffic.statsd import StatsdListener, StatsdMetric

FILE_POLL_S = 0.25
RESCAN_HIDDEN_S = 5.0
# A log stream that starts this soon after it was first wanted reads from that
# moment on (no request lost while the engine's client was being made).
_CATCH_UP_S = 10.0
_PID_IN_LINE = re.compile(r"\[(\d{1,10})\] \[|<(\d{1,10})>")


@dataclass
class _Attached:
    traffic: InstanceTraffic
    plan: SourcePlan
    plan_key: tuple[object, ...]
    container_id: str | None
    # The engine the instance came from (``InstanceSample.host``).
    host: str = ""
    files: dict[LogFileRef, FileFollower] = field(default_factory=dict)
    pids: frozenset[int] = frozenset()
    statsd_prefix: str | None = None
    statsd_host: str | None = None
    # The port the instance's StatsD packets come from, when seen here.
    statsd_sender_port: int | None = None
    following_container: bool = False
    # Why its log stream is wanted but not followed (None: followed or unwanted).
    stream_problem: str | None = None
    # Wall time its log stream was first wanted: a stream that starts soon
    # after (the engine's client was still being made) reads from then on.
    stream_wanted_at: float | None = None
    # Monotonic time of the next look at a hidden configuration's files and
    # StatsD socket; None when the configuration said where they are.
    rescan_at: float | None = None
    # What went wrong while planning (shown with the plan's own notes).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Prepared:
    """A plan and what it needs opened, made outside the hub's lock."""

    plan: SourcePlan
    followers: dict[LogFileRef, FileFollower]
    statsd_peers: list[UdpPeer] | None
    notes: tuple[str, ...] = ()


def _plan_key(sample: InstanceSample) -> tuple[object, ...]:
    config = sample.config
    # The master's pid too: a restarted container keeps its instance key,
    # and its files are reached through the new master's root.
    names = ("accesslog", "errorlog", "access_log_format", "statsd_host", "statsd_prefix")
    return (sample.master.pid, *(config.value(name) for name in names))


class TrafficHub:
    """Owns every follower; thread-safe for one caller of :meth:`update`."""

    def __init__(
        self,
        docker_client: Callable[[str], Any] = lambda host: None,
        statsd_address: tuple[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        remote_host: Callable[[str], bool] = lambda host: False,
        stream_limit: Callable[[str], int | None] = lambda host: None,
    ) -> None:
        # The Docker API client of engine HOST (None while unreachable).
        self._docker_client = docker_client
        self._remote_host = remote_host
        # How many log streams engine HOST may have open at once (an SSH
        # host's sshd caps the channels of one connection); None: no cap.
        self._stream_limit = stream_limit
        self._clock = clock
        self._lock = threading.Lock()
        self._attached: dict[str, _Attached] = {}
        # Log stream followers by (engine, container id), with the client
        # each was made on.
        self._containers: dict[tuple[str, str], tuple[DockerLogFollower, Any]] = {}
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
        """Where the StatsD listener receives; None when it does not run."""
        return self._statsd.address if self._statsd is not None else None

    # -- the monitor's side ------------------------------------------------------

    def update(self, samples: Sequence[InstanceSample]) -> dict[str, TrafficView]:
        """Attach sources for new instances, drop gone ones, return views.

        Plans are made and files opened outside the lock (they read the
        masters' ``/proc`` entries and their containers' files), so a slow
        file system never holds up the followers or the StatsD listener. A
        source that fails shows as a note on its instance, never as a
        failed frame.
        """
        now = self._clock()
        seen = {sample.key for sample in samples}
        with self._lock:
            for key in [key for key in self._attached if key not in seen]:
                self._detach(key)
            current = dict(self._attached)
        # Only this thread adds or replaces attachments and their followers.
        prepared: dict[str, _Prepared] = {}
        for sample in samples:
            attached = current.get(sample.key)
            if attached is None or self._plan_due(attached, sample):
                prepared[sample.key] = self._prepare(sample, attached)
        with self._lock:
            for sample in samples:
                item = prepared.get(sample.key)
                if item is not None:
                    self._install(sample, item)
                attached = self._attached[sample.key]
                mapping = {
                    worker.ns_pid: worker.pid
                    for worker in sample.workers
                    if worker.ns_pid is not None and worker.pid is not None
                }
                attached.traffic.set_pid_mapping(mapping)
                ns_pids = {sample.master.ns_pid, *mapping}
                attached.pids = frozenset(pid for pid in ns_pids if pid is not None)
                if attached.stream_problem is not None and attached.container_id:
                    # Its engine was unreachable, or its cap reached: try again.
                    self._want_stream(attached)
                attached.traffic.notes = self._notes(attached)
                attached.traffic.sources = self._sources(attached)
            self._renew_streams()
            attached_now = dict(self._attached)
        return {key: item.traffic.view(now) for key, item in attached_now.items()}

    @staticmethod
    def _plan_due(attached: _Attached, sample: InstanceSample) -> bool:
        return attached.plan_key != _plan_key(sample) or (
            attached.rescan_at is not None and time.monotonic() >= attached.rescan_at
        )

    def _sources(self, attached: _Attached) -> list[str]:
        # A file at a path that is not a regular file is watched, not read.
        sources = [f"file {ref.display}" for ref, f in attached.files.items() if f.problem is None]
        if attached.following_container:
            sources.append("container log stream")
        if self._listens_for(attached):
            sources.append("statsd")
        return sources

    @staticmethod
    def _notes(attached: _Attached) -> list[str]:
        problems = [f.problem for f in attached.files.values() if f.problem is not None]
        if attached.stream_problem is not None:
            problems.append(attached.stream_problem)
        return [*attached.plan.notes, *attached.notes, *problems]

    def instance_traffic(self, key: str) -> InstanceTraffic | None:
        """The live traffic of one instance key (read it with care: it is
        fed from other threads), for probes between monitor samples."""
        with self._lock:
            attached = self._attached.get(key)
        return attached.traffic if attached is not None else None

    def close(self) -> None:
        """Stop every follower and the StatsD listener."""
        self._stop.set()
        with self._lock:
            for key in list(self._attached):
                self._detach(key)
        if self._statsd is not None:
            self._statsd.stop()
        self._file_thread.join(timeout=2.0)

    # -- attaching ---------------------------------------------------------------

    def _prepare(self, sample: InstanceSample, attached: _Attached | None) -> _Prepared:
        """The plan for ``sample`` and the followers of files newly wanted
        (opened here, outside the lock)."""
        if self._remote_host(sample.host):
            # Its pids and files are another machine's.
            sample = replace(sample, mode=SamplingMode.API)
        try:
            plan = plan_sources(sample)
        except Exception as error:  # one instance's sources must not fail the frame
            return _Prepared(SourcePlan(False, (), (), None), {}, None, (f"log sources: {error}",))
        if attached is not None and attached.plan_key == _plan_key(sample):
            # A rescan, not a new configuration: files are followed by the
            # name their descriptor had, and rotation moves names (after a
            # rename the master's descriptor names the old file until it
            # reopens its logs). The followers handle rotation by name;
            # following the new name too would read lines twice or, once
            # the master reopened, start late. So a rescan only adds the
            # files found open in the master when none were before.
            old = attached.plan
            added = () if old.from_open_files else plan.open_files
            plan = replace(
                plan,
                files=tuple(dict.fromkeys(old.files + added)),
                from_open_files=old.from_open_files or bool(added),
                open_files=old.open_files + added,
            )
        kept = attached.files if attached is not None else {}
        followers: dict[LogFileRef, FileFollower] = {}
        notes: list[str] = []
        for ref in plan.files:
            if ref in kept:
                continue
            try:
                # Without an error the follower waits for the file to appear.
                followers[ref] = FileFollower(ref)
            except Exception as error:
                notes.append(f"{ref.display}: {error}")
        peers: list[UdpPeer] | None = None
        if sample.master.pid is not None and sample.mode is not SamplingMode.API:
            try:
                peers = statsd_peers(sample.master.pid)
            except Exception as error:
                notes.append(f"StatsD socket: {error}")
        return _Prepared(plan, followers, peers, tuple(notes))

    def _install(self, sample: InstanceSample, prepared: _Prepared) -> None:
        """Follow what ``prepared`` says for ``sample`` (again), keeping the
        followers of files that stay, so no line is skipped or read twice."""
        attached = self._attached.get(sample.key)
        if attached is None:
            access_format = sample.config.value("access_log_format")
            attached = _Attached(
                traffic=InstanceTraffic(access_format if isinstance(access_format, str) else None),
                plan=SourcePlan(False, (), (), None),
                plan_key=(),
                container_id=sample.container.id if sample.container else None,
                host=sample.host,
            )
            self._attached[sample.key] = attached
        try:
            self._apply(attached, sample, prepared)
        except Exception as error:  # one instance's sources must not fail the frame
            attached.plan_key = _plan_key(sample)
            attached.notes = (*prepared.notes, f"log sources: {error}")

    def _apply(self, attached: _Attached, sample: InstanceSample, prepared: _Prepared) -> None:
        plan = prepared.plan
        config = sample.config
        hidden = config.get("accesslog").source is ConfigSource.UNKNOWN
        for ref in [ref for ref in attached.files if ref not in plan.files]:
            attached.files.pop(ref).close()
        for ref, follower in prepared.followers.items():
            previous = attached.files.pop(ref, None)
            if previous is not None:
                previous.close()
            attached.files[ref] = follower
        if plan.container_logs and attached.container_id:
            self._want_stream(attached)
        else:
            attached.stream_problem = None
            attached.stream_wanted_at = None
            if attached.following_container:
                attached.following_container = False
                self._stop_unused_stream(attached.host, attached.container_id)
        statsd_host = config.value("statsd_host")
        statsd_prefix = config.value("statsd_prefix")
        attached.statsd_host = statsd_host if isinstance(statsd_host, str) else None
        attached.statsd_prefix = statsd_prefix if isinstance(statsd_prefix, str) else None
        statsd_hidden = config.get("statsd_host").source is ConfigSource.UNKNOWN
        attached.statsd_sender_port = None
        peers = prepared.statsd_peers or []
        ours = [peer for peer in peers if self._peer_is_ours(peer)]
        if ours:
            attached.statsd_sender_port = ours[0].local_port
        if statsd_hidden and (ours or peers):
            # The master may hold other UDP sockets: ours first.
            peer = (ours or peers)[0]
            attached.statsd_host = f"{peer.host}:{peer.port}"
        attached.plan = plan
        attached.plan_key = _plan_key(sample)
        attached.notes = prepared.notes
        incomplete = not plan.from_open_files or attached.statsd_host is None
        # A master that sends StatsD here opens its socket at start: until
        # it is seen, packets cannot be told apart from another server's.
        sender_unseen = (
            sample.mode is not SamplingMode.API
            and attached.statsd_sender_port is None
            and self._listens_for(attached)
        )
        attached.rescan_at = (
            time.monotonic() + RESCAN_HIDDEN_S if (hidden and incomplete) or sender_unseen else None
        )
        attached.traffic.access_log_expected = plan.access_log_readable

    def _detach(self, key: str) -> None:
        attached = self._attached.pop(key, None)
        if attached is None:
            return
        for follower in attached.files.values():
            follower.close()
        self._stop_unused_stream(attached.host, attached.container_id)

    def _stop_unused_stream(self, host: str, container_id: str | None) -> None:
        if container_id and not any(
            other.container_id == container_id and other.host == host and other.following_container
            for other in self._attached.values()
        ):
            stream = self._containers.pop((host, container_id), None)
            if stream is not None:
                stream[0].stop(timeout_s=0.5)

    def _want_stream(self, attached: _Attached) -> None:
        assert attached.container_id is not None
        now = time.time()
        wanted_at = attached.stream_wanted_at
        if wanted_at is None:
            wanted_at = attached.stream_wanted_at = now
        # Lines from the first want on, unless that is long ago (an engine
        # that was unreachable for minutes: its backlog is not live traffic).
        since = wanted_at if now - wanted_at <= _CATCH_UP_S else None
        attached.stream_problem = self._follow_container(
            attached.host, attached.container_id, since
        )
        attached.following_container = attached.stream_problem is None

    def _follow_container(self, host: str, container_id: str, since: float | None) -> str | None:
        """Follow the log stream of ``container_id`` on engine ``host``: None
        when it is followed, else why not (yet)."""
        if (host, container_id) in self._containers:
            return None
        client = self._docker_client(host)
        if client is None:
            return f"log stream: engine {host} not connected yet (followed once it is)"
        limit = self._stream_limit(host)
        if limit == 0:
            return f"log stream of {host} not followed: GTUI_SSH_LOG_STREAMS=0"
        if limit is not None and sum(1 for key in self._containers if key[0] == host) >= limit:
            return (
                f"log stream not followed: {limit} of {host}'s are, the cap per SSH host "
                "(each is a channel of its one SSH connection, and sshd's MaxSessions, 10 by "
                "default, caps them; GTUI_SSH_LOG_STREAMS changes the cap)"
            )
        self._start_stream(host, container_id, client, since=since)
        return None

    def _start_stream(self, host: str, container_id: str, client: Any, since: float | None) -> None:
        def on_lines(lines: list[LogLine], received_at: float) -> None:
            self._route(host, container_id, [line.text for line in lines], received_at)

        follower = DockerLogFollower(client, container_id, on_lines, since=since)
        follower.start()
        self._containers[(host, container_id)] = (follower, client)

    def _renew_streams(self) -> None:
        """Follow again, on the engine's new client, the streams whose engine
        reconnected (the old client is closed: its follower would only fail),
        from where the old follower stopped, so no line is lost."""
        for (host, container_id), (follower, client) in list(self._containers.items()):
            current = self._docker_client(host)
            if current is None or current is client:
                continue  # unreachable now: the old follower keeps trying
            since = follower.resume_at
            # No waiting: the follower's callback takes the lock held here.
            follower.stop(timeout_s=0.0)
            self._start_stream(host, container_id, current, since=since)

    # -- delivering ----------------------------------------------------------------

    def _route(self, host: str, container_id: str, lines: list[str], received_at: float) -> None:
        with self._lock:
            targets = [
                item
                for item in self._attached.values()
                if item.container_id == container_id
                and item.host == host
                and item.following_container
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
                except Exception as error:  # a follower must not stop the others
                    follower.problem = f"{follower.path}: {error}"
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
