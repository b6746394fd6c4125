"""The installed ``gtui`` in a real terminal (tmux) against a real container."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness.containers import ContainerFactory
from tests.harness.docker_access import docker_required
from tests.harness.loopback import free_port
from tests.images import tags

pytestmark = pytest.mark.docker


def installed_gtui() -> str:
    """The console script installed next to this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "gtui"
    if beside.exists():
        return str(beside)
    found = shutil.which("gtui")
    if found is None:
        message = "the gtui console script is not installed (pip install -e .)"
        if docker_required():
            pytest.fail(message)
        pytest.skip(message)
    return found


class Tmux:
    """One tmux server on a private socket, so tests never touch others'."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed") if docker_required() else pytest.skip("no tmux")
        self.socket = f"gtui-test-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=10,
        )

    def screen(self, session: str) -> str:
        return self.run("capture-pane", "-t", session, "-p").stdout

    def wait_for(self, session: str, predicate: Callable[[str], bool], timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        text = ""
        while time.monotonic() < deadline:
            text = self.screen(session)
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"screen never matched within {timeout_s}s:\n{text}")

    def alive(self, session: str) -> bool:
        return self.run("has-session", "-t", session, check=False).returncode == 0

    def close(self) -> None:
        self.run("kill-server", check=False)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    yield server
    server.close()


def test_gtui_in_tmux_shows_a_real_container_and_quits_on_q(
    container_factory: ContainerFactory, tmux: Tmux
) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST, ["gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"]
    )
    container_factory.wait_http(container, port)
    container.reload()
    name = str(container.name)
    # The first worker serves before the second has booted: wait for both.
    deadline = time.monotonic() + 15
    while True:
        top = container.top()
        pids = [row[top["Titles"].index("PID")] for row in top["Processes"]]
        worker_pids = [
            pid for pid, row in zip(pids, top["Processes"], strict=True) if "worker" in row[-1]
        ]
        if len(worker_pids) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(worker_pids) == 2

    command = f"env TERM=xterm-256color {installed_gtui()} {name}"
    tmux.run("new-session", "-d", "-s", "gtui", "-x", "100", "-y", "30", command)
    text = tmux.wait_for(
        "gtui", lambda screen: all(pid in screen for pid in worker_pids), timeout_s=20
    )
    assert name[:22] in text
    assert "sync" in text
    assert "docker ok" in text

    tmux.run("send-keys", "-t", "gtui", "?")
    tmux.wait_for("gtui", lambda screen: "this help" in screen, timeout_s=5)
    tmux.run("send-keys", "-t", "gtui", "Escape")
    tmux.wait_for("gtui", lambda screen: "this help" not in screen, timeout_s=5)

    tmux.run("send-keys", "-t", "gtui", "q")
    deadline = time.monotonic() + 10
    while tmux.alive("gtui") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not tmux.alive("gtui"), "gtui did not exit on q"
