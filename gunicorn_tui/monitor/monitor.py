"""The headless monitor: discovery plus sampling, one frame per call.

``Monitor.sample()`` is what the dashboard, ``gtui snapshot`` and
``gtui watch`` call. It never blocks on Docker: the container list comes from
the watcher thread (kept current by events), and figures come from /proc and
cgroup files. A full rediscovery (a scan of /proc for Gunicorn processes)
runs every ``rescan_interval_s`` or when the container set changed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from gunicorn_tui.access.docker_connect import daemon_host
from gunicorn_tui.access.endpoints import LOCAL_NAME, EngineEndpoint, Scheme
from gunicorn_tui.access.engine_connect import EngineConnector, default_lite_api, lite_api
from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.access.resolve import local_master_access
from gunicorn_tui.discovery.docker_engine import (
    ContainerInfo,
    ContainerWatcher,
    DaemonState,
    DaemonStatus,
)
from gunicorn_tui.host.cgroup import find_cgroup_paths, read_cgroup_tree_pids
from gunicorn_tui.host.host_processes import (
    CRI_RUNTIMES,
    container_scope_of,
    gunicorn_records,
)
from gunicorn_tui.host.process_tree import GunicornTree, find_trees
from gunicorn_tui.host.procfs import (
    NO_PROCFS_NOTICE,
    PROC,
    ProcessGone,
    procfs_available,
    read_environ,
    read_ppid,
)
from gunicorn_tui.interpreter.runtime_facts import ProbeFailed, RuntimeFacts
from gunicorn_tui.model.instances import ContainerRef, InstanceSample, Source
from gunicorn_tui.monitor.targets import (
    Target,
    TargetKind,
    TargetNotFound,
    engine_and_container,
    parse_target,
)
from gunicorn_tui.sampling.api_instance import ApiInstanceSampler
from gunicorn_tui.sampling.local_instance import (
    InstanceIdentity,
    LaunchRecord,
    LocalInstanceSampler,
    SampleTables,
)
from gunicorn_tui.sampling.process_figures import ProcessFigures
from gunicorn_tui.settings.master_inputs import read_master_environment

# At module level: recordings resolve MonitorFrame's field types by name.
from gunicorn_tui.traffic.instance_traffic import TrafficView

# The remote code (gtui agent over SSH) is imported only when an ``ssh://``
# engine is watched, never on the local path.
if TYPE_CHECKING:
    from gunicorn_tui.monitor.agent_link import AgentLink
    from gunicorn_tui.traffic.hub import TrafficHub

DEFAULT_RESCAN_INTERVAL_S = 5.0
# How long a frame waits for the Docker API calls of other engines.
REMOTE_WAIT_S = 1.5
_T = TypeVar("_T")
_log = logging.getLogger("gtui.monitor")
DEFAULT_STATSD_ADDRESS = ("127.0.0.1", 8125)
# Log streams followed at once per ssh:// host: each is a channel of its one
# SSH connection, and sshd's MaxSessions (10 by default) caps them together
# with the events stream, the agent and the API calls.
SSH_LOG_STREAMS_ENV = "GTUI_SSH_LOG_STREAMS"
DEFAULT_SSH_LOG_STREAMS = 5


def ssh_log_streams() -> tuple[int, str | None]:
    """The cap on log streams per ssh:// host (``GTUI_SSH_LOG_STREAMS``), and
    what is wrong with the variable when it is not a whole number >= 0."""
    text = os.environ.get(SSH_LOG_STREAMS_ENV, "").strip()
    if not text:
        return DEFAULT_SSH_LOG_STREAMS, None
    if not text.isdigit():
        return DEFAULT_SSH_LOG_STREAMS, (
            f"{SSH_LOG_STREAMS_ENV}={text[:20]!r} is not a whole number >= 0: "
            f"{DEFAULT_SSH_LOG_STREAMS} used"
        )
    return int(text), None


@dataclass(frozen=True)
class MonitorFrame:
    """Everything one sample saw."""

    taken_at: float
    instances: tuple[InstanceSample, ...]
    docker: DaemonStatus
    notices: tuple[str, ...] = ()
    sample_duration_s: float = 0.0
    # Traffic by instance key (access log, error log, StatsD); empty when
    # traffic is not collected.
    traffic: Mapping[str, TrafficView] = field(default_factory=dict)
    # Every engine watched, by name (empty: Docker not used); ``docker`` is
    # the first of them.
    engines: tuple[DaemonStatus, ...] = ()


@dataclass(frozen=True)
class MonitorOptions:
    """How the monitor discovers and samples."""

    targets: tuple[Target, ...] = ()
    use_docker: bool = True
    force_api: bool = False
    rescan_interval_s: float = DEFAULT_RESCAN_INTERVAL_S
    probe_versions: bool = True
    # Follow logs and StatsD for request rates, latency and worker events.
    collect_traffic: bool = True
    # Where the built-in StatsD listener binds; None: no listener.
    statsd_address: tuple[str, int] | None = DEFAULT_STATSD_ADDRESS
    # Servers gtui started itself: their command lines are known exactly.
    launched: tuple[LaunchRecord, ...] = field(default=())
    # The engines to watch (access/endpoints.py); empty: the one ``docker``
    # would use, as from_env finds it.
    engines: tuple[EngineEndpoint, ...] = ()
    # Run ``gtui agent`` on ``ssh://`` hosts for full figures (monitor/agent_link.py).
    agents: bool = True
    agent_interval_s: float = 1.0
    # On the local socket, how long after the log followers first ask for
    # docker-py's client it is made (the dashboard: after its first frame;
    # loading docker-py is about 60 ms of CPU, benchmarks/dashboard_cost.py).
    engine_client_delay_s: float = 0.0


class Monitor:
    """Discovers Gunicorn masters and samples them on request."""

    def __init__(
        self,
        options: MonitorOptions | None = None,
        watcher: ContainerWatcher | None = None,
    ) -> None:
        self.options = _engine_targets_resolved(options or MonitorOptions())
        self._figures = ProcessFigures()
        self._watcher = watcher
        self._own_watcher = watcher is None
        # Every engine's watcher by name, the first being ``_watcher``.
        self._watchers: dict[str, ContainerWatcher] = {}
        self._connectors: dict[str, EngineConnector] = {}
        self._duplicates: dict[str, str] = {}
        # The last sample of each instance of an engine now unreachable.
        self._last_samples: dict[str, InstanceSample] = {}
        self._agents: dict[str, AgentLink] = {}
        self._agent_last: dict[str, tuple[InstanceSample, ...]] = {}
        self._agent_said: dict[str, str] = {}
        self._down_said: set[str] = set()
        self._samplers: dict[str, LocalInstanceSampler | ApiInstanceSampler] = {}
        self._last_discovery = -1e9
        self._watcher_generation = -1
        self._notices: list[str] = []
        self._lock = threading.Lock()
        self._probe_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gtui-probe")
        # With several engines, Docker API calls run here, each frame waiting
        # for them a bounded time: a stalled host must not hold up the others.
        self._remote_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gtui-remote")
        self._remote_calls: dict[str, Future[Any]] = {}
        self._frame_deadline = 0.0
        self._facts: dict[str, RuntimeFacts | None] = {}
        self._probes: dict[str, Future[RuntimeFacts]] = {}
        self._closed = False
        self._seen_containers: dict[str, ContainerRef] = {}
        self._discovered_fingerprint: frozenset[Hashable] | None = None
        self._scope_key: Hashable | None = None
        self._traffic: TrafficHub | None = None
        # Without /proc (macOS), only the Docker API can show servers.
        self._procfs = procfs_available()

    @property
    def engine_names(self) -> tuple[str, ...]:
        """The engines' names (``HOST`` of a ``HOST/CONTAINER`` target)."""
        return tuple(self._watchers) or tuple(e.name for e in self.options.engines)

    # -- lifecycle ----------------------------------------------------------

    def open(self, wait_for_docker_s: float = 3.0) -> None:
        """Connect to Docker (if enabled) and wait briefly for the first list."""
        if not self._procfs and NO_PROCFS_NOTICE not in self._notices:
            self._notices.append(NO_PROCFS_NOTICE)
        if self.options.use_docker and self._watcher is None and self.options.engines:
            self._open_engines(wait_for_docker_s)
        elif self.options.use_docker and self._watcher is None:
            self._watcher = ContainerWatcher(
                force_api=self.options.force_api or not self._procfs,
                lite=default_lite_api(),
                client_delay_s=self.options.engine_client_delay_s,
            )
            self._watcher.start(wait_s=wait_for_docker_s)
        elif self._watcher is not None and self._own_watcher:
            self._watcher.start(wait_s=wait_for_docker_s)
        if self._watcher is not None and not self._watchers:
            self._watchers[self._watcher.name] = self._watcher
        if self.options.collect_traffic and self._traffic is None:
            # Loaded here: gtui ls never needs the followers and the listener.
            from gunicorn_tui.traffic.hub import TrafficHub

            elsewhere = {e.name for e in self.options.engines if not e.on_this_host}
            over_ssh = {e.name for e in self.options.engines if e.scheme is Scheme.SSH}
            cap, problem = ssh_log_streams()
            if problem is not None and over_ssh:
                self._notices.append(problem)
            self._traffic = TrafficHub(
                docker_client=self._engine_client,
                statsd_address=self.options.statsd_address,
                remote_host=lambda host: host in elsewhere,
                stream_limit=lambda host: cap if host in over_ssh else None,
            )
            if self._traffic.statsd_error:
                self._notices.append(self._traffic.statsd_error)

    def _engine_client(self, host: str) -> Any:
        """The Docker API client of engine ``host`` (None while unreachable):
        its instances' logs are followed through it."""
        watcher = self._watchers.get(host)
        if watcher is None and len(self._watchers) <= 1:
            watcher = self._watcher  # one engine: every container is its
        # Not waited for: on the local socket docker-py loads in the background
        # (the log stream is followed from the next sample on).
        return watcher.client_soon() if watcher is not None else None

    def _open_engines(self, wait_s: float) -> None:
        """A watcher per engine, all connecting side by side (a host that does
        not answer costs its own timeout, not the others')."""
        for endpoint in self.options.engines:
            connector = EngineConnector(endpoint)
            # A unix socket's containers may have this host's pids; an engine
            # reached over the network is sampled as a remote one.
            force_api = self.options.force_api or not self._procfs or not endpoint.on_this_host
            watcher = ContainerWatcher(
                force_api=force_api,
                connector=connector,
                name=endpoint.name,
                address=endpoint.url,
                lite=lite_api(endpoint.url, connector.timeout_s),
                client_delay_s=self.options.engine_client_delay_s,
            )
            self._connectors[endpoint.name] = connector
            self._watchers[endpoint.name] = watcher
        self._watcher = next(iter(self._watchers.values()))
        if self.options.agents:
            for endpoint in self.options.engines:
                session = self._connectors[endpoint.name].ssh_session
                if session is None:
                    continue
                from gunicorn_tui.monitor.agent_link import AgentLink

                self._agents[endpoint.name] = AgentLink(
                    endpoint.name,
                    session,
                    interval_s=self.options.agent_interval_s,
                    targets=self._targets_on(endpoint.name),
                )
        threads = [
            threading.Thread(target=w.start, kwargs={"wait_s": wait_s}, daemon=True)
            for w in self._watchers.values()
        ] + [
            threading.Thread(target=a.wait_ready, args=(wait_s,), daemon=True)
            for a in self._agents.values()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _targets_on(self, host: str) -> list[str]:
        """The container targets that may be on engine ``host``, as it names them."""
        names = [name for name in self._watchers if name]
        found = []
        for target in self.options.targets:
            if target.kind is TargetKind.PID and target.host == host:
                found.append(f"pid:{target.pid}")
            if target.kind is not TargetKind.CONTAINER:
                continue
            on, name = engine_and_container(target.value, names)
            if on is None or on == host:
                found.append(name)
        return found

    @property
    def agents(self) -> Mapping[str, AgentLink]:
        """The ``gtui agent`` links of ``ssh://`` hosts, by engine name."""
        return dict(self._agents)

    @property
    def watchers(self) -> Mapping[str, ContainerWatcher]:
        """Every engine's watcher, by engine name."""
        return dict(self._watchers)

    def connector_for(self, host: str) -> EngineConnector | None:
        """How engine ``host`` is reached (its SSH connection), when named by an endpoint."""
        return self._connectors.get(host)

    def engine_statuses(self) -> tuple[DaemonStatus, ...]:
        """Every engine as last seen; a second name of one engine says so."""
        statuses = []
        for name, watcher in self._watchers.items():
            status = watcher.status()
            twin = self._duplicates.get(name)
            if twin is not None:
                status = replace(status, message=f"the same engine as {twin}: shown once")
            statuses.append(status)
        return tuple(statuses)

    def close(self) -> None:
        self._closed = True
        if self._own_watcher:
            for watcher in self._watchers.values() or (
                [self._watcher] if self._watcher is not None else []
            ):
                watcher.stop()
        for agent in self._agents.values():
            agent.close()
        for connector in self._connectors.values():
            connector.close()
        for sampler in self._samplers.values():
            if isinstance(sampler, ApiInstanceSampler):
                sampler.close()
        self._probe_pool.shutdown(wait=False, cancel_futures=True)
        self._remote_pool.shutdown(wait=False, cancel_futures=True)
        if self._traffic is not None:
            self._traffic.close()

    def __enter__(self) -> Monitor:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def watcher(self) -> ContainerWatcher | None:
        return self._watcher

    def docker_status(self) -> DaemonStatus:
        if self._watcher is None:
            return DaemonStatus(DaemonState.DISABLED, "Docker not used", time.time(), daemon_host())
        return self._watcher.status()

    # -- targets -------------------------------------------------------------

    def check_targets(self) -> None:
        """Raise TargetNotFound (or DockerUnreachable) for a target naming nothing."""
        for target in self.options.targets:
            if target.kind is TargetKind.PID:
                if self._agent_pid_target(target):
                    self._check_agent_pid_target(target)
                    continue  # the agent there finds it (or select says it is not there)
                if target.host is not None and not self._pid_target_is_ours(target):
                    raise TargetNotFound(
                        f"{target.text}: the processes of {target.host} are seen only through "
                        f"a gtui agent there (an ssh:// engine with gtui installed)"
                    )
                if not os.path.exists(f"{PROC}/{target.pid}"):
                    raise TargetNotFound(f"no process with pid {target.pid}")
                continue
            if target.kind is TargetKind.SERVICE:
                watcher = self._watcher
                if watcher is None or not watcher.status().connected:
                    raise DockerUnreachable(f"{target.text}: {self.docker_status().message}")
                if not any(
                    w.find_service(*target.service)
                    for w in self._watchers.values() or [watcher]
                    if w.status().connected
                ):
                    raise TargetNotFound(
                        f"no running container of Compose service {target.value} "
                        "(labels com.docker.compose.project and .service)"
                    )
                continue
            host, name = engine_and_container(target.value, self._watchers)
            candidates = (
                [self._watchers[host]] if host is not None else list(self._watchers.values())
            ) or ([self._watcher] if self._watcher is not None else [])
            connected = [w for w in candidates if w.status().connected]
            if not connected:
                status = candidates[0].status() if candidates else self.docker_status()
                raise DockerUnreachable(f"{target.text}: {status.message}")
            if not any(w.find(name) is not None for w in connected):
                raise TargetNotFound(connected[0].describe_missing(name))

    # -- sampling ------------------------------------------------------------

    def sample(self) -> MonitorFrame:
        """One frame: every watched instance, sampled now."""
        started = time.monotonic()
        self._frame_deadline = started + REMOTE_WAIT_S
        with self._lock:
            self._maybe_discover()
            tables = SampleTables()
            samples: list[InstanceSample] = []
            down = self._unreachable_engines()
            streaming = self._agent_samples(samples, down)
            for key, sampler in list(self._samplers.items()):
                host = self._host_of(sampler)
                if host in streaming:
                    continue
                try:
                    if host in down and isinstance(sampler, ApiInstanceSampler):
                        # Its last figures, marked: the engine does not answer
                        # (a call would wait for a timeout every sample). What
                        # /proc shows needs no engine.
                        last = self._last_samples.get(key)
                        if last is not None:
                            samples.append(replace(last, stale=down[host]))
                        continue
                    if isinstance(sampler, LocalInstanceSampler):
                        sample = sampler.sample(tables)
                    elif len(self._watchers) > 1:
                        done, answer = self._bounded(key, sampler.sample)
                        if not done or answer is None:
                            last = self._last_samples.get(key)
                            if last is not None:
                                late = f"{host}: no answer in {REMOTE_WAIT_S:g} s"
                                samples.append(replace(last, stale=late))
                            continue
                        sample = answer
                    else:
                        sample = sampler.sample()
                    if sample.host != host:
                        sample = replace(sample, host=host)
                    samples.append(sample)
                    self._last_samples[key] = sample
                except ProcessGone:
                    self._notices.append(f"{sampler.identity.name or key}: master exited")
                    del self._samplers[key]
                except Exception as error:  # a bug must not stop the dashboard
                    _log.warning("%s: sampling failed", key, exc_info=True)
                    self._notices.append(f"{key}: sampling failed: {error}")
            watched: list[int] = []
            for sampler in self._samplers.values():
                if isinstance(sampler, LocalInstanceSampler):
                    watched.extend(sampler.watched_pids)
            self._figures.forget_except(watched)
            for gone in self._last_samples.keys() - self._samplers.keys():
                del self._last_samples[gone]
            notices, self._notices = tuple(self._notices), []
        samples.sort(key=lambda s: (s.host != self._first_host(), s.host, s.source.value, s.label))
        # Each instance's logs come through its own engine (TrafficHub).
        traffic = self._traffic.update(samples) if self._traffic is not None else {}
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("frame: %d instances, %d workers, %.3f s%s", len(samples),
                       sum(len(s.workers) for s in samples), time.monotonic() - started,
                       f", notices: {list(notices)}" if notices else "")  # fmt: skip
        return MonitorFrame(
            taken_at=time.time(),
            instances=tuple(samples),
            docker=self.docker_status(),
            notices=notices,
            sample_duration_s=time.monotonic() - started,
            traffic=traffic,
            engines=self.engine_statuses(),
        )

    def _agent_samples(self, samples: list[InstanceSample], down: Mapping[str, str]) -> set[str]:
        """Add the instances of hosts whose agent streams (or, for a host now
        unreachable, their last ones, marked); the names of those hosts."""
        covered: set[str] = set()
        if not self._agents:
            return covered
        from gunicorn_tui.monitor.agent_link import HINT as AGENT_HINT
        from gunicorn_tui.monitor.agent_link import AgentState

        for host, agent in self._agents.items():
            got = agent.instances()
            if got is not None:
                instances, notices = got
                instances = self._with_engine_refs(host, instances)
                samples.extend(instances)
                self._notices.extend(notices)
                self._agent_last[host] = instances
                covered.add(host)
                said = "streaming"
            elif host in down and host in self._agent_last:
                samples.extend(replace(s, stale=down[host]) for s in self._agent_last[host])
                covered.add(host)
                said = self._agent_said.get(host, "")
            else:
                self._agent_last.pop(host, None)
                said = f"{host}: sampled through the Docker API only ({agent.reason}); " + (
                    AGENT_HINT.format(host=host)
                )
                if agent.state is AgentState.STARTING:
                    said = self._agent_said.get(host, "")
            if said != self._agent_said.get(host):
                self._agent_said[host] = said
                # The API samplers of this host start or stop.
                self.request_rescan()
                if said and said != "streaming":
                    self._notices.append(said)
        return covered

    def _with_engine_refs(
        self, host: str, instances: tuple[InstanceSample, ...]
    ) -> tuple[InstanceSample, ...]:
        """The agent's instances with their containers as this host's engine
        describes them (networking with published ports, Compose labels):
        the agent's records carry only what the snapshot schema shows."""
        watcher = self._watchers.get(host)
        if watcher is None:
            return instances
        refs = {container_id: info.ref for container_id, info in watcher.containers().items()}
        return tuple(
            replace(s, container=refs.get(s.container.id, s.container))
            if s.container is not None
            else s
            for s in instances
        )

    def _agent_streams(self, host: str) -> bool:
        agent = self._agents.get(host)
        if agent is None:
            return False
        from gunicorn_tui.monitor.agent_link import AgentState

        return agent.state is AgentState.STREAMING

    def _first_host(self) -> str:
        return self._watcher.name if self._watcher is not None else LOCAL_NAME

    def _host_of(self, sampler: LocalInstanceSampler | ApiInstanceSampler) -> str:
        container = sampler.identity.container
        return container.host if container is not None else LOCAL_NAME

    def _unreachable_engines(self) -> dict[str, str]:
        """Reasons by engine name, for the engines that do not answer now
        (said once in the notices when one drops out, and when it is back)."""
        down: dict[str, str] = {}
        for name, watcher in self._watchers.items():
            status = watcher.status()
            if not status.connected:
                since = time.strftime("%H:%M:%S", time.localtime(status.since))
                down[name] = f"{name} unreachable since {since}: {status.message}"
        if len(self._watchers) > 1:
            for name in down.keys() - self._down_said:
                self._notices.append(down[name])
            for name in self._down_said - down.keys():
                self._notices.append(f"{name}: connected again")
            self._down_said = set(down)
        return down

    @property
    def traffic_hub(self) -> TrafficHub | None:
        """The followers and listener behind ``MonitorFrame.traffic`` (None
        when traffic is not collected), for probes between samples."""
        return self._traffic

    @property
    def statsd_address(self) -> tuple[str, int] | None:
        """Where the built-in StatsD listener receives, if it runs."""
        return self._traffic.statsd_address if self._traffic is not None else None

    def wait_for_probes(self, timeout_s: float) -> None:
        """Wait (bounded) for runtime probes started by earlier samples."""
        deadline = time.monotonic() + timeout_s
        for future in list(self._probes.values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                future.result(timeout=remaining)
            except Exception:
                continue

    def add_launch(self, launch: LaunchRecord) -> None:
        """Remember a server gtui (re)started, so its command line is known."""
        kept = tuple(r for r in self.options.launched if r.pid != launch.pid)
        self.options = replace(self.options, launched=(*kept, launch))
        self.request_rescan()

    def request_rescan(self) -> None:
        """Rediscover at the next sample (after a retune, for instance)."""
        self._last_discovery = -1e9

    @property
    def playback(self) -> None:
        """No time cursor: the monitor samples live (a replay has one)."""
        return None

    # -- discovery -----------------------------------------------------------

    def _maybe_discover(self) -> None:
        generation = sum(w.generation for w in self._watchers.values()) if self._watchers else (
            self._watcher.generation if self._watcher is not None else 0)  # fmt: skip
        now = time.monotonic()
        due = now - self._last_discovery >= self.options.rescan_interval_s
        if generation == self._watcher_generation and not due:
            return
        self._watcher_generation = generation
        if not due and self._fingerprint(self._containers()) == self._discovered_fingerprint:
            # Events about containers this monitor does not watch (other
            # people's, on a shared engine) would otherwise rescan every time.
            return
        self._last_discovery = now
        self._discover()

    def _fingerprint(self, containers: dict[str, ContainerInfo]) -> frozenset[Hashable]:
        """What of the container list discovery depends on (the watched containers)."""
        wanted = self._wanted_container_ids(containers)
        return frozenset(
            (info.ref, info.main_pid, info.started_at, info.access)
            for container_id, info in containers.items()
            if wanted is None or container_id in wanted
        )

    def _containers(self) -> dict[str, ContainerInfo]:
        if len(self._watchers) <= 1:
            return self._watcher.containers() if self._watcher is not None else {}
        merged: dict[str, ContainerInfo] = {}
        by_engine: dict[str, str] = {}
        for name, watcher in self._watchers.items():
            engine_id = watcher.status().engine_id
            twin = by_engine.get(engine_id) if engine_id else None
            if twin is not None:
                # One engine reached by two names: shown once, by the first.
                if self._duplicates.get(name) != twin:
                    self._duplicates[name] = twin
                    self._notices.append(f"{name} is the same engine as {twin}: shown once")
                continue
            self._duplicates.pop(name, None)
            if engine_id:
                by_engine[engine_id] = name
            merged.update(watcher.containers())
        return merged

    def _wanted_container_ids(self, containers: dict[str, ContainerInfo]) -> set[str] | None:
        """Ids of targeted containers, or None when all are wanted."""
        targets = [t for t in self.options.targets if t.kind is TargetKind.CONTAINER]
        if not self.options.targets:
            return None
        wanted: set[str] = set()
        # By name and full id first: one dict lookup per target, not a scan
        # of every container (100 targets on a shared engine of 120
        # containers took 16 ms a sample, and events of other people's
        # containers make this run often).
        by_name: dict[str, list[ContainerInfo]] = {}
        for info in containers.values():
            by_name.setdefault(info.ref.name, []).append(info)
            by_name.setdefault(info.ref.id, []).append(info)
        prefixes: list[tuple[str | None, str]] = []
        for target in self.options.targets:
            if target.kind is TargetKind.SERVICE:
                wanted.update(
                    info.ref.id
                    for info in containers.values()
                    if info.ref.compose is not None
                    and info.ref.compose.service_name == target.value
                )
        for target in targets:
            host, name = engine_and_container(target.value, self._watchers)
            for exact in by_name.get(name, ()):
                if host is None or exact.host == host:
                    wanted.add(exact.ref.id)
            if len(name) >= 3:
                prefixes.append((host, name))
        if prefixes:
            for info in containers.values():
                if any(
                    info.ref.id.startswith(name) and (host is None or info.host == host)
                    for host, name in prefixes
                ):
                    wanted.add(info.ref.id)
        return wanted

    def _wanted_pids(self) -> set[int]:
        return {
            t.pid
            for t in self.options.targets
            if t.kind is TargetKind.PID and not self._agent_pid_target(t)
        }

    def _agent_pid_target(self, target: Target) -> bool:
        """``HOST/pid:N`` of a host whose pids only its gtui agent sees."""
        return target.host is not None and target.host in self._agents

    def _check_agent_pid_target(self, target: Target) -> None:
        host = target.host or ""
        if self._agent_streams(host):
            return
        raise TargetNotFound(
            f"{target.text}: the masters outside containers on {host} are seen and acted on "
            f"only by a gtui there, and there is none ({self._agents[host].reason}); "
            f"install gtui on {host} (same version), or run gtui on {host}"
        )

    def _pid_target_is_ours(self, target: Target) -> bool:
        connector = self._connectors.get(target.host or "")
        return connector is None or connector.endpoint.on_this_host

    def _discover(self) -> None:
        containers = self._containers()
        self._discovered_fingerprint = self._fingerprint(containers)
        for running in containers.values():
            self._seen_containers[running.ref.id] = running.ref
        wanted_containers = self._wanted_container_ids(containers)
        wanted_pids = self._wanted_pids()
        only_containers = bool(self.options.targets) and not wanted_pids

        found: dict[str, LocalInstanceSampler | ApiInstanceSampler] = {}
        scope = self._targeted_container_pids(containers, wanted_containers, wanted_pids)
        if scope is not None:
            # The periodic rescan of named containers finds nothing new when
            # no process came or went in them (their cgroups list the same
            # pids) and the container list is the same: the command lines of
            # every process are not read again (1.6 ms a sample at 20 x 8).
            scope_key = (
                self._discovered_fingerprint,
                frozenset(scope),
                tuple(r.pid for r in self.options.launched),
            )
            if scope_key == self._scope_key and self._samplers:
                return
            self._scope_key = scope_key
        else:
            self._scope_key = None
        trees = find_trees(gunicorn_records(scope)) if self._procfs else []
        for tree in trees:
            container_scope = container_scope_of(tree.master_pid)
            container_id = container_scope[1] if container_scope is not None else None
            info: ContainerInfo | None = containers.get(container_id) if container_id else None
            if container_id and info is not None and info.access is AccessKind.API_CONTAINER:
                continue  # sampled through the API below
            if wanted_containers is not None or wanted_pids:
                in_wanted_container = bool(
                    container_id and wanted_containers and container_id in wanted_containers
                )
                if not in_wanted_container and not self._tree_matches_pids(tree, wanted_pids):
                    continue
            elif only_containers and not container_id:
                continue
            key = self._key(tree, container_id)
            existing = self._samplers.get(key)
            if isinstance(existing, LocalInstanceSampler) and existing.identity.master_pid == (
                tree.master_pid
            ):
                # Once the old master of a USR2 pair is gone, the new one is
                # no longer a re-exec and drops the ".2" from its title.
                existing.identity = replace(
                    existing.identity,
                    name=tree.name or "",
                    titled=tree.titled,
                    argv=tree.argv,
                    parent_master_pid=tree.parent_master_pid,
                )
                found[key] = existing
                continue
            if info is None:
                runtime = container_scope[0] if container_scope is not None else None
                info = self._unknown_container(container_id, runtime)
            identity = InstanceIdentity(
                key=key,
                source=Source.DOCKER if container_id else Source.LOCAL,
                container=info,
                master_pid=tree.master_pid,
                name=tree.name or "",
                titled=tree.titled,
                argv=tree.argv,
                parent_master_pid=tree.parent_master_pid,
                launch=next((r for r in self.options.launched if r.pid == tree.master_pid), None),
            )
            found[key] = LocalInstanceSampler(
                identity, self._figures, runtime_facts=self._facts_getter(identity)
            )

        # Containers whose pids are not ours (remote daemon, Docker Desktop).
        for remote in containers.values():
            if remote.access is not AccessKind.API_CONTAINER:
                continue
            if self._agent_streams(remote.host):
                continue  # the host's gtui agent samples it
            if wanted_containers is not None and remote.ref.id not in wanted_containers:
                continue
            if wanted_containers is None and wanted_pids:
                continue
            found.update(self._api_samplers_for(remote))

        for key, old in self._samplers.items():
            if key in found:
                continue
            if isinstance(old, ApiInstanceSampler):
                old.close()
                if self._agent_streams(old.container.host):
                    continue  # handed over to the host's gtui agent, not gone
            # Say why an instance left the list, as a failed sample does.
            gone = isinstance(old, LocalInstanceSampler) and not os.path.exists(
                f"{PROC}/{old.identity.master_pid}"
            )
            self._notices.append(
                f"{old.identity.name or key}: " + ("master exited" if gone else "no longer found")
            )
        for key in found.keys() - self._samplers.keys():
            identity = found[key].identity
            _log.info("found %s: master pid %s, %s", key, identity.master_pid,
                      identity.container.ref.name if identity.container else "host")  # fmt: skip
        for key in self._samplers.keys() - found.keys():
            _log.info("lost %s", key)
        self._samplers = found

    def _api_samplers_for(self, info: ContainerInfo) -> dict[str, ApiInstanceSampler]:
        watcher = self._watchers.get(info.host) or self._watcher
        client = watcher.client if watcher is not None else None
        existing = {
            key: sampler
            for key, sampler in self._samplers.items()
            if isinstance(sampler, ApiInstanceSampler) and sampler.container.ref.id == info.ref.id
        }
        if client is None:
            return existing
        if any(sampler.state.client is not client for sampler in existing.values()):
            # The engine reconnected: the old connection is closed.
            for sampler in existing.values():
                sampler.close()
            existing = {}
        try:
            if len(self._watchers) > 1:
                done, found = self._bounded(
                    f"discover:{info.ref.id}",
                    lambda: ApiInstanceSampler.discover(client, info, existing),
                )
                return found if done and found is not None else existing
            discovered = ApiInstanceSampler.discover(client, info, existing)
        except Exception as error:
            self._notices.append(f"{info.ref.name}: {error}")
            return existing
        return discovered

    def _bounded(self, key: str, call: Callable[[], _T]) -> tuple[bool, _T | None]:
        """``call`` in the remote pool, waited for until this frame's deadline:
        (True, its result), or (False, None) while it has not answered (it
        goes on, and a later frame takes its answer). Its errors are raised."""
        future = self._remote_calls.get(key)
        if future is None:
            future = self._remote_pool.submit(call)
            self._remote_calls[key] = future
        try:
            result = future.result(timeout=max(0.0, self._frame_deadline - time.monotonic()))
        except FutureTimeout:
            return False, None
        finally:
            if future.done():
                self._remote_calls.pop(key, None)
        return True, result

    @staticmethod
    def _targeted_container_pids(
        containers: dict[str, ContainerInfo],
        wanted_containers: set[str] | None,
        wanted_pids: set[int],
    ) -> list[int] | None:
        """The pids of the targeted containers, or None to scan all of /proc.

        With only containers named, scanning their cgroups is enough: a full
        scan reads every command line on the host (~30 ms for 360 processes
        on a busy machine), which at one container was half the sampling cost.
        """
        if wanted_containers is None or wanted_pids:
            return None
        pids: list[int] = []
        for container_id in wanted_containers:
            info = containers.get(container_id)
            if info is None or info.access is AccessKind.API_CONTAINER:
                continue  # not running, or sampled through the API
            try:
                paths = find_cgroup_paths(info.main_pid)
                if paths is None:
                    return None
                pids.extend(read_cgroup_tree_pids(paths))
            except ProcessGone:
                continue  # stopped since the container list was read
            except (PermissionError, OSError):
                return None
        return pids

    @staticmethod
    def _tree_matches_pids(tree: GunicornTree, pids: set[int]) -> bool:
        if not pids:
            return False
        return tree.master_pid in pids or any(pid in pids for pid in tree.workers)

    def _unknown_container(
        self, container_id: str | None, runtime: str | None = None
    ) -> ContainerInfo | None:
        if not container_id:
            return None
        ref = self._seen_containers.get(container_id)
        if ref is None and runtime in CRI_RUNTIMES:
            # A Kubernetes node's container: named by its runtime, never acted on
            # (the kubelet would undo or duplicate any change).
            ref = ContainerRef(
                id=container_id,
                name=f"{runtime}:{container_id[:12]}",
                image="?",
                watch_only=(
                    f"run by Kubernetes ({runtime} scope): gtui only watches it; change "
                    "the pod's spec instead"
                ),
            )
        if ref is None:
            ref = ContainerRef(id=container_id, name=container_id[:12], image="?")
        return ContainerInfo(
            ref=ref,
            main_pid=0,
            command=(),
            environment={},
            labels={},
            started_at="",
            access=AccessKind.LOCAL_CONTAINER,
        )

    def _key(self, tree: GunicornTree, container_id: str | None) -> str:
        if container_id:
            try:
                ns_pid = self._figures.ns_pid(tree.master_pid)
            except ProcessGone:
                ns_pid = None
            return f"docker:{container_id[:12]}:{ns_pid or tree.master_pid}"
        return f"local:{tree.master_pid}"

    # -- runtime probes ------------------------------------------------------

    def _facts_getter(self, identity: InstanceIdentity) -> Callable[[], RuntimeFacts | None]:
        probe_key = self._probe_key(identity)

        def get() -> RuntimeFacts | None:
            if probe_key in self._facts:
                return self._facts[probe_key]
            if not self.options.probe_versions or self._closed:
                return None
            future = self._probes.get(probe_key)
            if future is None:
                self._probes[probe_key] = self._probe_pool.submit(self._run_probe, identity)
                return None
            if future.done():
                try:
                    self._facts[probe_key] = future.result()
                except (ProbeFailed, Exception):
                    self._facts[probe_key] = None
                return self._facts[probe_key]
            return None

        return get

    @staticmethod
    def _probe_key(identity: InstanceIdentity) -> str:
        try:
            exe = os.readlink(f"{PROC}/{identity.master_pid}/exe")
        except OSError:
            exe = "?"
        if identity.container is not None:
            return f"{identity.container.ref.id}:{exe}"
        return f"local:{identity.master_pid}:{exe}"

    def _run_probe(self, identity: InstanceIdentity) -> RuntimeFacts:
        # Local processes only (host or local daemon): their files are read
        # through the access layer, inside the container's root for a container.
        pid = identity.master_pid
        environment = None
        if identity.container is None:
            environment = read_master_environment(pid)
            if environment is None:
                try:
                    environment = read_environ(read_ppid(pid))
                except (ProcessGone, PermissionError, ValueError):
                    environment = None
        access = local_master_access(pid, identity.container.ref.id if identity.container else None)
        return access.runtime_facts((), argv=None, environment=environment, cwd=None)


class DockerUnreachable(Exception):
    """A container target was named but the Docker daemon cannot be reached."""


def ensure_any(frame: MonitorFrame, targets: Sequence[Target]) -> None:
    """Raise TargetNotFound when targets were named and nothing matched."""
    if targets and not frame.instances:
        names = ", ".join(t.text for t in targets)
        raise TargetNotFound(f"no Gunicorn server found in {names}")


def _engine_targets_resolved(options: MonitorOptions) -> MonitorOptions:
    """``HOST/CONTAINER`` targets whose HOST is an engine given: containers on
    it, not Compose services (a target parsed without the engines known)."""
    names = tuple(endpoint.name for endpoint in options.engines)
    if not names or not any(t.kind is TargetKind.SERVICE for t in options.targets):
        return options
    targets = tuple(
        parse_target(t.text, names) if t.kind is TargetKind.SERVICE else t for t in options.targets
    )
    return replace(options, targets=targets)
