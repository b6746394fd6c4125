"""Build the observers a wait needs for one master: where it is, its settings, is it dead."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gunicorn_tui.control import container_ops
from gunicorn_tui.control.local_master import master_alive
from gunicorn_tui.control.master_access import show_config
from gunicorn_tui.control.observation import (
    MasterView,
    find_container_master,
    observe_container_api,
    observe_local_master,
)
from gunicorn_tui.control.plan import WaitServing
from gunicorn_tui.control.readiness import wait_until_serving


class ServingWatch:
    """Waits for a master in a container (found anew, or known by pid) or on the host."""

    def __init__(self, client: Any, api_mode: bool) -> None:
        self.client = client
        self.api_mode = api_mode

    def wait(
        self,
        action: WaitServing,
        *,
        container_id: str | None,
        master_pid: int | None,
        old_workers: frozenset[int] | None = None,
    ) -> str:
        """Block until ``action`` holds (StepError with the reason otherwise)."""
        locate: Callable[[], MasterView | None]
        if container_id is not None and (self.api_mode or master_pid is None):
            locate = self._container_locator(container_id)
        else:
            assert master_pid is not None
            pid = master_pid
            locate = lambda: observe_local_master(pid)  # noqa: E731
        read_config = (
            self._config_reader(action.control_socket_path, container_id)
            if action.control_socket_path
            else None
        )
        return wait_until_serving(
            action, locate, read_config, self._dead_reason(container_id, master_pid), old_workers
        )

    def _container_locator(self, container_id: str) -> Callable[[], MasterView | None]:
        client = self.client

        def locate() -> MasterView | None:
            if self.api_mode:
                return observe_container_api(client, container_id)
            inspect = container_ops.inspect_or_none(client, container_id)
            if inspect is None:
                return None
            main_pid = int((inspect.get("State") or {}).get("Pid") or 0)
            master = find_container_master(container_id, main_pid or None)
            return observe_local_master(master) if master is not None else None

        return locate

    def _config_reader(
        self, socket_path: str | None, container_id: str | None
    ) -> Callable[[MasterView], Mapping[str, Any] | None]:
        client = self.client
        api_mode = self.api_mode

        def read(view: MasterView) -> Mapping[str, Any] | None:
            assert socket_path is not None
            if api_mode:
                return show_config(socket_path, None, container_id, client)
            base = (
                f"/proc/{view.master_pid}/root"
                if socket_path.startswith("/")
                else (f"/proc/{view.master_pid}/cwd/")
            )
            return show_config(socket_path, base + socket_path, None, client)

        return read

    def _dead_reason(
        self, container_id: str | None, master_pid: int | None
    ) -> Callable[[], str | None]:
        client = self.client

        def reason() -> str | None:
            if container_id is not None:
                inspect = container_ops.inspect_or_none(client, container_id)
                if inspect is None:
                    return f"container {container_id[:12]} no longer exists"
                return container_ops.exit_reason(inspect)
            if master_pid is not None and not master_alive(master_pid):
                return f"master {master_pid} exited"
            return None

        return reason

    def worker_pids(self, container_id: str | None, master_pid: int | None) -> frozenset[int]:
        """The workers running now (to tell them from the ones a change starts)."""
        if container_id is not None and (self.api_mode or master_pid is None):
            view = self._container_locator(container_id)()
        elif master_pid is not None:
            view = observe_local_master(master_pid)
        else:
            view = None
        return frozenset(view.worker_pids) if view is not None else frozenset()
