"""A control socket path that is a symlink never leads gtui to a socket of the host.

Gunicorn 20 has no control socket; the container plants a symlink where
Gunicorn 25+ would put it (``/root/.gunicorn/gunicorn.ctl``), pointing at an
absolute path. On the host, a listening socket waits at that very path and
records every connection: ``gtui snapshot`` (which looks for the control
socket) must never reach it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.control.helpers import gunicorn_container, run_gtui
from tests.harness.containers import ContainerFactory
from tests.images import tags


@pytest.fixture
def bait() -> Iterator[tuple[Path, list[bytes]]]:
    directory = Path(tempfile.mkdtemp(prefix="gtui-bait-", dir="/tmp"))
    path = directory / "host.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(0.5)
                with contextlib.suppress(OSError):
                    received.append(connection.recv(4096) or b"(connected)")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield path, received
    finally:
        stop.set()
        thread.join(2)
        server.close()
        path.unlink(missing_ok=True)
        directory.rmdir()


def test_a_symlinked_control_socket_path_is_not_followed_to_the_host(
    container_factory: ContainerFactory, bait: tuple[Path, list[bytes]]
) -> None:
    path, received = bait
    container, _ = gunicorn_container(container_factory, tags.GUNICORN_20, "-w", "2")
    planted = container.exec_run(
        ["sh", "-c", f"mkdir -p /root/.gunicorn && ln -s {path} /root/.gunicorn/gunicorn.ctl"]
    )
    assert planted.exit_code == 0, planted.output
    result = run_gtui("snapshot", "--json", container.name or "")
    assert result.returncode == 0, result.stderr
    (instance,) = json.loads(result.stdout)["instances"]
    assert instance["control_socket"] is None
    assert received == [], "gtui connected to a socket of the host"
