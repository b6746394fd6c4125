"""Capacity facts from data: smaps_rollup, listen rows, CPU limits, memory fit."""

from __future__ import annotations

import pytest

from gunicorn_tui.capacity.cpu_limits import usable_cpus
from gunicorn_tui.capacity.facts import ProcessMemory, guideline_workers
from gunicorn_tui.capacity.listen_queue import backlog_of, parse_listen_rows
from gunicorn_tui.capacity.process_memory import memory_capacity, parse_smaps_rollup

MIB = 1024 * 1024

SMAPS = """55d0c0a00000-7ffd5e5f7000 ---p 00000000 00:00 0                          [rollup]
Rss:               20480 kB
Pss:               10240 kB
Pss_Anon:           8000 kB
Shared_Clean:      10000 kB
Private_Clean:      1024 kB
Private_Dirty:      3072 kB
Swap:                  0 kB
"""

TCP = """  sl  local_address rem_address st tx_queue:rx_queue ... inode
   0: 0100007F:4965 00000000:0000 0A 00000800:00000005 00:00000000 00000000     0        0 111 1 0
   1: 0100007F:1F90 00000000:0000 0A 00000080:00000002 00:00000000 00000000     0        0 222 1 0
   2: 0100007F:4965 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0
   garbage line
"""


def test_smaps_rollup_gives_rss_pss_and_uss() -> None:
    memory = parse_smaps_rollup(SMAPS, pid=7)
    assert (memory.rss_bytes, memory.pss_bytes, memory.uss_bytes) == (
        20480 * 1024,
        10240 * 1024,
        4096 * 1024,
    )
    empty = parse_smaps_rollup("nothing here\n")
    assert empty.uss_bytes is None and "uss_bytes" in empty.unavailable


def test_listen_rows_and_the_masters_queue() -> None:
    rows = parse_listen_rows(TCP)
    assert [(r.inode, r.local_port, r.queued, r.limit) for r in rows] == [
        (111, 0x4965, 5, 0x800),
        (222, 0x1F90, 2, 0x80),
    ]
    mine = backlog_of(rows, frozenset({111, 333}))
    assert (mine.queued_connections, mine.limit, mine.source) == (5, 2048, "listen queue")
    none = backlog_of(rows, frozenset({999}))
    assert none.queued_connections is None and "queued_connections" in none.unavailable


@pytest.mark.parametrize(
    ("quota", "cpuset", "host", "usable", "limited_by"),
    [
        (1.0, 2, 16, 1.0, "quota"),
        (None, 2, 16, 2.0, "cpuset"),
        (None, 16, 16, 16.0, "host"),
        (2.0, 2, 2, 2.0, "host"),
        (0.5, None, None, 0.5, "quota"),
        (None, None, None, None, "unknown"),
    ],
)
def test_usable_cpus_is_the_tightest_limit(
    quota: float | None, cpuset: int | None, host: int | None, usable: float | None, limited_by: str
) -> None:
    assert usable_cpus(quota, cpuset, host) == (usable, limited_by)


@pytest.mark.parametrize(
    ("cpus", "workers"), [(1.0, 3), (2.0, 5), (0.5, 2), (1.5, 4), (None, None)]
)
def test_guideline_is_two_per_cpu_plus_one(cpus: float | None, workers: int | None) -> None:
    assert guideline_workers(cpus) == workers


def _worker(uss_mib: int, pss_mib: int) -> ProcessMemory:
    return ProcessMemory(1, pss_mib * MIB * 2, pss_mib * MIB, uss_mib * MIB)


def test_workers_that_fit_count_private_memory_against_the_limit() -> None:
    master = ProcessMemory(1, 40 * MIB, 30 * MIB, 20 * MIB)
    memory = memory_capacity(
        limit_bytes=512 * MIB,
        limit_source="cgroup",
        cgroup_used_bytes=200 * MIB,
        master=master,
        workers=[_worker(40, 50), _worker(50, 60)],
    )
    # fixed = 200 - 90 = 110 MiB; room = 512 - 51.2 - 110 = 350.8 MiB; 350.8 // 50 = 7
    assert memory.fixed_bytes == 110 * MIB
    assert memory.workers_fit == 7
    assert memory.worker_uss_max_bytes == 50 * MIB


def test_workers_that_fit_say_why_they_are_unknown() -> None:
    master = ProcessMemory(1, None, None, None, {"pss_bytes": "denied"})
    unreadable = ProcessMemory(2, None, None, None, {"uss_bytes": "denied"})
    memory = memory_capacity(
        limit_bytes=None,
        limit_source="cgroup",
        cgroup_used_bytes=None,
        master=master,
        workers=[unreadable],
    )
    assert memory.workers_fit is None
    assert "USS" in memory.unavailable["workers_fit"]
    assert memory.limit_source == "unknown"
