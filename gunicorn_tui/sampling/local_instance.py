"""Sample one master and its workers through /proc (host or local daemon).

Per sample and per instance this reads: the master's children list, each
process's CPU and memory (``ProcessFigures``, state kept across samples),
each worker's descriptors (heartbeat file and sockets) unless the worker has
not run since the last sample, the container's cgroup totals, and, when the
server has one, now and then a request on the control socket. No Docker API
call is made on this path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import psutil

from gunicorn_tui.access.control_socket import (
    ControlReply,
    ControlSocketError,
    UnixSocketTransport,
)
from gunicorn_tui.access.errors import AccessError
from gunicorn_tui.access.proc_target import ProcTarget
from gunicorn_tui.access.resolve import local_master_access
from gunicorn_tui.discovery.docker_engine import ContainerInfo
from gunicorn_tui.host.cgroup import (
    CgroupLimits,
    CgroupPaths,
    CgroupReading,
    find_cgroup_paths,
    read_cgroup,
    read_cgroup_limits,
)
from gunicorn_tui.host.process_tree import Role, is_gunicorn, parse_title, role_under_master
from gunicorn_tui.host.procfs import (
    Heartbeat,
    OpenFiles,
    ProcessGone,
    read_argv,
    read_children,
    read_environ,
    read_heartbeat,
    read_net_namespace,
    read_open_files,
    read_ppid,
)
from gunicorn_tui.interpreter.runtime_facts import RuntimeFacts
from gunicorn_tui.model.instances import (
    ConfigSource,
    GunicornConfig,
    InstanceSample,
    ProcessSample,
    ResourceTotals,
    SamplingMode,
    Source,
    WorkerSample,
)
from gunicorn_tui.sampling.process_figures import PERMISSION_DENIED, ProcessFigures
from gunicorn_tui.sampling.tcp_table import ClientConnectionCounter, TcpSocket, read_tcp_sockets
from gunicorn_tui.sampling.worker_state import WorkerEvidence, derive_state
from gunicorn_tui.settings.master_inputs import (
    MasterInputs,
    gather_inputs,
    read_master_environment,
    wrapper_chain,
)
from gunicorn_tui.settings.resolve import resolve_config, short_worker_class

CONFIG_REFRESH_S = 15.0
CONTROL_RETRY_S = 10.0
# The control socket's figures (target worker count, reloads) change when
# workers come and go, which the sampler sees in the master's children: it
# asks at once then, and otherwise only this often.
CONTROL_POLL_S = 5.0
LIMITS_REFRESH_S = 10.0
MASTER_FILES_REFRESH_S = 5.0
# Far longer than gunicorn's reexec() takes from fork to exec.
FORK_TO_EXEC_S = 2.0


@dataclass(frozen=True)
class LaunchRecord:
    """How gtui itself started a server (the demo, or a restart it made):
    the exact command and environment, which setproctitle hides from /proc."""

    pid: int
    argv: tuple[str, ...]
    environment: Mapping[str, str]
    cwd: str


@dataclass(frozen=True)
class InstanceIdentity:
    """A master as discovery found it."""

    key: str
    source: Source
    container: ContainerInfo | None
    master_pid: int
    name: str
    titled: bool
    argv: tuple[str, ...]
    parent_master_pid: int | None
    launch: LaunchRecord | None = None


class SampleTables:
    """TCP tables read during one sample, at most one per network namespace."""

    def __init__(self) -> None:
        self._tables: dict[str, Mapping[int, TcpSocket]] = {}

    def loader(self, pid: int) -> Callable[[], Mapping[int, TcpSocket]]:
        def load() -> Mapping[int, TcpSocket]:
            try:
                namespace = read_net_namespace(pid)
            except (ProcessGone, PermissionError):
                namespace = f"pid:{pid}"
            table = self._tables.get(namespace)
            if table is None:
                table = read_tcp_sockets(pid)
                self._tables[namespace] = table
            return table

        return load


@dataclass
class _ControlState:
    transport: UnixSocketTransport | None = None
    path_in_namespace: str | None = None
    next_try_at: float = 0.0
    attempts: int = 0
    last_error: str | None = None
    workers_target: int | None = None
    reloads: int | None = None
    uptime_s: float | None = None
    heartbeats: dict[int, float] | None = None
    # "show workers" is asked only while some worker's heartbeat file cannot
    # be read: the file answers otherwise, and each command costs the master
    # a reply and us ~0.3 ms of CPU.
    heartbeats_wanted: bool = True
    polled_workers: frozenset[int] = frozenset()
    next_poll_at: float = 0.0
    # "show config" asked on the connection that found the socket: one
    # connection instead of three at the first sample (gtui ls, first frame).
    found_with_config: Mapping[str, object] | None = None


class LocalInstanceSampler:
    """Keeps the per-instance state needed to sample one master each tick."""

    def __init__(
        self,
        identity: InstanceIdentity,
        figures: ProcessFigures,
        runtime_facts: Callable[[], RuntimeFacts | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        files: ProcTarget | None = None,
    ) -> None:
        self.identity = identity
        # The master's files as it sees them, never followed out of its root
        # (its config file and /etc/passwd are the target's to plant links in).
        self._files = files or local_master_access(
            identity.master_pid, identity.container.ref.id if identity.container else None
        )
        self._figures = figures
        self._runtime_facts = runtime_facts
        self._clock = clock
        self._wall_clock = wall_clock
        self._counter = ClientConnectionCounter()
        self._listeners_known = False
        self._child_roles: dict[int, Role | None] = {}
        self._cgroup_paths: CgroupPaths | None = None
        self._cgroup_error: str | None = None
        self._previous_cgroup: tuple[float, CgroupReading] | None = None
        self._limits: CgroupLimits | None = None
        self._limits_at = -LIMITS_REFRESH_S
        self._control = _ControlState()
        self._workers_without_heartbeat_file = 0
        # Each worker's descriptors and heartbeat at its last read: kept while
        # it does not run (it alone changes them; see ProcessFigures).
        self._worker_files: dict[int, tuple[OpenFiles, Heartbeat | None]] = {}
        # When the master's descriptors were read, for which workers, and what.
        self._master_files_read: tuple[float, frozenset[int], OpenFiles | None] | None = None
        self._config: GunicornConfig | None = None
        self._inputs: MasterInputs | None = None
        self._config_at = -CONFIG_REFRESH_S
        self.watched_pids: tuple[int, ...] = (identity.master_pid,)
        if identity.container is not None:
            try:
                self._cgroup_paths = find_cgroup_paths(identity.master_pid)
            except (ProcessGone, PermissionError) as error:
                self._cgroup_error = str(error)
            if self._cgroup_paths is None and self._cgroup_error is None:
                self._cgroup_error = "cgroup files not found"

    # -- configuration ----------------------------------------------------------

    def _fallback_environment(self) -> Mapping[str, str]:
        if self.identity.container is not None:
            return self.identity.container.environment
        try:
            return read_environ(read_ppid(self.identity.master_pid))
        except (ProcessGone, PermissionError, ValueError):
            return {}

    def _wrapper_commands(self) -> list[tuple[str, ...]]:
        chain = wrapper_chain(self.identity.master_pid)
        if self.identity.container is not None:
            chain.append(self.identity.container.command)
        return chain

    def config(self, control_config: Mapping[str, object] | None = None) -> GunicornConfig:
        """The resolved configuration (re-read every CONFIG_REFRESH_S)."""
        now = self._clock()
        if (
            self._config is not None
            and control_config is None
            and (now - self._config_at < CONFIG_REFRESH_S)
        ):
            return self._config
        pid = self.identity.master_pid
        launch = self.identity.launch
        if self._inputs is None or now - self._config_at >= CONFIG_REFRESH_S:
            self._inputs = gather_inputs(
                argv=launch.argv if launch else self.identity.argv,
                titled=self.identity.titled and launch is None,
                wrapper_commands=self._wrapper_commands(),
                environment=launch.environment if launch else read_master_environment(pid),
                fallback_environment=self._fallback_environment(),
                read_file=self._files.config_reader(),
                name=self.identity.name if self.identity.titled else None,
                listen_ports=self._counter.listen_ports,
            )
        inputs = self._inputs.inputs
        if control_config is not None:
            inputs = replace(inputs, control_socket_config=control_config)
        resolved = resolve_config(inputs)
        if self._inputs.notes:
            resolved = GunicornConfig(
                settings=resolved.settings,
                config_file=resolved.config_file,
                warnings=resolved.warnings + self._inputs.notes,
            )
        self._config = resolved
        self._config_at = now
        return resolved

    # -- control socket ---------------------------------------------------------

    def _control_candidates(self, config: GunicornConfig) -> list[str]:
        if config.value("control_socket_disable") is True:
            return []
        candidates: list[str] = []
        configured = config.value("control_socket")
        if isinstance(configured, str) and configured:
            candidates.append(configured)
        inputs = self._inputs.inputs if self._inputs is not None else None
        environment = inputs.environment if inputs is not None else {}
        home = environment.get("HOME") or self._home_of_master()
        if home:
            candidates.append(f"{home.rstrip('/')}/.gunicorn/gunicorn.ctl")
        candidates.append("gunicorn.ctl")  # 25.1.0 used the working directory
        return list(dict.fromkeys(candidates))

    def _home_of_master(self) -> str | None:
        pid = self.identity.master_pid
        try:
            uid = psutil.Process(pid).uids().real
        except psutil.Error:
            return None
        try:
            passwd = self._files.read_text("/etc/passwd") or ""
        except AccessError:
            passwd = ""
        for line in passwd.splitlines():
            fields = line.split(":")
            if len(fields) >= 6 and fields[2] == str(uid):
                return fields[5]
        return "/root" if uid == 0 else None

    def _poll_control(
        self, master_ns_pid: int | None, config: GunicornConfig, worker_pids: frozenset[int]
    ) -> None:
        state = self._control
        now = self._clock()
        if state.transport is not None and not (
            state.heartbeats_wanted
            or worker_pids != state.polled_workers
            or now >= state.next_poll_at
        ):
            return
        state.polled_workers, state.next_poll_at = worker_pids, now + CONTROL_POLL_S
        if state.transport is None:
            if now < state.next_try_at:
                return
            # Gunicorn opens its control socket only after the first workers
            # are up: look again soon, then back off to CONTROL_RETRY_S.
            state.next_try_at = now + min(CONTROL_RETRY_S, 0.5 * 2**state.attempts)
            state.attempts += 1
            first_replies: list[ControlReply] = []
            for candidate in self._control_candidates(config):
                # Resolved inside the master's root at each connection: a
                # socket path that is a symlink never leads to the host's.
                transport = self._files.control_transport(candidate, timeout_s=0.5)
                if transport is None:
                    continue
                try:
                    replies = transport.request(["show stats", "show workers", "show config"])
                except ControlSocketError as error:
                    state.last_error = str(error)
                    continue
                # Several masters may share a default path: only trust the
                # socket that answers for this master.
                if replies[0].ok and self._answers_for_master(replies[0].data, master_ns_pid):
                    state.transport, state.path_in_namespace = transport, candidate
                    state.last_error = None
                    first_replies = replies
                    break
            if state.transport is None:
                return
            stats, workers_reply, config_reply = first_replies
            rest = [workers_reply]
            state.found_with_config = config_reply.data if config_reply.ok else None
        else:
            commands = ["show stats", "show workers"] if state.heartbeats_wanted else ["show stats"]
            try:
                stats, *rest = state.transport.request(commands)
            except ControlSocketError as error:
                self._drop_control(str(error), retry_at=now + 1.0)
                return
        # Masters sharing a path each re-create the socket around every fork,
        # so the path can pass to another master at any time: check each
        # answer, not only the first.
        if stats.ok and not self._answers_for_master(stats.data, master_ns_pid):
            self._drop_control(
                f"control socket now answers for another master (pid {stats.data.get('pid')})",
                retry_at=now + 1.0,
            )
            return
        if stats.ok:
            target = stats.data.get("workers_target")
            state.workers_target = target if isinstance(target, int) else None
            reloads = stats.data.get("reloads")
            if isinstance(reloads, int) and reloads != state.reloads:
                if state.reloads is not None:
                    self._config_at = -CONFIG_REFRESH_S  # reload: re-read config
                    self._listeners_known = False
                state.reloads = reloads
            uptime = stats.data.get("uptime")
            state.uptime_s = float(uptime) if isinstance(uptime, int | float) else None
        state.heartbeats = None
        if rest and rest[0].ok:
            beats: dict[int, float] = {}
            for row in rest[0].data.get("workers", []):
                if isinstance(row, dict) and isinstance(row.get("last_heartbeat"), int | float):
                    beats[int(row["pid"])] = float(row["last_heartbeat"])
            state.heartbeats = beats

    def _answers_for_master(self, stats: Mapping[str, object], master_ns_pid: int | None) -> bool:
        return stats.get("pid") in (master_ns_pid, self.identity.master_pid)

    def _drop_control(self, reason: str, retry_at: float) -> None:
        # Figures read from the socket describe the past (heartbeat ages) or
        # possibly another master: none of them may outlive the connection.
        self._control = _ControlState(next_try_at=retry_at, last_error=reason)

    def _control_config(self, master_ns_pid: int | None) -> Mapping[str, object] | None:
        transport = self._control.transport
        if transport is None:
            return None
        found_with, self._control.found_with_config = self._control.found_with_config, None
        if found_with is not None:
            return found_with
        try:
            stats, reply = transport.request(["show stats", "show config"])
        except ControlSocketError:
            return None
        if not (stats.ok and self._answers_for_master(stats.data, master_ns_pid)):
            return None
        return reply.data if reply.ok else None

    # -- processes -----------------------------------------------------------

    def _children(self) -> list[int]:
        pid = self.identity.master_pid
        try:
            return read_children(pid)
        except FileNotFoundError:
            try:
                return [child.pid for child in psutil.Process(pid).children()]
            except psutil.NoSuchProcess as error:
                raise ProcessGone(str(pid)) from error

    def _role_of_child(
        self, pid: int, master_argv: Callable[[], tuple[str, ...]], master_ns_pid: int | None
    ) -> Role | None:
        if pid in self._child_roles:
            return self._child_roles[pid]
        try:
            argv = read_argv(pid)
        except (ProcessGone, PermissionError):
            return None
        if not is_gunicorn(argv):
            self._child_roles[pid] = None
            return None
        title = parse_title(argv)
        reexec = self._reexec_of(pid, master_ns_pid) if title is None else None
        role: Role
        if title is not None and title[0] is not Role.MASTER:
            role = title[0]
        elif reexec is not None:
            # Only a re-exec of this master carries its pid in GUNICORN_PID.
            role = Role.MASTER if reexec else Role.WORKER
            if not reexec and self._younger_than(pid, FORK_TO_EXEC_S):
                # Between its fork and its exec the new master still has the
                # old one's environment: a young worker is asked again.
                return role
        else:
            try:
                has_children = bool(read_children(pid))
            except (ProcessGone, FileNotFoundError):
                has_children = False
            role = role_under_master(argv, master_argv(), has_children)
            if role is Role.WORKER:
                # Resting on "no children yet": a worker shows its master's
                # title for the few ms between fork and setproctitle, and a
                # new master has no children until it forks them. Ask again.
                return role
        self._child_roles[pid] = role
        return role

    def _younger_than(self, pid: int, seconds: float) -> bool:
        try:
            return self._wall_clock() - self._figures.create_time(pid) < seconds
        except ProcessGone:
            return False

    def _reexec_of(self, pid: int, master_ns_pid: int | None) -> bool | None:
        """Whether an untitled child was executed by this master (USR2), from
        the GUNICORN_PID the master puts in its environment; None if unread."""
        try:
            environment = read_environ(pid)
        except (ProcessGone, PermissionError):
            return None
        if not environment:
            return None
        pids = {str(self.identity.master_pid), str(master_ns_pid)}
        return environment.get("GUNICORN_PID") in pids

    def _worker_pids(self, master_ns_pid: int | None) -> list[int]:
        children = self._children()
        live = set(children)
        for pid in [pid for pid in self._child_roles if pid not in live]:
            del self._child_roles[pid]
        master_argv: list[tuple[str, ...]] = []

        def read_master_argv() -> tuple[str, ...]:
            if not master_argv:
                master_argv.append(read_argv(self.identity.master_pid))
            return master_argv[0]

        return [
            pid
            for pid in children
            if self._role_of_child(pid, read_master_argv, master_ns_pid) is Role.WORKER
        ]

    # -- totals ---------------------------------------------------------------

    def _cgroup_totals(self) -> ResourceTotals | None:
        paths = self._cgroup_paths
        if paths is None:
            return None
        now = self._clock()
        try:
            reading = read_cgroup(paths)
            if now - self._limits_at >= LIMITS_REFRESH_S:
                self._limits, self._limits_at = read_cgroup_limits(paths), now
        except (ProcessGone, PermissionError, OSError, ValueError) as error:
            return ResourceTotals(
                None,
                None,
                None,
                None,
                True,
                {
                    "cpu_percent": f"cgroup unreadable: {error}",
                    "memory_bytes": f"cgroup unreadable: {error}",
                },
            )
        cpu: float | None = None
        unavailable: dict[str, str] = {}
        previous = self._previous_cgroup
        if previous is not None and now > previous[0]:
            cpu = (reading.cpu_usage_ns - previous[1].cpu_usage_ns) / ((now - previous[0]) * 1e7)
            cpu = max(0.0, cpu)
        else:
            unavailable["cpu_percent"] = "first sample: no interval yet"
        self._previous_cgroup = (now, reading)
        limits = self._limits
        cpu_limit = None
        if limits is not None:
            candidates = [v for v in (limits.cpu_limit_cores, limits.cpuset_cpus) if v]
            cpu_limit = float(min(candidates)) if candidates else None
        return ResourceTotals(
            cpu_percent=cpu,
            memory_bytes=reading.memory_bytes,
            memory_limit_bytes=limits.memory_limit_bytes if limits else None,
            cpu_limit_cores=cpu_limit,
            from_cgroup=True,
            unavailable=unavailable,
        )

    @staticmethod
    def _summed_totals(master: ProcessSample, workers: list[WorkerSample]) -> ResourceTotals:
        processes = [master] + [worker.process for worker in workers]
        unavailable: dict[str, str] = {}
        cpu_values = [p.cpu_percent for p in processes]
        cpu = sum(v for v in cpu_values if v is not None) if None not in cpu_values else None
        if cpu is None:
            unavailable["cpu_percent"] = "not every process has a CPU figure yet"
        # Master RSS holds the pages workers share with it; workers add their
        # private pages (USS). Summing RSS would count shared pages N times.
        memory: int | None = master.rss_bytes
        for worker in workers:
            private = worker.process.uss_bytes
            if memory is None or private is None:
                memory = None
                unavailable["memory_bytes"] = "USS not readable for every worker"
                break
            memory += private
        return ResourceTotals(cpu, memory, None, None, False, unavailable)

    # -- the sample -------------------------------------------------------------

    def sample(self, tables: SampleTables) -> InstanceSample:
        """One sample. Raises ProcessGone when the master has exited."""
        identity = self.identity
        master_pid = identity.master_pid
        figures = self._figures
        master = figures.sample(master_pid)
        worker_pids = self._worker_pids(master.ns_pid)

        # Listeners first: they tell apart servers started by one wrapper
        # when the configuration is read.
        master_files = self._master_files(master_pid, frozenset(worker_pids))
        load_table = tables.loader(master_pid)
        if master_files is not None and not self._listeners_known:
            try:
                self._counter.learn_listeners(master_files.socket_inodes, load_table)
                self._listeners_known = True
            except (ProcessGone, PermissionError):
                pass

        config = self.config()
        self._poll_control(master.ns_pid, config, frozenset(worker_pids))
        if self._control.transport is not None and (
            config.get("workers").source is not ConfigSource.CONTROL_SOCKET
        ):
            control_config = self._control_config(master.ns_pid)
            if control_config is not None:
                config = self.config(control_config)

        worker_class = short_worker_class(config.worker_class or "sync")
        timeout_s = config.timeout_s
        wall_now = self._wall_clock()
        workers: list[WorkerSample] = []
        self._workers_without_heartbeat_file = 0
        live_sockets: set[int] = set(master_files.socket_inodes) if master_files else set()
        for pid in worker_pids:
            try:
                workers.append(
                    self._sample_worker(
                        pid,
                        master_files,
                        worker_class,
                        timeout_s,
                        wall_now,
                        load_table,
                        live_sockets,
                    )
                )
            except ProcessGone:
                continue  # exited between the children list and now
        self._counter.prune(live_sockets)
        for pid in [pid for pid in self._worker_files if pid not in worker_pids]:
            del self._worker_files[pid]
        self._control.heartbeats_wanted = self._workers_without_heartbeat_file > 0
        self.watched_pids = (master_pid, *worker_pids)

        totals = self._cgroup_totals() or self._summed_totals(master, workers)
        facts = self._runtime_facts()
        container = identity.container
        return InstanceSample(
            key=identity.key,
            source=identity.source,
            container=container.ref if container is not None else None,
            name=identity.name,
            master=master,
            config=config,
            workers=tuple(workers),
            totals=totals,
            gunicorn_version=facts.gunicorn_version if facts else None,
            workers_target=self._control.workers_target,
            mode=SamplingMode.PROCFS,
            taken_at=wall_now,
            control_socket=self._control.path_in_namespace,
            warnings=self._warnings(),
            reloads=self._control.reloads,
        )

    def _master_files(self, master_pid: int, worker_pids: frozenset[int]) -> OpenFiles | None:
        """The master's descriptors: read again when its workers changed,
        after a reload, or MASTER_FILES_REFRESH_S after the last read. What
        they are used for, its listening sockets and the sockets no worker
        verdict may outlive, change with those events only; a socket seen in
        between is still judged by the TCP table."""
        now = self._clock()
        kept = self._master_files_read
        if (
            kept is not None
            and self._listeners_known
            and kept[1] == worker_pids
            and now - kept[0] < MASTER_FILES_REFRESH_S
        ):
            return kept[2]
        try:
            files: OpenFiles | None = read_open_files(master_pid)
        except PermissionError:
            files = None
        self._master_files_read = (now, worker_pids, files)
        return files

    def _warnings(self) -> tuple[str, ...]:
        warnings: list[str] = []
        if self.identity.parent_master_pid is not None:
            warnings.append(
                f"new master of a USR2 re-exec (old master pid {self.identity.parent_master_pid})"
            )
        if self._cgroup_error and self.identity.container is not None:
            warnings.append(f"container totals unavailable: {self._cgroup_error}")
        return tuple(warnings)

    def _sample_worker(
        self,
        pid: int,
        master_files: OpenFiles | None,
        worker_class: str,
        timeout_s: float | None,
        wall_now: float,
        load_table: Callable[[], Mapping[int, TcpSocket]],
        live_sockets: set[int],
    ) -> WorkerSample:
        process = self._figures.sample(pid)
        unavailable: dict[str, str] = {}
        heartbeat_age: float | None = None
        ever_touched: bool | None = None
        connections: int | None = None
        files: OpenFiles | None
        beat: Heartbeat | None = None
        kept = self._worker_files.get(pid)
        if kept is not None and not self._figures.ran_since_last_sample(pid):
            # Not run since the last sample: the same descriptors, and a
            # heartbeat only it touches. Its age is still computed from now.
            files, beat = kept
        else:
            self._worker_files.pop(pid, None)
            try:
                files = read_open_files(pid)
            except PermissionError:
                files = None
                unavailable["heartbeat_age_s"] = PERMISSION_DENIED
                unavailable["client_connections"] = PERMISSION_DENIED
            if files is not None:
                if files.heartbeat_fd_paths:
                    beat = read_heartbeat(files.heartbeat_fd_paths[0])
                self._worker_files[pid] = (files, beat)
        if files is not None:
            live_sockets.update(files.socket_inodes)
            if beat is not None:
                heartbeat_age = max(0.0, wall_now - beat.touched_at)
                ever_touched = beat.ever_touched
            if master_files is not None:
                try:
                    connections = self._counter.count(
                        files.socket_inodes, master_files.socket_inodes, load_table
                    )
                except (ProcessGone, PermissionError):
                    connections = None
                if connections is None:
                    unavailable["client_connections"] = "no TCP listener (unix socket bind?)"
            else:
                unavailable["client_connections"] = "master descriptors unreadable"
        if heartbeat_age is None:
            self._workers_without_heartbeat_file += 1
            beats = self._control.heartbeats or {}
            ns_pid = process.ns_pid
            if ns_pid is not None and ns_pid in beats:
                heartbeat_age = beats[ns_pid]
            elif "heartbeat_age_s" not in unavailable:
                unavailable["heartbeat_age_s"] = "heartbeat file not found"
        state = derive_state(
            WorkerEvidence(
                worker_class=worker_class,
                timeout_s=timeout_s,
                age_s=process.age_s,
                heartbeat_age_s=heartbeat_age,
                heartbeat_ever_touched=ever_touched,
                cpu_percent=process.cpu_percent,
                client_connections=connections,
            )
        )
        return WorkerSample(
            process=process,
            heartbeat_age_s=heartbeat_age,
            client_connections=connections,
            state=state,
            unavailable=unavailable,
        )
