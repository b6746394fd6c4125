"""Tell a worker's client connections apart from its other sockets.

A sync worker holds a client connection exactly while it serves a request,
so "has a client connection" is the cheapest honest "busy" signal for it
(its heartbeat only moves every timeout/2 when idle). Workers also hold
listeners (shared with the master), statsd sockets and the app's own outbound
connections (databases, caches). A client connection is a TCP socket whose
local port is one the master listens on and which is not itself listening.

The TCP table of a network namespace is read at most once per sample, and
only when a worker holds socket inodes not classified before; inodes are
stable for a connection's lifetime, so steady keep-alive traffic is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from gunicorn_tui.host.procfs import PROC, ProcessGone

_LISTEN = "0A"


@dataclass(frozen=True)
class TcpSocket:
    """One row of /proc/net/tcp or tcp6."""

    inode: int
    local_port: int
    listening: bool


def parse_tcp_table(text: str) -> list[TcpSocket]:
    """Rows of a /proc/net/tcp(6) table; malformed rows are skipped."""
    rows: list[TcpSocket] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            port = int(fields[1].rsplit(":", 1)[1], 16)
            inode = int(fields[9])
        except (ValueError, IndexError):
            continue
        if inode == 0:
            continue
        rows.append(TcpSocket(inode=inode, local_port=port, listening=fields[3] == _LISTEN))
    return rows


def read_tcp_sockets(pid: int) -> dict[int, TcpSocket]:
    """TCP sockets of the network namespace ``pid`` lives in, by inode."""
    sockets: dict[int, TcpSocket] = {}
    for table in ("tcp", "tcp6"):
        try:
            with open(f"{PROC}/{pid}/net/{table}", encoding="ascii", errors="replace") as f:
                text = f.read()
        except FileNotFoundError as error:
            if table == "tcp6":
                continue  # IPv6 disabled
            raise ProcessGone(str(pid)) from error
        for row in parse_tcp_table(text):
            sockets[row.inode] = row
    return sockets


class ClientConnectionCounter:
    """Counts accepted client connections per worker, caching inode verdicts."""

    def __init__(self) -> None:
        self._is_client: dict[int, bool] = {}
        self._listen_ports: frozenset[int] = frozenset()

    @property
    def listen_ports(self) -> frozenset[int]:
        return self._listen_ports

    def learn_listeners(
        self, master_inodes: Iterable[int], load_table: Callable[[], Mapping[int, TcpSocket]]
    ) -> None:
        """Record the ports the master listens on (re-read after a reload).
        ``load_table`` returns this sample's TCP table of the master's
        namespace: masters sharing one (host networking) share one read,
        which on a busy host is thousands of rows."""
        table = load_table()
        ports = {
            table[inode].local_port
            for inode in master_inodes
            if inode in table and table[inode].listening
        }
        self._listen_ports = frozenset(ports)

    def count(
        self,
        worker_inodes: frozenset[int],
        shared_inodes: frozenset[int],
        load_table: Callable[[], Mapping[int, TcpSocket]],
    ) -> int | None:
        """Client connections among ``worker_inodes``, or None when the master
        listens on no TCP port (a unix socket bind: not told apart here).

        ``shared_inodes`` are the master's sockets (listeners and friends),
        never a client connection. ``load_table`` returns this sample's TCP
        table of the namespace; it is called only for inodes not seen before.
        """
        if not self._listen_ports:
            return None
        total = 0
        for inode in worker_inodes - shared_inodes:
            verdict = self._is_client.get(inode)
            if verdict is None:
                row = load_table().get(inode)
                verdict = (
                    row is not None and not row.listening and row.local_port in self._listen_ports
                )
                self._is_client[inode] = verdict
            total += verdict
        return total

    def prune(self, live_inodes: set[int]) -> None:
        """Forget verdicts for sockets no process holds any more."""
        for inode in [inode for inode in self._is_client if inode not in live_inodes]:
            del self._is_client[inode]
