"""Find the Gunicorn master of a container whose processes are this host's."""

from __future__ import annotations

import psutil

from gunicorn_tui.host.host_processes import container_id_of, gunicorn_records
from gunicorn_tui.host.process_tree import find_trees


def find_container_master(container_id: str, main_pid: int | None = None) -> int | None:
    """The host pid of the Gunicorn master in a container (local daemon).

    With several masters, the oldest. ``main_pid`` is preferred when it is one.
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
