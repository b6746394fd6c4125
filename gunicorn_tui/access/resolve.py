"""Which access a target gets: the one place that decides the kind.

Discovery asks :func:`container_access_kind` once per container; the
monitor, the control engine and recovery ask :class:`AccessResolver` for
the :class:`TargetAccess` of an instance, of a plan's target or of a
container they just created. A new kind of target (an SSH engine, a remote
gtui agent, Kubernetes) is a new :class:`TargetAccess` class and a branch here.
"""

from __future__ import annotations

from collections.abc import Callable

from gunicorn_tui.access.containers import ApiContainer, LocalContainer
from gunicorn_tui.access.docker_engine import DockerEngine
from gunicorn_tui.access.errors import AccessRefused
from gunicorn_tui.access.host import HostMaster
from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.access.locality import container_access_kind
from gunicorn_tui.access.processes import ProcessRef, process_ref
from gunicorn_tui.access.target import TargetAccess

EngineSource = Callable[[], DockerEngine]


class AccessResolver:
    """Makes the :class:`TargetAccess` for a target, with one engine connection."""

    def __init__(self, engine: EngineSource | DockerEngine | None = None, api_only: bool = False):
        self._engine: DockerEngine | None = engine if isinstance(engine, DockerEngine) else None
        self._connect: EngineSource | None = None if isinstance(engine, DockerEngine) else engine
        self.api_only = api_only

    def engine(self) -> DockerEngine:
        """The container engine (EngineLost when it cannot be reached)."""
        if self._engine is None:
            self._engine = self._connect() if self._connect is not None else DockerEngine.connect()
        return self._engine

    def host(self, master: ProcessRef) -> HostMaster:
        """A master on this host outside containers."""
        return HostMaster(master)

    def container(
        self,
        container_id: str,
        *,
        kind: AccessKind | None = None,
        master: ProcessRef | None = None,
        master_ns_pid: int | None = None,
        master_is_init: bool = False,
    ) -> LocalContainer | ApiContainer:
        """A master in a container; the kind is found from its main pid when not given."""
        engine = self.engine()
        if kind is None:
            inspect = engine.inspect(container_id)
            if inspect is None:
                raise AccessRefused(f"container {container_id[:12]} no longer exists")
            main_pid = int((inspect.get("State") or {}).get("Pid") or 0)
            kind = container_access_kind(container_id, main_pid, self.api_only)
            if master is None and kind is AccessKind.LOCAL_CONTAINER and main_pid:
                master = process_ref(main_pid)
        if kind is AccessKind.LOCAL_CONTAINER and master is not None:
            return LocalContainer(engine, container_id, master, master_ns_pid)
        return ApiContainer(engine, container_id, master_ns_pid, master_is_init=master_is_init)

    def target(
        self,
        kind: AccessKind,
        *,
        master: ProcessRef | None,
        master_ns_pid: int | None = None,
        container_id: str | None = None,
        master_is_init: bool = False,
    ) -> TargetAccess:
        """The access a plan's target names."""
        if kind is AccessKind.HOST:
            if master is None:
                raise AccessRefused("a host master without a pid")
            return self.host(master)
        if container_id is None:
            raise AccessRefused(f"a {kind.value} target without a container id")
        return self.container(
            container_id,
            kind=kind,
            master=master,
            master_ns_pid=master_ns_pid,
            master_is_init=master_is_init,
        )


def local_master_access(pid: int, container_id: str | None) -> HostMaster | LocalContainer:
    """Files and signals of a master whose pid is this host's, without an engine
    (what the sampler reads: its config file, its user's home)."""
    ref = process_ref(pid)
    if container_id is None:
        return HostMaster(ref)
    return LocalContainer(None, container_id, ref)
