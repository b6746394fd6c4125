"""The dashboard driven with ``run_test``: keys, layout at 80x24, resilience."""

from __future__ import annotations

import asyncio
import time

import psutil
import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from gunicorn_tui.model.instances import WorkerState
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.config_screen import ConfigScreen
from gunicorn_tui.ui.help_screen import HelpScreen
from gunicorn_tui.ui.widgets.instance_table import InstanceTable
from gunicorn_tui.ui.widgets.worker_table import WorkerTable
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.ui.replay import ReplaySource, frames_from, recorded_instances, with_recorded_traffic


async def wait_frames(
    pilot: Pilot[None], app: GtuiApp, count: int, timeout_s: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while app.frames_seen < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {app.frames_seen} frames after {timeout_s}s")
        await pilot.pause(0.05)


def replay_app(refresh_s: float = 10.0, **kwargs: object) -> tuple[GtuiApp, ReplaySource]:
    source = ReplaySource(frames_from(recorded_instances(), 5), **kwargs)  # type: ignore[arg-type]
    return GtuiApp(source, refresh_s=refresh_s), source


async def test_first_frames_fill_instances_header_and_workers() -> None:
    app, _ = replay_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_frames(pilot, app, 2)
        instances = app.query_one(InstanceTable)
        workers = app.query_one(WorkerTable)
        recorded = recorded_instances()
        assert instances.row_count == len(recorded)
        first = app.selected_sample()
        assert first is not None
        assert workers.row_count == len(first.workers)
        # The recording caught the sync server with every worker busy.
        states = {w.state for w in first.workers}
        assert states == {WorkerState.BUSY}
        header = str(app.query_one("#instance-header").render())
        assert first.label in header
        assert "27.0.1" in header


async def test_moving_the_cursor_selects_another_instance() -> None:
    app, _ = replay_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_frames(pilot, app, 2)
        before = app.selected_key
        await pilot.press("down")
        await pilot.pause()
        assert app.selected_key != before
        selected = app.selected_sample()
        assert selected is not None
        assert app.query_one(WorkerTable).row_count == len(selected.workers)


async def test_sort_key_cycles_and_orders_workers_by_cpu() -> None:
    app, _ = replay_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_frames(pilot, app, 2)
        table = app.query_one(WorkerTable)
        assert "sort pid" in str(table.border_title)
        await pilot.press("s")
        assert "sort cpu" in str(table.border_title)
        sample = app.selected_sample()
        assert sample is not None
        expected = [
            str(w.pid) for w in sorted(sample.workers, key=lambda w: -(w.process.cpu_percent or 0))
        ]
        shown = table.row_keys
        assert shown == expected


async def test_filter_narrows_instances_and_escape_clears_it() -> None:
    app, _ = replay_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_frames(pilot, app, 2)
        target = recorded_instances()[1]
        await pilot.press("slash")
        field = app.query_one("#filter", Input)
        assert field.display and field.has_focus
        await pilot.press(*target.container.name)  # type: ignore[union-attr]
        await pilot.pause()
        assert app.query_one(InstanceTable).row_count == 1
        assert app.selected_key == target.key
        # Keys typed into the filter must not trigger actions (s is sort).
        assert "sort pid" in str(app.query_one(WorkerTable).border_title)
        await pilot.press("escape")
        await pilot.pause()
        assert app.filter_text == ""
        assert app.query_one(InstanceTable).row_count == len(recorded_instances())


async def test_pause_stops_sampling_and_resume_restarts_it() -> None:
    app, source = replay_app(refresh_s=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_frames(pilot, app, 3)
        await pilot.press("p")
        assert app.paused
        calls = source.calls
        await pilot.pause(1.5)
        assert source.calls <= calls + 1  # at most the one already in flight
        assert "PAUSED" in str(app.query_one("#status").render())
        await pilot.press("p")
        await wait_frames(pilot, app, app.frames_seen + 2)
        assert source.calls > calls + 1


async def test_plus_and_minus_change_the_refresh_interval() -> None:
    app, _ = replay_app(refresh_s=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("plus")
        assert app.refresh_s == 0.5
        await pilot.press("plus")
        assert app.refresh_s == 0.5  # fastest step
        await pilot.press("minus", "minus", "minus")
        assert app.refresh_s == 5.0
        assert "every 5s" in str(app.query_one("#status").render())


async def test_help_and_config_screens_open_and_close() -> None:
    app, _ = replay_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_frames(pilot, app, 2)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("c")
        assert isinstance(app.screen, ConfigScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, ConfigScreen)


async def test_enter_drills_into_workers_and_escape_goes_back() -> None:
    app, _ = replay_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_frames(pilot, app, 2)
        await pilot.press("enter")
        assert app.query_one(WorkerTable).has_focus
        await pilot.press("escape")
        assert app.query_one(InstanceTable).has_focus


async def test_a_failing_sample_is_reported_and_sampling_goes_on() -> None:
    app, source = replay_app(refresh_s=0.5, fail_at={2})
    async with app.run_test(size=(80, 24)) as pilot:
        deadline = time.monotonic() + 5
        while source.calls < 3 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.1)
        assert "sampling failed" in str(app.query_one("#notices").render())
        await wait_frames(pilot, app, 3)
        assert "sampling failed" not in str(app.query_one("#notices").render())


async def test_q_quits_and_closes_the_source() -> None:
    app, source = replay_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_frames(pilot, app, 2)
        await pilot.press("q")
        await pilot.pause()
    assert source.closed


async def test_live_dashboard_on_a_real_local_gunicorn(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start("--workers", "3")
    monitor = Monitor(
        MonitorOptions(targets=(parse_target(f"pid:{server.pid}"),), use_docker=False)
    )
    monitor.open()
    app = GtuiApp(monitor, refresh_s=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_frames(pilot, app, 3, timeout_s=20)
        sample = app.selected_sample()
        assert sample is not None
        children = {p.pid for p in psutil.Process(server.pid).children()}
        assert {w.pid for w in sample.workers} == children
        table = app.query_one(WorkerTable)
        assert table.row_count == 3
        # The first full frame has CPU figures for every worker.
        assert all(w.process.cpu_percent is not None for w in sample.workers)


@pytest.mark.parametrize(
    ("size", "tab"),
    [
        ((80, 24), "1"),
        ((120, 40), "1"),
        ((80, 24), "2"),
        ((120, 40), "2"),
        ((80, 24), "3"),
        ((80, 24), "4"),
    ],
    ids=[
        "80x24-workers",
        "120x40-workers",
        "80x24-traffic",
        "120x40-traffic",
        "endpoints",
        "events",
    ],
)
def test_dashboard_snapshot(snap_compare: object, size: tuple[int, int], tab: str) -> None:
    frames = with_recorded_traffic(frames_from(recorded_instances(), 5))
    app = GtuiApp(ReplaySource(frames), refresh_s=0.5)

    async def settle(pilot: Pilot[None]) -> None:
        # All five frames, so the graphs have a history; then no more (the
        # status line still says "every 0.5s": only sampling stops).
        await wait_frames(pilot, app, 5)
        app.paused = True
        await pilot.press(tab)
        await asyncio.sleep(0.1)

    assert snap_compare(app, terminal_size=size, run_before=settle)  # type: ignore[operator]


class SlowSource(ReplaySource):
    """Samples that take longer than the refresh interval, like a slow daemon."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(frames_from(recorded_instances(), 3))
        self.delay_s = delay_s
        self.running = 0
        self.max_running = 0

    def sample(self):  # type: ignore[no-untyped-def]
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            time.sleep(self.delay_s)
            return super().sample()
        finally:
            self.running -= 1


async def test_slow_samples_never_pile_up() -> None:
    source = SlowSource(delay_s=0.8)
    app = GtuiApp(source, refresh_s=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(4.0)
        # 4 s of 0.8 s samples: at most 5, one at a time, none queued behind.
        assert source.max_running == 1
        assert 3 <= source.calls <= 6
        assert app.frames_seen >= 3
