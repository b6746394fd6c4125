"""See a master and its workers during an action: pids and start times.

On a local daemon (or the host) this reads /proc; on a remote daemon it asks
``docker top``. Kept apart from the sampler: an action needs a few exact
facts quickly (are the new workers up?), not CPU figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psutil

from gunicorn_tui.discovery.host_processes import container_id_of, gunicorn_records
from gunicorn_tui.discovery.process_tree import ProcRecord, find_trees
from gunicorn_tui.sampling.api_instance import PS_ARGS, parse_top
from gunicorn_tui.sampling.procfs import ProcessGone, read_children


@dataclass(frozen=True)
class MasterView:
    """A master and its workers at one moment."""

    master_pid: int
    worker_pids: tuple[int, ...]


def observe_local_master(master_pid: int) -> MasterView | None:
    """The master ``master_pid`` on this host and its workers, or None if it is gone."""
    try:
        process = psutil.Process(master_pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    try:
        children = read_children(master_pid)
    except (ProcessGone, FileNotFoundError):
        try:
            children = [child.pid for child in process.children()]
        except psutil.Error:
            return None
    records = gunicorn_records([master_pid, *children])
    trees = [tree for tree in find_trees(records) if tree.master_pid == master_pid]
    workers = trees[0].workers if trees else ()
    return MasterView(master_pid, tuple(workers))


def find_container_master(container_id: str, main_pid: int | None = None) -> int | None:
    """The host pid of the Gunicorn master in a container (local daemon).

    With several masters, the oldest. ``main_pid`` narrows the scan to the
    container's process tree when given.
    """
    records = gunicorn_records()
    masters = [
        tree.master_pid
        for tree in find_trees(records)
        if container_id_of(tree.master_pid) == container_id
    ]
    if not masters:
        return None
    if main_pid and main_pid in masters:
        return main_pid
    ordered = []
    for pid in masters:
        try:
            ordered.append((psutil.Process(pid).create_time(), pid))
        except psutil.Error:
            continue
    return min(ordered)[1] if ordered else None


def observe_container_api(client: Any, container_id: str) -> MasterView | None:
    """The first Gunicorn master in a container, through ``docker top``."""
    try:
        result = client.api.top(container_id, ps_args=PS_ARGS)
    except Exception:
        return None
    rows = parse_top(result)
    trees = find_trees(ProcRecord(row.pid, row.ppid, row.argv) for row in rows)
    if not trees:
        return None
    tree = trees[0]
    return MasterView(tree.master_pid, tuple(tree.workers))
