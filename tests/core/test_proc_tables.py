"""Parsing /proc/net/tcp and cpuset lists, with text captured on this machine.

``data/proc_net_tcp.txt`` is /proc/<master>/net/tcp of a host Gunicorn
(2 sync workers, port 40061) while one worker served a slow request: the
header, the first rows as they came, and every row of the server's port.
The socket inodes of master and workers were read from /proc/<pid>/fd at
the same moment.

``data/cgroup_v1`` and ``data/cgroup_v2`` hold the cgroup files a sample reads
(see the test for where they come from).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

import gunicorn_tui.sampling.tcp_table as tcp_table
from gunicorn_tui.host.cgroup import (
    CgroupPaths,
    CgroupReading,
    count_cpus,
    find_cgroup_paths,
    read_cgroup,
)
from gunicorn_tui.host.procfs import ProcessGone
from gunicorn_tui.sampling.tcp_table import (
    ClientConnectionCounter,
    TcpSocket,
    parse_tcp_table,
    read_tcp_sockets,
)
from tests.core.data_files import data_path, read_text

LISTEN_PORT = 40061
MASTER_INODES = frozenset({100027, 100028, 100029, 100828})
LISTENER_INODE = 100828
IDLE_WORKER_INODES = frozenset({100828})
BUSY_WORKER_INODES = frozenset({100030, 100828})
CLIENT_INODE = 100030
# The other end of the connection, held by the HTTP client, not the server.
CLIENT_SIDE_INODE = 100832


def _table() -> dict[int, TcpSocket]:
    return {row.inode: row for row in parse_tcp_table(read_text("proc_net_tcp.txt"))}


def test_parse_tcp_table_reads_rows_and_skips_sockets_without_inode() -> None:
    text = read_text("proc_net_tcp.txt")
    rows = parse_tcp_table(text)
    data_lines = text.splitlines()[1:]
    without_inode = [line for line in data_lines if line.split()[9] == "0"]
    assert without_inode, "the capture holds a TIME_WAIT row (inode 0)"
    assert len(rows) == len(data_lines) - len(without_inode)

    table = {row.inode: row for row in rows}
    assert table[LISTENER_INODE] == TcpSocket(LISTENER_INODE, LISTEN_PORT, listening=True)
    assert table[CLIENT_INODE] == TcpSocket(CLIENT_INODE, LISTEN_PORT, listening=False)
    assert table[CLIENT_SIDE_INODE].local_port != LISTEN_PORT
    # 0100007F:07E8 is 0.0.0.0:2024 listening on every address.
    assert any(row.local_port == 2024 and row.listening for row in rows)


def test_parse_tcp_table_skips_malformed_rows() -> None:
    header, first, *_ = read_text("proc_net_tcp.txt").splitlines()
    text = "\n".join(
        [
            header,
            first,
            "   1: garbage",
            "   2: 0100007F:ZZZZ 00000000:0000 0A 0:0 0:0 0 0 0 123 1",
            "   3: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 notanumber 1",
            "",
        ]
    )
    assert [row.inode for row in parse_tcp_table(text)] == [int(first.split()[9])]


def _fake_proc(root: Path, pid: int, tcp: str, tcp6: str | None) -> None:
    net = root / str(pid) / "net"
    net.mkdir(parents=True)
    (net / "tcp").write_text(tcp)
    if tcp6 is not None:
        (net / "tcp6").write_text(tcp6)


def test_client_connections_of_each_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The captured table laid out as /proc/<pid>/net/tcp of a master whose
    # kernel has IPv6 disabled (no tcp6 file).
    _fake_proc(tmp_path, 31053, read_text("proc_net_tcp.txt"), None)
    monkeypatch.setattr(tcp_table, "PROC", str(tmp_path))

    assert set(read_tcp_sockets(31053)) == set(_table())
    counter = ClientConnectionCounter()
    counter.learn_listeners(MASTER_INODES, lambda: read_tcp_sockets(31053))
    assert counter.listen_ports == frozenset({LISTEN_PORT})

    loads: list[int] = []

    def load() -> Mapping[int, TcpSocket]:
        loads.append(1)
        return _table()

    assert counter.count(BUSY_WORKER_INODES, MASTER_INODES, load) == 1
    assert counter.count(IDLE_WORKER_INODES, MASTER_INODES, load) == 0
    # Verdicts are cached per inode: the table is read once for the new inode.
    assert counter.count(BUSY_WORKER_INODES, MASTER_INODES, load) == 1
    assert len(loads) == 1
    # A socket of the app's own (the client side of some other connection)
    # is not a client connection of the server.
    assert counter.count(frozenset({CLIENT_SIDE_INODE}), MASTER_INODES, load) == 0

    counter.prune({LISTENER_INODE})
    assert counter.count(BUSY_WORKER_INODES, MASTER_INODES, load) == 1
    assert len(loads) == 3


def test_no_tcp_listener_means_no_connection_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A master bound to a unix socket holds no TCP listener.
    header = read_text("proc_net_tcp.txt").splitlines()[0]
    _fake_proc(tmp_path, 7, header + "\n", header + "\n")
    monkeypatch.setattr(tcp_table, "PROC", str(tmp_path))
    counter = ClientConnectionCounter()
    counter.learn_listeners(MASTER_INODES, lambda: read_tcp_sockets(7))
    assert counter.count(BUSY_WORKER_INODES, MASTER_INODES, _table) is None


@pytest.mark.parametrize(
    ("cpu_list", "expected"),
    [
        ("0-1\n", 2),
        ("0", 1),
        ("0-3,6", 5),
        ("0,2-3,8-11", 7),
        ("", 0),
        ("\n", 0),
    ],
)
def test_count_cpus(cpu_list: str, expected: int) -> None:
    assert count_cpus(cpu_list) == expected


def test_count_cpus_of_our_own_cgroup_matches_the_cpus_we_may_use() -> None:
    paths = find_cgroup_paths(os.getpid())
    if paths is None or paths.cpuset_dir is None:
        pytest.skip("this process's cgroup has no cpuset controller here")
    name = "cpuset.effective_cpus" if paths.version == 1 else "cpuset.cpus.effective"
    cpu_list = Path(paths.cpuset_dir, name).read_text()
    assert count_cpus(cpu_list) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("version", "cpu_ns", "memory_bytes"),
    [
        # v1: a real container's files, total_inactive_file and inactive_file
        # edited to differ (the container had none): the hierarchical total
        # is the one docker stats subtracts.
        (1, 485_058_674, 47_271_936 - 1_048_576),
        # v2: written by hand in the kernel's format (this host runs v1);
        # usage_usec is microseconds, the first key of cpu.stat.
        (2, 1_234_567_000, 52_428_800 - 2_097_152),
    ],
)
def test_read_cgroup_from_data_files(version: int, cpu_ns: int, memory_bytes: int) -> None:
    directory = str(data_path(f"cgroup_v{version}"))
    paths = CgroupPaths(version, directory, directory, None, None, f"{directory}/cgroup.procs")
    assert read_cgroup(paths) == CgroupReading(cpu_usage_ns=cpu_ns, memory_bytes=memory_bytes)


def test_read_cgroup_of_a_removed_cgroup_is_gone(tmp_path: Path) -> None:
    directory = str(tmp_path / "gone")
    paths = CgroupPaths(2, directory, directory, None, None, f"{directory}/cgroup.procs")
    with pytest.raises(ProcessGone):
        read_cgroup(paths)
