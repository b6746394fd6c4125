"""``gtui demo``, the README's first command, in a real terminal (tmux).

It starts a real Gunicorn on 127.0.0.1, opens the dashboard on it and, on
``q``, leaves nothing behind: no server answering on its port, no process of
its group, no runtime directory (its access log holds the demo's requests).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.harness.loopback import free_port
from tests.harness.tmux import Tmux, installed_gtui


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    yield server
    server.close()


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _demo_processes(port: int) -> list[psutil.Process]:
    """The processes holding the demo's listening socket: its master and
    workers (Gunicorn retitles them, so their command line cannot say)."""
    pids = {
        connection.pid
        for connection in psutil.net_connections(kind="tcp")
        if connection.pid is not None
        and connection.status == psutil.CONN_LISTEN
        and connection.laddr
        and connection.laddr.port == port
    }
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            found.append(psutil.Process(pid))
    return found


def test_demo_shows_its_workers_and_quitting_leaves_nothing_behind(
    tmux: Tmux, tmp_path: Path
) -> None:
    port = free_port()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    command = (
        f"env TERM=xterm-256color TMPDIR={scratch} GTUI_STATE_DIR={tmp_path / 'state'} "
        f"{installed_gtui()} demo --workers 2 --port {port}"
    )
    tmux.run("new-session", "-d", "-s", "demo", "-x", "110", "-y", "30", command)
    tmux.wait_for("demo", lambda screen: f"demo http://127.0.0.1:{port}" in screen, timeout_s=30)
    assert _answers(port)
    listening = _demo_processes(port)
    assert len(listening) == 1, listening
    # The socket is the master's, inherited by its workers: either may be named.
    holder = listening[0]
    master = holder if "master" in " ".join(holder.cmdline()) else holder.parent()
    assert master is not None and "master" in " ".join(master.cmdline())
    deadline = time.monotonic() + 15
    while len(master.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    worker_pids = {str(child.pid) for child in master.children()}
    assert len(worker_pids) == 2
    tmux.wait_for("demo", lambda screen: all(pid in screen for pid in worker_pids), timeout_s=20)
    runtime_dirs = [path for path in scratch.iterdir() if path.name.startswith("gtui-demo-")]
    assert len(runtime_dirs) == 1, runtime_dirs
    assert (runtime_dirs[0] / "gunicorn.log").exists()

    tmux.run("send-keys", "-t", "demo", "q")
    deadline = time.monotonic() + 20
    while tmux.alive("demo") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not tmux.alive("demo"), "gtui demo did not exit on q"
    deadline = time.monotonic() + 10
    while (_answers(port) or _demo_processes(port)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _answers(port), "the demo server still answers after quitting"
    assert not _demo_processes(port)
    assert not [pid for pid in worker_pids if psutil.pid_exists(int(pid))]
    assert list(scratch.iterdir()) == [], "the demo left files in TMPDIR"
