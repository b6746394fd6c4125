"""Fixtures for the compare tests: a host Gunicorn whose access log gtui reads
(latency and worker pid in it), and a monitor on it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from tests.harness.local_gunicorn import LocalGunicorn, LocalGunicornFactory

ACCESS_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s'


@pytest.fixture
def logged_gunicorn(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> Callable[..., LocalGunicorn]:
    """Start a sync Gunicorn on 127.0.0.1 with an access log gtui can read."""

    def start(*args: str) -> LocalGunicorn:
        log = tmp_path / f"access-{len(list(tmp_path.glob('access-*')))}.log"
        return local_gunicorn.start(
            "--access-logfile", str(log), "--access-logformat", ACCESS_FORMAT, *args
        )

    return start


def _wait_for_all_workers(monitor: Monitor, timeout_s: float = 20.0) -> None:
    """Serving /health needs one worker; on a busy machine the others boot
    later, and the epoch tracker would rightly take their arrival for a
    change of worker count mid-measurement. Wait until all are up."""
    deadline = time.monotonic() + timeout_s
    seen = "nothing"
    counts: list[int] = []
    while time.monotonic() < deadline:
        instances = monitor.sample().instances
        if instances:
            wanted = instances[0].config.value("workers")
            counts.append(len(instances[0].workers))
            seen = f"{counts[-1]} of {wanted} workers"
            if wanted == counts[-1]:
                return
            # Settings hidden (setproctitle, no control socket): a count
            # that holds for two seconds.
            if wanted is None and counts[-1] and len(set(counts[-10:])) == 1 and len(counts) >= 10:
                return
        time.sleep(0.2)
    raise AssertionError(f"the server did not reach its worker count: {seen}")


@pytest.fixture
def monitor_of() -> Iterator[Callable[[LocalGunicorn], Monitor]]:
    """A monitor (no Docker, no StatsD) on one host server; closed after the test."""
    opened: list[Monitor] = []

    def open_on(server: LocalGunicorn) -> Monitor:
        monitor = Monitor(
            MonitorOptions(
                targets=(parse_target(f"pid:{server.pid}"),), use_docker=False, statsd_address=None
            )
        )
        monitor.open()
        opened.append(monitor)
        _wait_for_all_workers(monitor)
        return monitor

    yield open_on
    for monitor in opened:
        monitor.close()
