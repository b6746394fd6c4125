"""Find Gunicorn processes among this host's processes.

Only command lines are read for most pids (and only those mentioning
"gunicorn" are decoded), so a full scan of a few hundred processes costs a
few milliseconds; it runs every few seconds, not every sample.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from gunicorn_tui.host.process_tree import ProcRecord, is_gunicorn
from gunicorn_tui.host.procfs import (
    PROC,
    ProcessGone,
    parse_argv,
    read_cgroup_lines,
    read_cmdline_bytes,
    read_ppid,
)

# The container scopes of a process's cgroup path, by runtime: Docker
# (``/docker/<id>``, ``docker-<id>.scope``), Podman (``libpod-<id>``, also
# under ``/libpod_parent/``), and the CRI runtimes of Kubernetes nodes
# (``cri-containerd-<id>.scope``, ``crio-<id>.scope``; with the cgroupfs
# driver ``/kubepods/.../<id>``, which reads like Docker's).
_SCOPE = re.compile(
    r"(?:^|/)(?P<runtime>docker-|docker/|libpod-|cri-containerd-|crio-|)"
    r"(?P<id>[0-9a-f]{64})(?:\.scope)?(?:/|$)"
)
CRI_RUNTIMES = frozenset({"cri-containerd", "crio", "cri"})


def all_pids() -> list[int]:
    """Every pid in /proc."""
    return [int(name) for name in os.listdir(PROC) if name.isdigit()]


def gunicorn_records(pids: Iterable[int] | None = None) -> list[ProcRecord]:
    """Records of the Gunicorn processes among ``pids`` (default: all)."""
    records: list[ProcRecord] = []
    for pid in all_pids() if pids is None else pids:
        try:
            raw = read_cmdline_bytes(pid)
        except (ProcessGone, OSError):
            continue  # gone, or a kernel thread we may not read
        if b"gunicorn" not in raw:
            continue
        try:
            argv = parse_argv(raw)
            if not is_gunicorn(argv):
                continue
            records.append(ProcRecord(pid=pid, ppid=read_ppid(pid), argv=argv))
        except (ProcessGone, PermissionError, ValueError, IndexError):
            continue
    return records


def container_scope_of(pid: int) -> tuple[str, str] | None:
    """``(runtime, container id)`` of the container a host process runs in,
    from its cgroup: runtime ``docker``, ``podman``, ``cri-containerd``,
    ``crio`` or ``cri`` (a Kubernetes pod under the cgroupfs driver). A hint:
    a container the engine knows is the engine's. None for a process in no
    container scope."""
    try:
        lines = read_cgroup_lines(pid)
    except (ProcessGone, PermissionError, OSError):
        return None
    return scope_of_cgroup_lines(lines)


def scope_of_cgroup_lines(lines: Iterable[str]) -> tuple[str, str] | None:
    """:func:`container_scope_of` on the lines of a ``/proc/PID/cgroup``."""
    for line in lines:
        path = line.split(":", 2)[-1]
        for match in _SCOPE.finditer(path):
            prefix = match.group("runtime")
            runtime = {"libpod-": "podman", "cri-containerd-": "cri-containerd",
                       "crio-": "crio"}.get(prefix, "docker")  # fmt: skip
            if not prefix and "/kubepods" in path:
                runtime = "cri"  # the cgroupfs driver names no runtime
            return runtime, match.group("id")
    return None


def container_id_of(pid: int) -> str | None:
    """The container id a host process belongs to, from its cgroup (Docker,
    Podman or a CRI runtime)."""
    scope = container_scope_of(pid)
    return scope[1] if scope is not None else None
