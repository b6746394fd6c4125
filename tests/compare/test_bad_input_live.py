"""Bad input against real servers on 127.0.0.1: the measurement ends,
reports what happened, and never raises for what the server did."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

import pytest

from gunicorn_tui.compare.comparison import compare_epochs
from gunicorn_tui.compare.epochs import ChangeKind, EpochTracker
from gunicorn_tui.compare.measurement import measure_epoch
from gunicorn_tui.compare.summary import summarize
from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.monitor.monitor import Monitor
from tests.harness.local_gunicorn import LocalGunicorn
from tests.harness.loopback import free_port
from tests.load.load_servers import ClosingServer

pytestmark = pytest.mark.slow


def profile(path: str, rate: float = 20, timeout_s: float = 2) -> object:
    return parse_profile_text(
        f"[run]\nrate_rps = {rate}\nduration_s = 1\ntimeout_s = {timeout_s}\nconnections = 8\n"
        f'[[request]]\npath = "{path}"\n',
        source=f"test {path}",
    )


def measure(monitor: Monitor, url: str, path: str, seconds: float = 6.0):  # type: ignore[no-untyped-def]
    return measure_epoch(
        monitor.sample,
        EpochTracker(),
        duration_s=seconds,
        profile=profile(path),  # type: ignore[arg-type]
        target=LoadTarget(url),
        load_warmup_s=1.0,
    )


def test_an_unreachable_url_is_counted_as_client_errors(
    logged_gunicorn: Callable[..., LocalGunicorn], monitor_of: Callable[[LocalGunicorn], Monitor]
) -> None:
    server = logged_gunicorn("-w", "1")
    result = measure(monitor_of(server), f"http://127.0.0.1:{free_port()}", "/fast")
    assert result.run is not None and result.run.completed == 0
    assert result.run.errors.connect_refused == result.run.sent > 0
    summary = summarize(result.epoch, min_measured_s=3)
    assert summary.client_error_rate == 1.0
    assert summary.client_latency_p50_ms is None
    assert summary.requests == 0  # nothing reached the server


def test_tls_to_a_plain_port_is_counted_not_raised(
    logged_gunicorn: Callable[..., LocalGunicorn], monitor_of: Callable[[LocalGunicorn], Monitor]
) -> None:
    server = logged_gunicorn("-w", "1")
    result = measure(monitor_of(server), f"https://127.0.0.1:{server.port}", "/fast")
    assert result.run is not None and result.run.sent > 0 and result.run.completed == 0
    assert result.run.errors.tls + result.run.errors.protocol == result.run.sent
    assert summarize(result.epoch, min_measured_s=3).client_error_rate == 1.0


def test_a_storm_of_5xx_shows_on_both_sides(
    logged_gunicorn: Callable[..., LocalGunicorn], monitor_of: Callable[[LocalGunicorn], Monitor]
) -> None:
    server = logged_gunicorn("-w", "2")
    result = measure(monitor_of(server), server.base_url, "/status/503", seconds=8.0)
    summary = summarize(result.epoch, min_measured_s=3)
    assert summary.requests > 50
    assert summary.error_rate == 1.0  # from Gunicorn's access log
    assert summary.client_error_rate == 1.0
    assert result.run is not None and result.run.errors.http_5xx == result.run.completed


def test_a_server_that_closes_connections(
    logged_gunicorn: Callable[..., LocalGunicorn], monitor_of: Callable[[LocalGunicorn], Monitor]
) -> None:
    server = logged_gunicorn("-w", "1")
    closing = ClosingServer().start()
    try:
        result = measure(monitor_of(server), f"http://127.0.0.1:{closing.port}", "/fast")
    finally:
        closing.stop()
    assert closing.accepted > 0
    assert result.run is not None and result.run.completed == 0
    assert result.run.errors.protocol == result.run.sent > 0
    assert summarize(result.epoch, min_measured_s=3).client_error_rate == 1.0


def test_a_change_mid_measurement_splits_the_epoch(
    logged_gunicorn: Callable[..., LocalGunicorn], monitor_of: Callable[[LocalGunicorn], Monitor]
) -> None:
    server = logged_gunicorn("-w", "1", "--no-control-socket")
    monitor = monitor_of(server)
    tracker = EpochTracker(warmup_s=2)
    # TTIN adds a worker: the count changes and stays.
    timer = threading.Timer(7.0, os.kill, (server.pid, signal.SIGTTIN))
    timer.start()
    try:
        result = measure_epoch(
            monitor.sample,
            tracker,
            duration_s=16.0,
            profile=profile("/fast"),  # type: ignore[arg-type]
            target=LoadTarget(server.base_url),
            load_warmup_s=1.0,
        )
    finally:
        timer.cancel()
    assert result.split
    (change,) = result.changes
    assert change.kind is ChangeKind.WORKER_COUNT and change.detail == "workers 1 -> 2"
    assert result.epoch.config is not None and result.epoch.config.workers == 2
    before, after = tracker.epochs()[-2:]
    assert before.ended_at == after.started_at == change.at
    comparison = compare_epochs(before, after, min_measured_s=3, notes=("split",))
    assert "split" in comparison.notes
    assert comparison.before.config is not None and comparison.before.config.workers == 1


def test_an_epoch_of_two_seconds_has_not_enough_data(
    logged_gunicorn: Callable[..., LocalGunicorn], monitor_of: Callable[[LocalGunicorn], Monitor]
) -> None:
    server = logged_gunicorn("-w", "1")
    monitor = monitor_of(server)
    tracker = EpochTracker(warmup_s=0)
    long = measure_epoch(monitor.sample, tracker, duration_s=12.0, profile=profile("/fast"),  # type: ignore[arg-type]
                         target=LoadTarget(server.base_url), load_warmup_s=0.0)  # fmt: skip
    tracker.mark_change("two seconds", warmup_s=0)
    short = measure_epoch(monitor.sample, tracker, duration_s=2.0, profile=profile("/fast"),  # type: ignore[arg-type]
                          target=LoadTarget(server.base_url), load_warmup_s=0.0)  # fmt: skip
    assert summarize(long.epoch).enough_data
    assert not summarize(short.epoch).enough_data
    comparison = compare_epochs(long.epoch, short.epoch)
    assert not comparison.enough_data
    assert all(m.delta is None for m in comparison.metrics)
    assert any("not enough data" in note for note in comparison.notes)
