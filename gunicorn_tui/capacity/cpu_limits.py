"""Usable CPUs from the cgroup quota, the cpuset and the affinity mask."""

from __future__ import annotations

import os

from gunicorn_tui.capacity.facts import CpuCapacity
from gunicorn_tui.host.cgroup import find_cgroup_paths, read_cgroup_limits
from gunicorn_tui.host.procfs import ProcessGone


def usable_cpus(
    quota_cores: float | None, cpuset_cpus: int | None, host_cpus: int | None
) -> tuple[float | None, str]:
    """The smallest of the known limits, and which one it is (on a tie, the
    broader one: a cpuset of every host CPU limits nothing)."""
    candidates = [
        (value, name)
        for value, name in ((host_cpus, "host"), (cpuset_cpus, "cpuset"), (quota_cores, "quota"))
        if value is not None and value > 0
    ]
    if not candidates:
        return None, "unknown"
    value, name = min(candidates, key=lambda item: item[0])
    return float(value), name


def _affinity(pid: int) -> int | None:
    try:
        return len(os.sched_getaffinity(pid))
    except (OSError, AttributeError):
        return None


def read_cpu_capacity(master_pid: int) -> CpuCapacity:
    """CPU capacity of the cgroup and affinity of ``master_pid`` (a host pid)."""
    unavailable: dict[str, str] = {}
    host = os.cpu_count()
    quota: float | None = None
    cpuset: int | None = None
    try:
        paths = find_cgroup_paths(master_pid)
    except (ProcessGone, OSError) as error:
        paths = None
        unavailable["quota_cores"] = f"cgroup unreadable: {error}"
    if paths is not None:
        try:
            limits = read_cgroup_limits(paths)
        except (ProcessGone, OSError, ValueError) as error:
            unavailable["quota_cores"] = f"cgroup limits unreadable: {error}"
        else:
            quota, cpuset = limits.cpu_limit_cores, limits.cpuset_cpus
    elif "quota_cores" not in unavailable:
        unavailable["quota_cores"] = "cgroup files not found"
    affinity = _affinity(master_pid)
    if affinity is not None:
        cpuset = affinity if cpuset is None else min(cpuset, affinity)
    usable, limited_by = usable_cpus(quota, cpuset, host)
    if usable is None:
        unavailable["usable_cpus"] = "no CPU count could be read"
    return CpuCapacity(usable, quota, cpuset, host, limited_by, unavailable)
