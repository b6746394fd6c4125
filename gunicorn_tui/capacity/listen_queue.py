"""The accept queue of the master's listening sockets.

For a socket in LISTEN state, ``/proc/PID/net/tcp`` shows the connections
waiting to be accepted in ``rx_queue`` and the listen backlog limit in
``tx_queue``. Only sockets the master holds count: other servers in the
same network namespace (host networking) have their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gunicorn_tui.capacity.facts import BacklogReading
from gunicorn_tui.host.procfs import PROC, ProcessGone, read_open_files

_LISTEN = "0A"


@dataclass(frozen=True)
class ListenRow:
    """A LISTEN row of a TCP table."""

    inode: int
    local_port: int
    queued: int
    limit: int


def parse_listen_rows(text: str) -> list[ListenRow]:
    """LISTEN rows of a /proc/net/tcp(6) text; malformed rows are skipped."""
    rows = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != _LISTEN:
            continue
        try:
            port = int(fields[1].rsplit(":", 1)[1], 16)
            tx_text, rx_text = fields[4].split(":", 1)
            rows.append(ListenRow(int(fields[9]), port, int(rx_text, 16), int(tx_text, 16)))
        except (ValueError, IndexError):
            continue
    return rows


def backlog_of(rows: Iterable[ListenRow], inodes: frozenset[int]) -> BacklogReading:
    """The queue summed over the rows whose inode the master holds."""
    mine = [row for row in rows if row.inode in inodes]
    if not mine:
        return BacklogReading(
            None,
            None,
            None,
            0,
            {"queued_connections": "the master holds no TCP listening socket (unix socket?)"},
        )
    return BacklogReading(
        queued_connections=sum(row.queued for row in mine),
        limit=sum(row.limit for row in mine),
        source="listen queue",
        listen_sockets=len(mine),
    )


def read_listen_backlog(master_pid: int) -> BacklogReading:
    """The master's accept queue, read through its /proc (host pid)."""
    try:
        inodes = read_open_files(master_pid).socket_inodes
    except ProcessGone:
        return BacklogReading(None, None, None, 0, {"queued_connections": "the master is gone"})
    except PermissionError as error:
        return BacklogReading(
            None, None, None, 0, {"queued_connections": f"descriptors unreadable: {error}"}
        )
    rows: list[ListenRow] = []
    for table in ("tcp", "tcp6"):
        try:
            with open(f"{PROC}/{master_pid}/net/{table}", encoding="ascii", errors="replace") as f:
                rows.extend(parse_listen_rows(f.read()))
        except FileNotFoundError:
            continue  # IPv6 disabled, or the master just left
        except OSError as error:
            return BacklogReading(
                None, None, None, 0, {"queued_connections": f"{table} unreadable: {error}"}
            )
    return backlog_of(rows, inodes)
