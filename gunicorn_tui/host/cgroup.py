"""Container totals straight from cgroup files (v1 and v2).

Reading ``cpuacct.usage`` or ``cpu.stat`` costs microseconds; the Docker
stats API costs a daemon round trip per container per second. Memory is
reported the way ``docker stats`` does: usage minus inactive page cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from gunicorn_tui.host.procfs import ProcessGone, read_cgroup_lines, read_whole

_UNLIMITED_V1 = 1 << 60


@dataclass(frozen=True)
class CgroupPaths:
    """Directories holding one container's CPU and memory accounting."""

    version: int
    cpu_dir: str
    memory_dir: str
    cpuset_dir: str | None
    cpu_quota_dir: str | None
    procs_file: str


@dataclass(frozen=True)
class CgroupReading:
    """Cumulative CPU and current memory of one cgroup."""

    cpu_usage_ns: int
    memory_bytes: int


@dataclass(frozen=True)
class CgroupLimits:
    """What the container may use: CPU quota in cores and memory limit."""

    cpu_limit_cores: float | None
    cpuset_cpus: int | None
    memory_limit_bytes: int | None


@dataclass(frozen=True)
class _Mounts:
    v1: dict[str, tuple[str, str]]  # controller -> (mount point, mount root)
    v2: tuple[str, str] | None


@cache
def _mounts() -> _Mounts:
    v1: dict[str, tuple[str, str]] = {}
    v2: tuple[str, str] | None = None
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            left, _, right = line.partition(" - ")
            left_fields, right_fields = left.split(), right.split()
            if len(left_fields) < 5 or len(right_fields) < 3:
                continue
            root, mount_point, fs_type = left_fields[3], left_fields[4], right_fields[0]
            if fs_type == "cgroup2":
                v2 = (mount_point, root)
            elif fs_type == "cgroup":
                for option in right_fields[2].split(","):
                    v1.setdefault(option, (mount_point, root))
    return _Mounts(v1, v2)


def _join(mount: tuple[str, str], path: str) -> str:
    mount_point, root = mount
    if root != "/" and path.startswith(root):
        path = path[len(root) :]
    return os.path.join(mount_point, path.lstrip("/"))


def find_cgroup_paths(pid: int) -> CgroupPaths | None:
    """The cgroup directories of ``pid``, or None when they cannot be found."""
    mounts = _mounts()
    v1_paths: dict[str, str] = {}
    v2_path: str | None = None
    for line in read_cgroup_lines(pid):
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            v2_path = path
        for controller in controllers.split(","):
            v1_paths[controller] = path
    if "cpuacct" in v1_paths and "memory" in v1_paths and "cpuacct" in mounts.v1:
        cpu_dir = _join(mounts.v1["cpuacct"], v1_paths["cpuacct"])
        memory_dir = _join(mounts.v1["memory"], v1_paths["memory"])
        cpuset_dir = (
            _join(mounts.v1["cpuset"], v1_paths["cpuset"])
            if "cpuset" in v1_paths and "cpuset" in mounts.v1
            else None
        )
        quota_dir = (
            _join(mounts.v1["cpu"], v1_paths["cpu"])
            if "cpu" in v1_paths and "cpu" in mounts.v1
            else None
        )
        if os.path.isdir(cpu_dir) and os.path.isdir(memory_dir):
            return CgroupPaths(
                1, cpu_dir, memory_dir, cpuset_dir, quota_dir, f"{cpu_dir}/cgroup.procs"
            )
    if v2_path is not None and mounts.v2 is not None:
        directory = _join(mounts.v2, v2_path)
        if os.path.exists(f"{directory}/cpu.stat") and os.path.exists(
            f"{directory}/memory.current"
        ):
            return CgroupPaths(
                2, directory, directory, directory, directory, f"{directory}/cgroup.procs"
            )
    return None


def _read_text(path: str) -> str:
    return _read_raw(path).decode("ascii")


def _read_raw(path: str) -> bytes:
    # Bytes, read with os.read: the per-sample files are small, and int()
    # and the search below take bytes as they are, so the text layer (a
    # buffered file object, decoding, splitting into lines) is cost without
    # use. read_cgroup (cgroup v1) went from ~108 to ~68 us of CPU; most of
    # the rest is the kernel writing memory.stat.
    try:
        return read_whole(path)
    except FileNotFoundError as error:
        # The cgroup is removed when the container stops.
        raise ProcessGone(path) from error


def _stat_value(raw: bytes, key: bytes) -> int | None:
    """The value of ``key`` in a flat-keyed file (``name value`` lines)."""
    head = key + b" "
    if raw.startswith(head):
        start = len(head)
    else:
        found = raw.find(b"\n" + head)
        if found < 0:
            return None
        start = found + 1 + len(head)
    end = raw.find(b"\n", start)
    return int(raw[start:] if end < 0 else raw[start:end])


def read_cgroup(paths: CgroupPaths) -> CgroupReading:
    """Cumulative CPU nanoseconds and memory in use (minus inactive cache)."""
    if paths.version == 1:
        cpu_ns = int(_read_raw(f"{paths.cpu_dir}/cpuacct.usage"))
        usage = int(_read_raw(f"{paths.memory_dir}/memory.usage_in_bytes"))
        inactive = _stat_value(_read_raw(f"{paths.memory_dir}/memory.stat"), b"total_inactive_file")
    else:
        usage_usec = _stat_value(_read_raw(f"{paths.cpu_dir}/cpu.stat"), b"usage_usec") or 0
        cpu_ns = usage_usec * 1000
        usage = int(_read_raw(f"{paths.memory_dir}/memory.current"))
        inactive = _stat_value(_read_raw(f"{paths.memory_dir}/memory.stat"), b"inactive_file")
    memory = usage - (inactive or 0)
    return CgroupReading(cpu_usage_ns=cpu_ns, memory_bytes=max(0, memory))


def read_cgroup_tree_pids(paths: CgroupPaths) -> list[int]:
    """Every process in the cgroup and in the cgroups below it (host pids).

    A container may make sub-cgroups of its own (systemd inside, nested
    runtimes); their processes are not in the top ``cgroup.procs``.
    """
    pids: list[int] = []
    for directory, _subdirectories, files in os.walk(os.path.dirname(paths.procs_file)):
        if "cgroup.procs" in files:
            try:
                pids.extend(int(word) for word in _read_text(f"{directory}/cgroup.procs").split())
            except ProcessGone:
                continue  # a sub-cgroup removed while walking
    return pids


def count_cpus(cpu_list: str) -> int:
    """Number of CPUs in a cpuset list such as ``0-3,6``."""
    total = 0
    for part in cpu_list.strip().split(","):
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            total += int(high) - int(low) + 1
        else:
            total += 1
    return total


def read_cgroup_limits(paths: CgroupPaths) -> CgroupLimits:
    """CPU quota (cores), cpuset size and memory limit; None where unlimited."""
    cpu_limit: float | None = None
    memory_limit: int | None = None
    cpuset: int | None = None
    if paths.version == 1:
        if paths.cpu_quota_dir is not None:
            try:
                quota = int(_read_text(f"{paths.cpu_quota_dir}/cpu.cfs_quota_us"))
                period = int(_read_text(f"{paths.cpu_quota_dir}/cpu.cfs_period_us"))
                if quota > 0 and period > 0:
                    cpu_limit = quota / period
            except (ProcessGone, ValueError):
                pass
        limit = int(_read_text(f"{paths.memory_dir}/memory.limit_in_bytes"))
        memory_limit = limit if limit < _UNLIMITED_V1 else None
        cpuset_file = "cpuset.effective_cpus"
    else:
        quota_text = _read_text(f"{paths.cpu_dir}/cpu.max").split()
        if quota_text and quota_text[0] != "max":
            cpu_limit = int(quota_text[0]) / int(quota_text[1])
        limit_text = _read_text(f"{paths.memory_dir}/memory.max").strip()
        memory_limit = None if limit_text == "max" else int(limit_text)
        cpuset_file = "cpuset.cpus.effective"
    if paths.cpuset_dir is not None:
        try:
            cpuset = count_cpus(_read_text(f"{paths.cpuset_dir}/{cpuset_file}"))
        except (ProcessGone, ValueError):
            cpuset = None
    return CgroupLimits(cpu_limit, cpuset, memory_limit)
