"""The processes of a container as ``docker top`` lists them (the Engine API).

Used where a container's pids are not this host's (a remote daemon, Docker
Desktop): by the access layer to find the master, by the API sampler for
each process's figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The ps arguments ``parse_top`` reads.
PS_ARGS = "-eo pid,ppid,etimes,rss,args"


@dataclass(frozen=True)
class TopRow:
    """One process from ``docker top``."""

    pid: int
    ppid: int
    elapsed_s: float
    rss_bytes: int
    argv: tuple[str, ...]


def parse_top(result: Mapping[str, Any]) -> list[TopRow]:
    """Rows of ``docker top`` run with :data:`PS_ARGS`."""
    titles = [str(t).upper() for t in result.get("Titles") or []]
    rows: list[TopRow] = []
    try:
        pid_i, ppid_i = titles.index("PID"), titles.index("PPID")
        elapsed_i, rss_i = titles.index("ELAPSED"), titles.index("RSS")
        args_i = titles.index("COMMAND")
    except ValueError:
        return rows
    for process in result.get("Processes") or []:
        try:
            rows.append(
                TopRow(
                    pid=int(process[pid_i]),
                    ppid=int(process[ppid_i]),
                    elapsed_s=float(process[elapsed_i]),
                    rss_bytes=int(process[rss_i]) * 1024,
                    argv=tuple(str(process[args_i]).split()),
                )
            )
        except (ValueError, IndexError):
            continue
    return rows
