"""What the sampler asks a real Gunicorn's control socket, sample after sample."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence

import pytest

from gunicorn_tui.access.control_socket import ControlReply, UnixSocketTransport
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from tests.harness.local_gunicorn import LocalGunicornFactory


def test_the_control_socket_is_asked_only_what_the_files_cannot_tell(
    local_gunicorn: LocalGunicornFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A spy on the real transport: every command still reaches the server.
    sent: list[tuple[str, ...]] = []
    real_request = UnixSocketTransport.request

    def recorded(self: UnixSocketTransport, commands: Sequence[str]) -> list[ControlReply]:
        sent.append(tuple(commands))
        return real_request(self, commands)

    monkeypatch.setattr(UnixSocketTransport, "request", recorded)
    server = local_gunicorn.start("--workers", "2")
    # The sampler looks for the socket once every 10 s: let it be there.
    deadline = time.monotonic() + 10.0
    while not server.control_socket_path.exists():
        assert time.monotonic() < deadline, "no control socket after 10 s"
        time.sleep(0.05)
    options = MonitorOptions(
        targets=(parse_target(f"pid:{server.pid}"),), use_docker=False, probe_versions=False
    )
    with Monitor(options) as monitor:
        first = monitor.sample()
        sent_first = list(sent)
        sent.clear()
        quiet = [monitor.sample(), monitor.sample()]
        sent_quiet = list(sent)
        sent.clear()
        os.kill(server.pid, signal.SIGTTIN)  # one more worker, target 3
        deadline = time.monotonic() + 15.0
        while len((grown := monitor.sample()).instances[0].workers) < 3:
            assert time.monotonic() < deadline, "no third worker after TTIN"
            time.sleep(0.2)

    # The connection that finds the socket asks all the first sample needs.
    assert sent_first == [("show stats", "show workers", "show config")]
    # Every worker's heartbeat came from its file and no worker came or went:
    # nothing to ask within the poll interval.
    assert sent_quiet == []
    # A new worker makes the sampler ask at once, and the target is fresh.
    assert ("show stats",) in sent
    assert ("show stats", "show workers") not in sent
    assert grown.instances[0].workers_target == 3
    for frame in (first, *quiet):
        (instance,) = frame.instances
        assert instance.workers_target == 2
        assert len(instance.workers) == 2
        for worker in instance.workers:
            assert worker.heartbeat_age_s is not None
            assert "heartbeat_age_s" not in worker.unavailable
