"""Sample a container through the Docker API only (remote daemon, Docker Desktop).

When the container's pids are not this host's, /proc and cgroup files say
nothing about it. What the API gives instead:

- ``top`` with ps arguments: pid, parent, elapsed time, RSS and command of
  each process (every call also emits a ``top`` event, so it runs every
  ``TOP_INTERVAL_S``, not every sample);
- the stats stream: container CPU and memory once a second;
- ``exec`` of a few lines of Python to reach the control socket, where the
  server has one, for heartbeats and the target worker count.

Per-process CPU, USS, container pids and client connections are not
available this way; they are reported as such, never estimated.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from typing import Any

from gunicorn_tui.access.control_socket import ControlSocketError, DockerExecTransport
from gunicorn_tui.access.docker_top import PS_ARGS, TopRow, parse_top
from gunicorn_tui.discovery.docker_engine import ContainerInfo
from gunicorn_tui.host.process_tree import GunicornTree, ProcRecord, find_trees
from gunicorn_tui.host.procfs import ProcessGone
from gunicorn_tui.model.instances import (
    GunicornConfig,
    InstanceSample,
    ProcessSample,
    ResourceTotals,
    SamplingMode,
    Source,
    WorkerSample,
)
from gunicorn_tui.sampling.local_instance import InstanceIdentity
from gunicorn_tui.sampling.worker_state import WorkerEvidence, derive_state
from gunicorn_tui.settings.master_inputs import gather_inputs
from gunicorn_tui.settings.resolve import resolve_config, short_worker_class

TOP_INTERVAL_S = 5.0
CONTROL_INTERVAL_S = 5.0

NOT_EXPOSED = "remote daemon: not exposed by the Docker API"


class ContainerApiState:
    """Shared per container: the stats stream thread and the cached top."""

    def __init__(self, client: Any, info: ContainerInfo) -> None:
        self.client = client
        self.info = info
        self._lock = threading.Lock()
        self._top: list[TopRow] = []
        self._top_at = -TOP_INTERVAL_S
        self._stats: tuple[float | None, int | None, int | None] = (None, None, None)
        self._stats_error: str | None = "waiting for the first stats message"
        self._stop = threading.Event()
        self._stream: Any = None
        self._thread = threading.Thread(
            target=self._follow_stats, daemon=True, name=f"gtui-stats-{info.ref.short_id}"
        )
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    def top(self) -> list[TopRow]:
        now = time.monotonic()
        if now - self._top_at >= TOP_INTERVAL_S:
            try:
                result = self.client.api.top(self.info.ref.id, ps_args=PS_ARGS)
            except Exception as error:
                text = str(error)
                if "is not running" in text or "No such container" in text:
                    raise ProcessGone(self.info.ref.id) from error
                raise
            # ps titles "ELAPSED" for etimes.
            self._top = parse_top(result)
            self._top_at = now
        return self._top

    def stats(self) -> tuple[float | None, int | None, int | None, str | None]:
        with self._lock:
            cpu, memory, limit = self._stats
            return cpu, memory, limit, self._stats_error

    def _follow_stats(self) -> None:
        try:
            stream = self.client.api.stats(self.info.ref.id, stream=True, decode=True)
            self._stream = stream
            for message in stream:
                if self._stop.is_set():
                    return
                reading = cpu_and_memory(message)
                with self._lock:
                    self._stats = reading
                    self._stats_error = (
                        None if reading[0] is not None else ("first stats message: no interval yet")
                    )
        except Exception as error:
            with self._lock:
                self._stats_error = f"stats stream ended: {error}"


def cpu_and_memory(message: Mapping[str, Any]) -> tuple[float | None, int | None, int | None]:
    """CPU % of one core, memory in use and its limit from a stats message,
    computed the way ``docker stats`` does."""
    cpu_stats = message.get("cpu_stats") or {}
    previous = message.get("precpu_stats") or {}
    cpu: float | None = None
    try:
        cpu_delta = cpu_stats["cpu_usage"]["total_usage"] - previous["cpu_usage"]["total_usage"]
        system_delta = cpu_stats["system_cpu_usage"] - previous["system_cpu_usage"]
        online = cpu_stats.get("online_cpus") or len(
            cpu_stats["cpu_usage"].get("percpu_usage") or [1]
        )
        if system_delta > 0 and cpu_delta >= 0:
            cpu = cpu_delta / system_delta * online * 100.0
    except (KeyError, TypeError):
        cpu = None
    memory_stats = message.get("memory_stats") or {}
    usage = memory_stats.get("usage")
    detail = memory_stats.get("stats") or {}
    inactive = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    memory = usage - inactive if isinstance(usage, int) else None
    limit = memory_stats.get("limit")
    return cpu, memory, limit if isinstance(limit, int) else None


class ApiInstanceSampler:
    """One master in a container whose processes are only visible via the API."""

    def __init__(self, state: ContainerApiState, tree: GunicornTree, key: str) -> None:
        self.state = state
        self.container = state.info
        self.tree = tree
        self.identity = InstanceIdentity(
            key=key,
            source=Source.DOCKER,
            container=state.info,
            master_pid=tree.master_pid,
            name=tree.name or "",
            titled=tree.titled,
            argv=tree.argv,
            parent_master_pid=tree.parent_master_pid,
        )
        self._config: GunicornConfig | None = None
        self._control_at = -CONTROL_INTERVAL_S
        self._control_beats: list[float | None] | None = None
        self._workers_target: int | None = None
        self._reloads: int | None = None
        self._control_note: str | None = None
        self._control_path: str | None = None
        self._owns_state = False

    @classmethod
    def discover(
        cls, client: Any, info: ContainerInfo, existing: Mapping[str, ApiInstanceSampler]
    ) -> dict[str, ApiInstanceSampler]:
        """Samplers for every master in ``info``, reusing ``existing`` ones."""
        state = next(iter(existing.values())).state if existing else ContainerApiState(client, info)
        rows = state.top()
        trees = find_trees(ProcRecord(row.pid, row.ppid, row.argv) for row in rows)
        found: dict[str, ApiInstanceSampler] = {}
        for tree in trees:
            key = f"docker:{info.ref.short_id}:api:{tree.master_pid}"
            found[key] = existing.get(key) or cls(state, tree, key)
        if not found:
            state.close()
        else:
            for sampler in found.values():
                sampler._owns_state = False
            next(iter(found.values()))._owns_state = True
        return found

    def close(self) -> None:
        if self._owns_state:
            self.state.close()

    def _resolve_config(self) -> GunicornConfig:
        if self._config is None:
            info = self.container
            mine = gather_inputs(
                argv=self.tree.argv,
                titled=self.tree.titled,
                wrapper_commands=[info.command],
                environment=None if self.tree.titled else info.environment,
                fallback_environment=info.environment,
                read_file=self._read_file,
                name=self.tree.name if self.tree.titled else None,
            )
            resolved = resolve_config(mine.inputs)
            self._config = GunicornConfig(
                resolved.settings, resolved.config_file, resolved.warnings + mine.notes
            )
        return self._config

    def _read_file(self, path: str) -> str | None:
        import io
        import tarfile

        working_dir = (self.container.inspect.get("Config") or {}).get("WorkingDir") or "/"
        full = path if path.startswith("/") else f"{working_dir.rstrip('/')}/{path}"
        try:
            stream, _ = self.state.client.api.get_archive(self.container.ref.id, full)
            data = b"".join(stream)
        except Exception:
            return None
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            member = archive.next()
            if member is None or not member.isfile():
                return None
            handle = archive.extractfile(member)
            return handle.read(1024 * 1024).decode("utf-8", "replace") if handle else None

    def _poll_control(self, config: GunicornConfig) -> None:
        now = time.monotonic()
        if now - self._control_at < CONTROL_INTERVAL_S:
            return
        self._control_at = now
        candidates = self._control_candidates(config)
        if not candidates:
            self._control_note = "no control socket"
            self._control_beats, self._workers_target = None, None
            return
        client = self.state.client
        error: Exception | None = None
        try:
            container = client.containers.get(self.container.ref.id)
        except Exception as lookup_error:  # docker.errors.* and transport errors
            candidates, error = [], lookup_error
        for path in candidates:
            try:
                stats, workers = DockerExecTransport(container, path).request(
                    ["show stats", "show workers"]
                )
            except ControlSocketError as exec_error:
                error = exec_error
                continue
            self._control_path = path
            break
        else:
            self._control_note = f"control socket: {error}"
            self._control_beats, self._workers_target = None, None
            return
        self._control_note = None
        target = stats.data.get("workers_target") if stats.ok else None
        self._workers_target = target if isinstance(target, int) else None
        reloads = stats.data.get("reloads") if stats.ok else None
        self._reloads = reloads if isinstance(reloads, int) else None
        rows = workers.data.get("workers", []) if workers.ok else []
        # Spawn order ("age") lines up with elapsed time from top.
        ordered = sorted((r for r in rows if isinstance(r, dict)), key=lambda r: r.get("age", 0))
        self._control_beats = [
            float(r["last_heartbeat"]) if isinstance(r.get("last_heartbeat"), int | float) else None
            for r in ordered
        ]

    def _control_candidates(self, config: GunicornConfig) -> list[str]:
        """Where the control socket may be, the path that worked last first."""
        if config.value("control_socket_disable") is True:
            return []
        candidates = [self._control_path] if self._control_path else []
        configured = config.value("control_socket")
        if isinstance(configured, str) and configured:
            candidates.append(configured)
        # Docker sets HOME at run time from the user's passwd entry, so it is
        # seldom in Config.Env; root's is /root.
        home = self.container.environment.get("HOME")
        user = str((self.container.inspect.get("Config") or {}).get("User") or "")
        if not home and user.split(":")[0] in ("", "root", "0"):
            home = "/root"
        if home:
            candidates.append(f"{home.rstrip('/')}/.gunicorn/gunicorn.ctl")
        candidates.append("gunicorn.ctl")  # 25.1.0 used the working directory
        return list(dict.fromkeys(candidates))

    def sample(self) -> InstanceSample:
        top = self.state.top()
        rows = {row.pid: row for row in top}
        trees = {
            tree.master_pid: tree
            for tree in find_trees(ProcRecord(row.pid, row.ppid, row.argv) for row in top)
        }
        tree = trees.get(self.tree.master_pid)
        master_row = rows.get(self.tree.master_pid)
        if tree is None or master_row is None:
            raise ProcessGone(str(self.tree.master_pid))
        worker_rows = sorted((rows[pid] for pid in tree.workers), key=lambda row: -row.elapsed_s)
        config = self._resolve_config()
        self._poll_control(config)
        unavailable = {"cpu_percent": NOT_EXPOSED, "uss_bytes": NOT_EXPOSED, "ns_pid": NOT_EXPOSED}
        master = ProcessSample(
            master_row.pid,
            None,
            None,
            master_row.rss_bytes,
            None,
            master_row.elapsed_s,
            unavailable,
        )
        beats = self._control_beats
        workers: list[WorkerSample] = []
        worker_class = short_worker_class(config.worker_class or "sync")
        for index, row in enumerate(worker_rows):
            beat = beats[index] if beats is not None and len(beats) == len(worker_rows) else None
            worker_unavailable = {"client_connections": NOT_EXPOSED}
            if beat is None:
                worker_unavailable["heartbeat_age_s"] = self._control_note or NOT_EXPOSED
            process = ProcessSample(
                row.pid, None, None, row.rss_bytes, None, row.elapsed_s, unavailable
            )
            state = derive_state(
                WorkerEvidence(
                    worker_class, config.timeout_s, row.elapsed_s, beat, None, None, None
                )
            )
            workers.append(WorkerSample(process, beat, None, state, worker_unavailable))
        cpu, memory, limit, stats_error = self.state.stats()
        totals_unavailable: dict[str, str] = {}
        if cpu is None:
            totals_unavailable["cpu_percent"] = stats_error or "no stats yet"
        if memory is None:
            totals_unavailable["memory_bytes"] = stats_error or "no stats yet"
        totals = ResourceTotals(cpu, memory, limit, None, True, totals_unavailable)
        return InstanceSample(
            key=self.identity.key,
            source=Source.DOCKER,
            container=self.container.ref,
            name=self.identity.name,
            master=master,
            config=config,
            workers=tuple(workers),
            totals=totals,
            gunicorn_version=None,
            workers_target=self._workers_target,
            mode=SamplingMode.API,
            taken_at=time.time(),
            control_socket=None,
            reloads=self._reloads,
            warnings=(
                "remote daemon: sampled through the Docker API; per-process CPU, "
                "USS and container pids are not available",
            ),
        )
