"""Find Gunicorn processes among this host's processes.

Only command lines are read for most pids (and only those mentioning
"gunicorn" are decoded), so a full scan of a few hundred processes costs a
few milliseconds; it runs every few seconds, not every sample.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from gunicorn_tui.discovery.process_tree import ProcRecord, is_gunicorn
from gunicorn_tui.sampling.procfs import (
    PROC,
    ProcessGone,
    parse_argv,
    read_cgroup_lines,
    read_cmdline_bytes,
    read_ppid,
)

_CONTAINER_ID = re.compile(r"(?:docker[-/]|/)([0-9a-f]{64})(?:\.scope)?(?:/|$)")


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


def container_id_of(pid: int) -> str | None:
    """The Docker container id a host process belongs to, from its cgroup."""
    try:
        lines = read_cgroup_lines(pid)
    except (ProcessGone, PermissionError, OSError):
        return None
    for line in lines:
        match = _CONTAINER_ID.search(line.split(":", 2)[-1])
        if match:
            return match.group(1)
    return None
