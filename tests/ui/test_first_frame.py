"""The dashboard's first frame, sampled by ``gtui``'s start while the UI
starts (issue 16): it has every CPU figure, it is the first one drawn, and
the source is never sampled by the app while it is still being taken."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path

import psutil
import pytest
from textual.pilot import Pilot

from gunicorn_tui.cli.dashboard_commands import (
    PAINT_WAIT_S,
    _after_paint,
    _MonitorOpening,
    _OpeningSource,
)
from gunicorn_tui.cli.effective import apply_settings
from gunicorn_tui.cli.exit_codes import CliError
from gunicorn_tui.cli.first_frame_child import can_fork
from gunicorn_tui.cli.parser import build_parser, parse, with_command_word
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.ui.actions.confirm_screen import ConfirmPlanScreen
from gunicorn_tui.ui.app import FIRST_FRAME_WAIT_S, GtuiApp
from gunicorn_tui.ui.widgets.worker_table import WorkerTable
from gunicorn_tui.user_config.config_file import load_config
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.ui.replay import ReplaySource, frames_from, recorded_instances


async def wait_for(pilot: Pilot[None], condition: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not after {timeout_s}s: {condition}")
        await pilot.pause(0.02)


async def test_the_first_frame_sampled_at_the_start_is_drawn_with_every_cpu_figure(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start("--workers", "3")
    # Every worker booted before the priming sample (a later one has no CPU
    # interval yet in the first frame, here as in any dashboard).
    deadline = time.monotonic() + 20
    while len(psutil.Process(server.pid).children()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    args = parse(build_parser(), with_command_word([f"pid:{server.pid}", "--no-docker"]))
    args.settings = apply_settings(args, load_config(None))
    opening = _MonitorOpening(args)
    monitor = opening.result()
    app = GtuiApp(monitor, refresh_s=10.0, primed=True, first_frame=opening.first_frame)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.frames_seen >= 1)
        first = opening.first_frame.result(timeout=0)
        # The frame drawn first is the one sampled at the start (a CPU
        # interval of FIRST_FRAME_AFTER_S after the priming sample).
        assert app.frame is first
        sample = app.selected_sample()
        assert sample is not None
        children = {p.pid for p in psutil.Process(server.pid).children()}
        assert {w.pid for w in sample.workers} == children
        missing = {w.pid: w.process.unavailable for w in sample.workers
                   if w.process.cpu_percent is None}  # fmt: skip
        assert missing == {}
        assert app.query_one(WorkerTable).row_count == 3


async def test_a_late_first_frame_is_waited_for_before_the_source_is_sampled() -> None:
    frames = frames_from(recorded_instances(), 5)
    source = ReplaySource(frames[1:])
    pending: Future[MonitorFrame] = Future()
    # Later than the app's start waits for it: drawn without it, then shown
    # by the sampler, which samples the source only after it.
    timer = threading.Timer(FIRST_FRAME_WAIT_S + 0.5, pending.set_result, (frames[0],))
    timer.start()
    app = GtuiApp(source, refresh_s=0.5, primed=True, first_frame=pending)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.frames_seen >= 1)
            assert app.frame is frames[0]
            assert source.calls == 0
            await wait_for(pilot, lambda: app.frames_seen >= 2)
            assert source.calls >= 1
    finally:
        timer.cancel()


async def test_a_failed_first_frame_leaves_the_sampling_to_the_app() -> None:
    frames = frames_from(recorded_instances(), 5)
    source = ReplaySource(frames)
    failed: Future[MonitorFrame] = Future()
    failed.set_exception(OSError("Docker went away"))
    app = GtuiApp(source, refresh_s=10.0, primed=True, first_frame=failed)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.frames_seen >= 1)
        assert source.calls == 1
        assert app.frame is frames[0]


async def test_quitting_before_the_first_frame_closes_the_source_after_it() -> None:
    frames = frames_from(recorded_instances(), 5)
    source = ReplaySource(frames)
    pending: Future[MonitorFrame] = Future()
    timer = threading.Timer(FIRST_FRAME_WAIT_S + 0.5, pending.set_result, (frames[0],))
    timer.start()
    app = GtuiApp(source, refresh_s=10.0, primed=True, first_frame=pending)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("q")
        assert pending.done() and source.closed
    finally:
        timer.cancel()


async def test_the_control_engine_is_made_after_the_first_frame_and_then_used(
    tmp_path: Path,
) -> None:
    frames = frames_from(recorded_instances(), 5)
    made_at_frames: list[int] = []

    def make_engine() -> ControlEngine:
        made_at_frames.append(app.frames_seen)
        return ControlEngine(read_only=True, state_directory=tmp_path / "state")

    app = GtuiApp(ReplaySource(frames), refresh_s=10.0, primed=True, engine_factory=make_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: made_at_frames != [])
        assert made_at_frames == [1]
        engine = app.engine
        assert isinstance(engine, ControlEngine) and engine.read_only
        # The actions use it: a read-only session's plan is refused.
        await pilot.press("greater_than_sign")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen))
        screen = app.screen
        assert isinstance(screen, ConfirmPlanScreen)
        assert "read-only" in (screen.plan.refusal or "")
        await pilot.press("escape")
    assert made_at_frames == [1]


async def test_after_the_childs_first_frame_the_app_samples_its_own_monitor(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start("--workers", "2")
    deadline = time.monotonic() + 20
    while len(psutil.Process(server.pid).children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    args = parse(build_parser(), with_command_word([f"pid:{server.pid}", "--no-docker"]))
    args.settings = apply_settings(args, load_config(None))
    if not can_fork():
        pytest.skip("this test process runs other threads: gtui forks before any starts")
    opening = _MonitorOpening(args)
    opening.settle()  # returns once the child primed: the UI starts meanwhile
    opening.first_frame.result(timeout=30)
    assert opening.frame_from_child
    app = GtuiApp(
        _OpeningSource(opening),
        refresh_s=0.5,
        primed=True,
        first_frame=opening.first_frame,
        on_first_frame=lambda _s: _after_paint(app, opening.painted),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.frames_seen >= 3)
        assert opening.result() is not None  # opened after the first paint
        sample = app.selected_sample()
        assert sample is not None
        assert all(w.process.cpu_percent is not None for w in sample.workers)
        assert app.frame is not opening.first_frame.result(timeout=0)
    # The app closed the source: the monitor with it.
    assert opening._monitor is None


def test_quitting_before_the_first_paint_opens_no_monitor_of_this_process(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start("--workers", "1")
    args = parse(build_parser(), with_command_word([f"pid:{server.pid}", "--no-docker"]))
    args.settings = apply_settings(args, load_config(None))
    if not can_fork():
        pytest.skip("this test process runs other threads: gtui forks before any starts")
    opening = _MonitorOpening(args)
    opening.first_frame.result(timeout=30)
    assert opening.frame_from_child
    opening.close()  # before painted(): the app ended
    started = time.monotonic()
    with pytest.raises(CliError, match="ended before its monitor opened"):
        opening.result()
    assert time.monotonic() - started < PAINT_WAIT_S
    assert opening._monitor is None
