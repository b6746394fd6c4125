"""The installed ``gtui`` in a real terminal (tmux) against a real container."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator

import pytest

from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.harness.tmux import Tmux, installed_gtui
from tests.images import tags

pytestmark = pytest.mark.docker


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


def _get_raw(port: int, path: str) -> None:
    """GET ``path`` exactly as given (percent-escapes included), any status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        connection.getresponse().read()
    finally:
        connection.close()


def test_escape_sequences_from_a_server_are_shown_not_sent_to_the_terminal(
    container_factory: ContainerFactory, tmux: Tmux
) -> None:
    # OSC 52 asks the terminal to set the clipboard (tmux keeps it as a paste
    # buffer when set-clipboard is on); OSC 2 sets the window title. Both
    # come from the server: its process title (-n) and a request path
    # (%(U)s is percent-decoded, so %1b is an ESC in the log line). A
    # container name cannot carry them: Docker refuses such names.
    clipboard = "\x1b]52;c;Z3R1aQ==\x07"
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "-w", "1", "-n", f"app{clipboard}\x1b]2;pwned\x07", "--access-logfile", "-",
         "--access-logformat", '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(D)s',
         "-b", f"127.0.0.1:{port}", "app:app"],
    )  # fmt: skip
    container_factory.wait_http(container, port)
    name = str(container.name)

    command = f"env TERM=xterm-256color {installed_gtui()} {name}"
    tmux.run("new-session", "-d", "-s", "gtui", "-x", "120", "-y", "35", command)
    tmux.run("set-option", "-g", "set-clipboard", "on")
    title = tmux.run("display-message", "-p", "-t", "gtui", "#{pane_title}").stdout
    tmux.wait_for("gtui", lambda screen: "docker ok" in screen and name[:22] in screen, 20)

    tmux.run("send-keys", "-t", "gtui", "3")  # Endpoints
    tmux.wait_for("gtui", lambda screen: "Meth" in screen, timeout_s=5)
    deadline = time.monotonic() + 20
    while True:  # the log stream is followed from when gtui attached
        _get_raw(port, "/x%1b]52;c;Z3R1aQ==%07")
        screen = tmux.screen("gtui")
        if "/x\\x1b]52;c;Z3R1aQ==" in screen or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "/x\\x1b]52;c;Z3R1aQ==" in screen, screen

    tmux.run("send-keys", "-t", "gtui", "c")  # Configuration: proc_name, near the end
    tmux.wait_for("gtui", lambda screen: "worker_class" in screen, timeout_s=5)
    tmux.run("send-keys", "-t", "gtui", "PageDown", "PageDown")
    screen = tmux.wait_for("gtui", lambda screen: "proc_name" in screen, timeout_s=5)
    (row,) = [line for line in screen.splitlines() if "proc_name" in line]
    assert "app\\x1b]52;c;Z3R1aQ==\\x07\\x1b]2;pwned" in row, screen
    tmux.run("send-keys", "-t", "gtui", "Escape")

    # Nothing reached the terminal as a sequence: no clipboard, no title.
    assert tmux.run("list-buffers").stdout == ""
    assert tmux.run("display-message", "-p", "-t", "gtui", "#{pane_title}").stdout == title
    tmux.run("send-keys", "-t", "gtui", "q")
