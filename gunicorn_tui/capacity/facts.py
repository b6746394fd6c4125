"""What an instance may use and what it holds, with units in every name.

A figure that could not be read is None and its name is listed in
``unavailable`` with the reason, like the samples in
:mod:`gunicorn_tui.model.instances`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gunicorn_tui.model.instances import EMPTY_REASONS

# Share of the memory limit kept free when counting the workers that fit:
# page cache, request peaks and the master's own growth need room too.
MEMORY_RESERVE_FRACTION = 0.10


@dataclass(frozen=True)
class CpuCapacity:
    """CPUs the instance may really use.

    ``usable_cpus`` is the smallest of the cgroup quota (in cores, may be
    fractional), the cpuset size and the host's count: a container limited
    with ``--cpus 1`` on a 16-core host can use one core, not sixteen.
    """

    usable_cpus: float | None
    quota_cores: float | None  # cpu.max / cfs_quota_us over the period; None: no quota
    cpuset_cpus: int | None  # cpuset.cpus.effective (or the affinity mask)
    host_cpus: int | None
    limited_by: str  # "quota", "cpuset", "host" or "unknown"
    unavailable: Mapping[str, str] = field(default_factory=lambda: EMPTY_REASONS)


@dataclass(frozen=True)
class ProcessMemory:
    """One process's memory from ``/proc/PID/smaps_rollup``.

    USS (private pages) is what the process would free on exit, so it is
    the cost of one more worker; PSS shares shared pages out fairly.
    """

    pid: int | None
    rss_bytes: int | None
    pss_bytes: int | None
    uss_bytes: int | None
    unavailable: Mapping[str, str] = field(default_factory=lambda: EMPTY_REASONS)


@dataclass(frozen=True)
class MemoryCapacity:
    """The memory limit, what is used, and the workers that fit.

    ``workers_fit`` counts workers (all of them, not extra ones) whose
    private memory fits below the limit less ``reserve_bytes``, after the
    memory that does not grow with the worker count (master, shared pages,
    other processes) is taken off. It uses the largest worker's USS as the
    cost of one worker: a conservative, measured figure.
    """

    limit_bytes: int | None
    limit_source: str  # "cgroup", "host memory" or "unknown"
    used_bytes: int | None  # the cgroup's usage (minus inactive cache), else the sum of PSS
    master: ProcessMemory
    workers: tuple[ProcessMemory, ...]
    worker_uss_max_bytes: int | None
    worker_uss_median_bytes: int | None
    fixed_bytes: int | None  # used memory that does not scale with the worker count
    reserve_bytes: int | None
    workers_fit: int | None
    unavailable: Mapping[str, str] = field(default_factory=lambda: EMPTY_REASONS)


@dataclass(frozen=True)
class BacklogReading:
    """Connections accepted by the kernel but not yet by a worker.

    ``source`` is ``"statsd"`` (Gunicorn's ``gunicorn.backlog``) or
    ``"listen queue"`` (rx_queue of the master's LISTEN sockets in
    /proc/PID/net/tcp{,6}); ``limit`` is the listen backlog the kernel
    enforces (tx_queue of a LISTEN socket), when read from the queue.
    """

    queued_connections: int | None
    limit: int | None
    source: str | None
    listen_sockets: int
    unavailable: Mapping[str, str] = field(default_factory=lambda: EMPTY_REASONS)


@dataclass(frozen=True)
class CapacityFacts:
    """Capacity of one instance at one moment."""

    key: str
    taken_at: float
    cpu: CpuCapacity
    memory: MemoryCapacity
    backlog: BacklogReading
    workers_current: int
    # The common starting point: 2 x usable CPUs + 1 (None without a CPU count).
    guideline_workers: int | None


def guideline_workers(usable_cpus: float | None) -> int | None:
    """``2 x CPUs + 1``, rounded, at least 1 (None when the CPUs are unknown)."""
    if usable_cpus is None or usable_cpus <= 0:
        return None
    return max(1, round(2 * usable_cpus + 1))
