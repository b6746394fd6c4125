"""Per-process memory from ``smaps_rollup``, and the workers that fit."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from gunicorn_tui.capacity.facts import (
    MEMORY_RESERVE_FRACTION,
    MemoryCapacity,
    ProcessMemory,
)
from gunicorn_tui.host.procfs import PROC

_USS_FIELDS = ("Private_Clean", "Private_Dirty", "Private_Hugetlb")


def parse_smaps_rollup(text: str, pid: int | None = None) -> ProcessMemory:
    """RSS, PSS and USS of one ``smaps_rollup`` text (kB lines)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        words = rest.split()
        if len(words) >= 1 and words[0].isdigit():
            values[name.strip()] = int(words[0]) * 1024
    unavailable: dict[str, str] = {}
    rss = values.get("Rss")
    pss = values.get("Pss")
    if rss is None:
        unavailable["rss_bytes"] = "no Rss line in smaps_rollup"
    if pss is None:
        unavailable["pss_bytes"] = "no Pss line in smaps_rollup"
    uss: int | None = None
    if "Private_Clean" in values or "Private_Dirty" in values:
        uss = sum(values.get(name, 0) for name in _USS_FIELDS)
    else:
        unavailable["uss_bytes"] = "no Private_* lines in smaps_rollup"
    return ProcessMemory(pid, rss, pss, uss, unavailable)


def read_process_memory(pid: int) -> ProcessMemory:
    """Memory of host pid ``pid`` (all None with the reason when unreadable)."""
    try:
        with open(f"{PROC}/{pid}/smaps_rollup", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except (OSError, ProcessLookupError) as error:
        reason = f"smaps_rollup unreadable: {error.strerror or error}"
        return ProcessMemory(
            pid,
            None,
            None,
            None,
            {name: reason for name in ("rss_bytes", "pss_bytes", "uss_bytes")},
        )
    return parse_smaps_rollup(text, pid)


def memory_capacity(
    *,
    limit_bytes: int | None,
    limit_source: str,
    cgroup_used_bytes: int | None,
    master: ProcessMemory,
    workers: Sequence[ProcessMemory],
    reserve_fraction: float = MEMORY_RESERVE_FRACTION,
) -> MemoryCapacity:
    """How many workers fit below ``limit_bytes`` (see :class:`MemoryCapacity`).

    The memory that stays whatever the worker count (``fixed_bytes``) is the
    cgroup's usage less the workers' private memory; without a cgroup it is
    the master's PSS plus the workers' shared share (PSS minus USS).
    """
    unavailable: dict[str, str] = {}
    worker_uss = [w.uss_bytes for w in workers if w.uss_bytes is not None]
    uss_max = max(worker_uss) if worker_uss else None
    uss_median = int(statistics.median(worker_uss)) if worker_uss else None
    complete = len(worker_uss) == len(workers) and bool(workers)
    used = cgroup_used_bytes
    fixed: int | None = None
    if complete and used is not None:
        fixed = max(0, used - sum(worker_uss))
    elif complete and master.pss_bytes is not None:
        shared = [
            (w.pss_bytes or 0) - (w.uss_bytes or 0) for w in workers if w.pss_bytes is not None
        ]
        fixed = master.pss_bytes + sum(max(0, s) for s in shared)
        if used is None:
            used = master.pss_bytes + sum(w.pss_bytes or 0 for w in workers)
    if not workers:
        unavailable["workers_fit"] = "no workers to measure"
    elif not complete:
        unavailable["workers_fit"] = "the USS of some workers could not be read"
    elif fixed is None:
        unavailable["workers_fit"] = "the master's memory could not be read"
    if limit_bytes is None:
        unavailable["limit_bytes"] = "no memory limit could be read"
        unavailable.setdefault("workers_fit", "no memory limit to count against")
    reserve = int(limit_bytes * reserve_fraction) if limit_bytes is not None else None
    fit: int | None = None
    if "workers_fit" not in unavailable and limit_bytes is not None and uss_max:
        assert fixed is not None and reserve is not None
        fit = max(0, (limit_bytes - reserve - fixed) // uss_max)
    elif "workers_fit" not in unavailable:
        unavailable["workers_fit"] = "workers hold no private memory yet"
    return MemoryCapacity(
        limit_bytes=limit_bytes,
        limit_source=limit_source if limit_bytes is not None else "unknown",
        used_bytes=used,
        master=master,
        workers=tuple(workers),
        worker_uss_max_bytes=uss_max,
        worker_uss_median_bytes=uss_median,
        fixed_bytes=fixed,
        reserve_bytes=reserve,
        workers_fit=fit,
        unavailable=unavailable,
    )
