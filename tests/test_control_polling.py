"""What the sampler asks a real Gunicorn's control socket, sample after sample."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.sampling.control_socket import ControlReply, UnixSocketTransport
from tests.harness.local_gunicorn import LocalGunicornFactory


def test_heartbeat_files_spare_the_show_workers_command(
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
        second = monitor.sample()
        third = monitor.sample()

    assert ("show stats", "show workers") in sent_first
    # Every worker's heartbeat came from its file, so later samples ask only
    # for the stats (and nothing else in the same few milliseconds).
    assert sent == [("show stats",), ("show stats",)]
    for frame in (first, second, third):
        (instance,) = frame.instances
        assert instance.workers_target == 2
        assert len(instance.workers) == 2
        for worker in instance.workers:
            assert worker.heartbeat_age_s is not None
            assert "heartbeat_age_s" not in worker.unavailable
