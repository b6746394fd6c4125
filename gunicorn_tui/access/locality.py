"""Whether a container's processes are this host's: the one test that picks its access kind."""

from __future__ import annotations

from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.host.procfs import ProcessGone, read_cgroup_lines


def container_access_kind(container_id: str, main_pid: int, api_only: bool = False) -> AccessKind:
    """LOCAL_CONTAINER when the container's processes are this host's, else API_CONTAINER.

    A remote daemon or Docker Desktop reports pids of another machine; the
    check is that the main pid exists here and sits in this container's cgroup.
    """
    if api_only or main_pid <= 0:
        return AccessKind.API_CONTAINER
    try:
        lines = read_cgroup_lines(main_pid)
    except (ProcessGone, PermissionError, OSError):
        return AccessKind.API_CONTAINER
    if any(container_id in line for line in lines):
        return AccessKind.LOCAL_CONTAINER
    return AccessKind.API_CONTAINER
