"""The ``P`` dialog on a real host Gunicorn: the running count against the
gunicorn.conf.py it reads, as a diff; written only on ``y``, read back."""

from __future__ import annotations

import time

from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.requests import parse_scale
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.persist_screen import PersistScreen
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.ui.test_dashboard import wait_frames


async def test_persist_key_shows_the_diff_and_writes_on_y(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start()
    conf = server.runtime_dir / "gunicorn.conf.py"
    conf.write_text("# kept by the team\ntimeout = 30\n")
    monitor = Monitor(
        MonitorOptions(targets=(parse_target(f"pid:{server.pid}"),), use_docker=False)
    )
    monitor.open()
    engine = ControlEngine()
    app = GtuiApp(monitor, refresh_s=0.5, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_frames(pilot, app, 3, timeout_s=30)
        sample = app.selected_sample()
        assert sample is not None
        outcome = engine.execute(engine.plan_scale(sample, parse_scale("=2")))
        assert outcome.ok, outcome.summary()
        deadline = time.monotonic() + 30
        while (app.selected_sample() or sample).workers_target != 2:
            assert time.monotonic() < deadline, "the scale was never sampled"
            await pilot.pause(0.2)

        await pilot.press("P")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PersistScreen)
        deadline = time.monotonic() + 60
        while screen.plan is None:
            assert time.monotonic() < deadline, "no plan"
            await pilot.pause(0.2)
        assert screen.plan.writable, screen.plan
        assert "+workers = 2" in screen.plan.diff()
        assert conf.read_text() == "# kept by the team\ntimeout = 30\n"  # nothing yet
        await pilot.press("y")
        await pilot.pause()
        assert screen.written
        assert conf.read_text() == "# kept by the team\ntimeout = 30\nworkers = 2\n"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PersistScreen)
