"""The JSON form of capacity facts (the ``capacity`` object of a snapshot)."""

from __future__ import annotations

from typing import Any

from gunicorn_tui.capacity.facts import (
    BacklogReading,
    CapacityFacts,
    CpuCapacity,
    MemoryCapacity,
    ProcessMemory,
)


def _cpu(cpu: CpuCapacity) -> dict[str, Any]:
    return {
        "usable_cpus": cpu.usable_cpus,
        "quota_cores": cpu.quota_cores,
        "cpuset_cpus": cpu.cpuset_cpus,
        "host_cpus": cpu.host_cpus,
        "limited_by": cpu.limited_by,
        "unavailable": dict(cpu.unavailable),
    }


def _process(memory: ProcessMemory) -> dict[str, Any]:
    return {
        "pid": memory.pid,
        "rss_bytes": memory.rss_bytes,
        "pss_bytes": memory.pss_bytes,
        "uss_bytes": memory.uss_bytes,
        "unavailable": dict(memory.unavailable),
    }


def _memory(memory: MemoryCapacity) -> dict[str, Any]:
    return {
        "limit_bytes": memory.limit_bytes,
        "limit_source": memory.limit_source,
        "used_bytes": memory.used_bytes,
        "master": _process(memory.master),
        "workers": [_process(worker) for worker in memory.workers],
        "worker_uss_max_bytes": memory.worker_uss_max_bytes,
        "worker_uss_median_bytes": memory.worker_uss_median_bytes,
        "fixed_bytes": memory.fixed_bytes,
        "reserve_bytes": memory.reserve_bytes,
        "workers_fit": memory.workers_fit,
        "unavailable": dict(memory.unavailable),
    }


def _backlog(backlog: BacklogReading) -> dict[str, Any]:
    return {
        "queued_connections": backlog.queued_connections,
        "limit": backlog.limit,
        "source": backlog.source,
        "listen_sockets": backlog.listen_sockets,
        "unavailable": dict(backlog.unavailable),
    }


def capacity_json(facts: CapacityFacts) -> dict[str, Any]:
    """One instance's capacity as documented in the README."""
    return {
        "cpu": _cpu(facts.cpu),
        "memory": _memory(facts.memory),
        "backlog": _backlog(facts.backlog),
        "workers_current": facts.workers_current,
        "guideline_workers": facts.guideline_workers,
    }
