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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.access.resolve import local_master_access
from gunicorn_tui.discovery.docker_engine import (
    ContainerInfo,
    ContainerWatcher,
    DaemonState,
    DaemonStatus,
    daemon_host,
)
from gunicorn_tui.discovery.host_processes import (
    CRI_RUNTIMES,
    container_scope_of,
    gunicorn_records,
)
from gunicorn_tui.discovery.process_tree import GunicornTree, find_trees
from gunicorn_tui.interpreter.runtime_facts import ProbeFailed, RuntimeFacts
from gunicorn_tui.model.instances import ContainerRef, InstanceSample, Source
from gunicorn_tui.monitor.targets import Target, TargetKind, TargetNotFound
from gunicorn_tui.sampling.api_instance import ApiInstanceSampler
from gunicorn_tui.sampling.cgroup import find_cgroup_paths, read_cgroup_tree_pids
from gunicorn_tui.sampling.local_instance import (
    InstanceIdentity,
    LaunchRecord,
    LocalInstanceSampler,
    SampleTables,
)
from gunicorn_tui.sampling.process_figures import ProcessFigures
from gunicorn_tui.sampling.procfs import (
    NO_PROCFS_NOTICE,
    PROC,
    ProcessGone,
    procfs_available,
    read_environ,
    read_ppid,
)
from gunicorn_tui.settings.master_inputs import read_master_environment

# At module level: recordings resolve MonitorFrame's field types by name.
from gunicorn_tui.traffic.instance_traffic import TrafficView

if TYPE_CHECKING:
    from gunicorn_tui.traffic.hub import TrafficHub

DEFAULT_RESCAN_INTERVAL_S = 5.0
_log = logging.getLogger("gtui.monitor")
DEFAULT_STATSD_ADDRESS = ("127.0.0.1", 8125)


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


class Monitor:
    """Discovers Gunicorn masters and samples them on request."""

    def __init__(
        self,
        options: MonitorOptions | None = None,
        watcher: ContainerWatcher | None = None,
    ) -> None:
        self.options = options or MonitorOptions()
        self._figures = ProcessFigures()
        self._watcher = watcher
        self._own_watcher = watcher is None
        self._samplers: dict[str, LocalInstanceSampler | ApiInstanceSampler] = {}
        self._last_discovery = -1e9
        self._watcher_generation = -1
        self._notices: list[str] = []
        self._lock = threading.Lock()
        self._probe_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gtui-probe")
        self._facts: dict[str, RuntimeFacts | None] = {}
        self._probes: dict[str, Future[RuntimeFacts]] = {}
        self._closed = False
        self._seen_containers: dict[str, ContainerRef] = {}
        self._discovered_fingerprint: frozenset[Hashable] | None = None
        self._scope_key: Hashable | None = None
        self._traffic: TrafficHub | None = None
        # Without /proc (macOS), only the Docker API can show servers.
        self._procfs = procfs_available()

    # -- lifecycle ----------------------------------------------------------

    def open(self, wait_for_docker_s: float = 3.0) -> None:
        """Connect to Docker (if enabled) and wait briefly for the first list."""
        if not self._procfs and NO_PROCFS_NOTICE not in self._notices:
            self._notices.append(NO_PROCFS_NOTICE)
        if self.options.use_docker and self._watcher is None:
            self._watcher = ContainerWatcher(force_api=self.options.force_api or not self._procfs)
            self._watcher.start(wait_s=wait_for_docker_s)
        elif self._watcher is not None and self._own_watcher:
            self._watcher.start(wait_s=wait_for_docker_s)
        if self.options.collect_traffic and self._traffic is None:
            watcher = self._watcher
            # Loaded here: gtui ls never needs the followers and the listener.
            from gunicorn_tui.traffic.hub import TrafficHub

            self._traffic = TrafficHub(
                docker_client=lambda: watcher.client if watcher is not None else None,
                statsd_address=self.options.statsd_address,
            )
            if self._traffic.statsd_error:
                self._notices.append(self._traffic.statsd_error)

    def close(self) -> None:
        self._closed = True
        if self._watcher is not None and self._own_watcher:
            self._watcher.stop()
        for sampler in self._samplers.values():
            if isinstance(sampler, ApiInstanceSampler):
                sampler.close()
        self._probe_pool.shutdown(wait=False, cancel_futures=True)
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
                if not os.path.exists(f"{PROC}/{target.pid}"):
                    raise TargetNotFound(f"no process with pid {target.pid}")
                continue
            watcher = self._watcher
            if watcher is None or not watcher.status().connected:
                raise DockerUnreachable(f"{target.text}: {self.docker_status().message}")
            if target.kind is TargetKind.SERVICE:
                if not watcher.find_service(*target.service):
                    raise TargetNotFound(
                        f"no running container of Compose service {target.value} "
                        "(labels com.docker.compose.project and .service)"
                    )
                continue
            if watcher.find(target.value) is None:
                raise TargetNotFound(watcher.describe_missing(target.value))

    # -- sampling ------------------------------------------------------------

    def sample(self) -> MonitorFrame:
        """One frame: every watched instance, sampled now."""
        started = time.monotonic()
        with self._lock:
            self._maybe_discover()
            tables = SampleTables()
            samples: list[InstanceSample] = []
            for key, sampler in list(self._samplers.items()):
                try:
                    if isinstance(sampler, LocalInstanceSampler):
                        samples.append(sampler.sample(tables))
                    else:
                        samples.append(sampler.sample())
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
            notices, self._notices = tuple(self._notices), []
        samples.sort(key=lambda s: (s.source.value, s.label))
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
        )

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

    # -- discovery -----------------------------------------------------------

    def _maybe_discover(self) -> None:
        generation = self._watcher.generation if self._watcher is not None else 0
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
        if self._watcher is None:
            return {}
        return self._watcher.containers()

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
        by_name: dict[str, str] = {}
        for info in containers.values():
            by_name[info.ref.name] = info.ref.id
            by_name[info.ref.id] = info.ref.id
        prefixes: list[str] = []
        for target in self.options.targets:
            if target.kind is TargetKind.SERVICE:
                wanted.update(
                    info.ref.id
                    for info in containers.values()
                    if info.ref.compose is not None
                    and info.ref.compose.service_name == target.value
                )
        for target in targets:
            exact = by_name.get(target.value)
            if exact is not None:
                wanted.add(exact)
            if len(target.value) >= 3:
                prefixes.append(target.value)
        if prefixes:
            for info in containers.values():
                if info.ref.id.startswith(tuple(prefixes)):
                    wanted.add(info.ref.id)
        return wanted

    def _wanted_pids(self) -> set[int]:
        return {t.pid for t in self.options.targets if t.kind is TargetKind.PID}

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
        client = self._watcher.client if self._watcher is not None else None
        existing = {
            key: sampler
            for key, sampler in self._samplers.items()
            if isinstance(sampler, ApiInstanceSampler) and sampler.container.ref.id == info.ref.id
        }
        if client is None:
            return existing
        try:
            discovered = ApiInstanceSampler.discover(client, info, existing)
        except Exception as error:
            self._notices.append(f"{info.ref.name}: {error}")
            return existing
        return discovered

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
