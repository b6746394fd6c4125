"""Gather the capacity facts of one sampled instance.

Reads /proc and cgroup files when the daemon is local (``procfs`` mode);
with only the Docker API, the CPU and memory limits come from the sample
and per-process memory and the listen queue are unavailable (said so).
"""

from __future__ import annotations

import time

import psutil

from gunicorn_tui.capacity.cpu_limits import read_cpu_capacity, usable_cpus
from gunicorn_tui.capacity.facts import (
    BacklogReading,
    CapacityFacts,
    CpuCapacity,
    ProcessMemory,
    guideline_workers,
)
from gunicorn_tui.capacity.listen_queue import read_listen_backlog
from gunicorn_tui.capacity.process_memory import memory_capacity, read_process_memory
from gunicorn_tui.model.instances import InstanceSample, SamplingMode
from gunicorn_tui.traffic.instance_traffic import TrafficView

_API_ONLY = "sampled through the Docker API only: /proc is not readable here"


def _unread(pid: int | None, reason: str) -> ProcessMemory:
    return ProcessMemory(
        pid, None, None, None, {name: reason for name in ("rss_bytes", "pss_bytes", "uss_bytes")}
    )


def _statsd_backlog(traffic: TrafficView | None) -> BacklogReading | None:
    if traffic is None or traffic.snapshot.backlog is None:
        return None
    return BacklogReading(
        queued_connections=round(traffic.snapshot.backlog),
        limit=None,
        source="statsd",
        listen_sockets=0,
    )


def gather_capacity(sample: InstanceSample, traffic: TrafficView | None = None) -> CapacityFacts:
    """The capacity facts of ``sample`` (``traffic`` supplies StatsD's backlog)."""
    master_pid = sample.master.pid
    local = sample.mode is SamplingMode.PROCFS and master_pid is not None
    if local:
        assert master_pid is not None
        cpu = read_cpu_capacity(master_pid)
        master = read_process_memory(master_pid)
        workers = tuple(
            read_process_memory(w.pid) if w.pid is not None else _unread(None, "no host pid")
            for w in sample.workers
        )
    else:
        limit = sample.totals.cpu_limit_cores
        usable, limited_by = usable_cpus(limit, None, None)
        cpu = CpuCapacity(
            usable,
            limit,
            None,
            None,
            limited_by,
            {} if usable is not None else {"usable_cpus": _API_ONLY},
        )
        master = _unread(master_pid, _API_ONLY)
        workers = tuple(_unread(w.pid, _API_ONLY) for w in sample.workers)
    limit_bytes = sample.totals.memory_limit_bytes
    limit_source = "cgroup"
    if limit_bytes is None and local:
        limit_bytes, limit_source = psutil.virtual_memory().total, "host memory"
    memory = memory_capacity(
        limit_bytes=limit_bytes,
        limit_source=limit_source,
        cgroup_used_bytes=sample.totals.memory_bytes if sample.totals.from_cgroup else None,
        master=master,
        workers=workers,
    )
    backlog = _statsd_backlog(traffic)
    if backlog is None:
        if local:
            assert master_pid is not None
            backlog = read_listen_backlog(master_pid)
        else:
            backlog = BacklogReading(None, None, None, 0, {"queued_connections": _API_ONLY})
    return CapacityFacts(
        key=sample.key,
        taken_at=time.time(),
        cpu=cpu,
        memory=memory,
        backlog=backlog,
        workers_current=len(sample.workers),
        guideline_workers=guideline_workers(cpu.usable_cpus),
    )
