"""Build the observers a wait needs for one master: where it is, its settings, is it dead."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gunicorn_tui.access.control_socket import ControlSocketError
from gunicorn_tui.access.errors import AccessError
from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.access.processes import ProcessRef, process_ref
from gunicorn_tui.access.resolve import AccessResolver
from gunicorn_tui.access.target import MasterView, TargetAccess
from gunicorn_tui.control.planning.plan import WaitServing
from gunicorn_tui.control.running import container_ops
from gunicorn_tui.control.running.interrupt import Interrupt
from gunicorn_tui.control.running.observation import find_container_master
from gunicorn_tui.control.running.readiness import wait_until_serving
from gunicorn_tui.control.running.step_errors import Interrupted, StepError


class ServingWatch:
    """Waits for a master in a container (found anew, or known by pid) or on the host."""

    def __init__(
        self, resolver: AccessResolver, kind: AccessKind, interrupt: Interrupt | None = None
    ) -> None:
        self.resolver = resolver
        self.kind = kind
        self.interrupt = interrupt

    def _container_access(self, container_id: str) -> TargetAccess | None:
        """The access to the master running in ``container_id`` now, or None."""
        try:
            if self.kind is AccessKind.API_CONTAINER:
                return self.resolver.container(container_id, kind=AccessKind.API_CONTAINER)
            inspect = self.resolver.engine().inspect(container_id)
        except AccessError:
            return None
        if inspect is None:
            return None
        main_pid = int((inspect.get("State") or {}).get("Pid") or 0)
        master = find_container_master(container_id, main_pid or None)
        if master is None:
            return None
        return self.resolver.container(
            container_id, kind=AccessKind.LOCAL_CONTAINER, master=process_ref(master)
        )

    def _master_access(self, container_id: str | None, master: ProcessRef) -> TargetAccess:
        if container_id is not None:
            return self.resolver.container(
                container_id, kind=AccessKind.LOCAL_CONTAINER, master=master
            )
        return self.resolver.host(master)

    def wait(
        self,
        action: WaitServing,
        *,
        container_id: str | None,
        master: ProcessRef | None,
        old_workers: frozenset[int] | None = None,
    ) -> str:
        """Block until ``action`` holds (StepError with the reason otherwise)."""
        current: dict[str, TargetAccess | None] = {}
        locate: Callable[[], MasterView | None]
        if container_id is not None and (self.kind is AccessKind.API_CONTAINER or master is None):
            cid = container_id

            def locate() -> MasterView | None:
                access = self._container_access(cid)
                current["access"] = access
                return access.observe() if access is not None else None

        else:
            assert master is not None
            fixed = self._master_access(container_id, master)
            current["access"] = fixed

            def locate() -> MasterView | None:
                return fixed.observe()

        read_config = (
            self._config_reader(action.control_socket_path, current)
            if action.control_socket_path
            else None
        )
        try:
            return wait_until_serving(
                action, locate, read_config, self._dead_reason(container_id, master), old_workers
            )
        except StepError as error:
            if self.interrupt is not None and self.interrupt.requested:
                raise Interrupted(str(error)) from error
            raise

    @staticmethod
    def _config_reader(
        socket_path: str | None, current: Mapping[str, TargetAccess | None]
    ) -> Callable[[MasterView], Mapping[str, Any] | None]:
        def read(view: MasterView) -> Mapping[str, Any] | None:
            access = current.get("access")
            if access is None or socket_path is None:
                return None
            try:
                (reply,) = access.control(socket_path, ["show config"])
            except (ControlSocketError, AccessError, ValueError):
                return None
            return dict(reply.data) if reply.ok else None

        return read

    def _dead_reason(
        self, container_id: str | None, master: ProcessRef | None
    ) -> Callable[[], str | None]:
        def reason() -> str | None:
            if self.interrupt is not None and self.interrupt.requested:
                return f"interrupted ({self.interrupt.reason})"
            if container_id is not None:
                try:
                    inspect = self.resolver.engine().inspect(container_id)
                except AccessError as error:
                    return str(error)
                if inspect is None:
                    return f"container {container_id[:12]} no longer exists"
                return container_ops.exit_reason(inspect)
            if master is not None and not self.resolver.host(master).master_running():
                return f"master {master.pid} exited"
            return None

        return reason

    def worker_pids(self, container_id: str | None, master: ProcessRef | None) -> frozenset[int]:
        """The workers running now (to tell them from the ones a change starts)."""
        access: TargetAccess | None
        if container_id is not None and (self.kind is AccessKind.API_CONTAINER or master is None):
            access = self._container_access(container_id)
        elif master is not None:
            access = self._master_access(container_id, master)
        else:
            access = None
        view = access.observe() if access is not None else None
        return frozenset(view.worker_pids) if view is not None else frozenset()
