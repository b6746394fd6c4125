"""The advice panel and "prepare this retune", in a tiny host app (the
dashboard's own wiring lives in app.py): hand-made items for the keys, and
a real Gunicorn for the window of frames, the report and the plan."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input, Static

from gunicorn_tui.advice.items import AdviceItem, AdviceKind, Evidence
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.demo.server import DemoServer, start_demo_server
from gunicorn_tui.monitor.monitor import Monitor, MonitorFrame, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.ui.actions.action_runner import ActionRunner
from gunicorn_tui.ui.actions.confirm_screen import ConfirmPlanScreen
from gunicorn_tui.ui.actions.retune_form import RetuneForm, current_text
from gunicorn_tui.ui.advice.advice_screen import AdviceScreen
from gunicorn_tui.ui.advice.open_advice import open_advice, open_prepared_retune

APP_TCSS = Path(__file__).resolve().parents[2] / "gunicorn_tui" / "ui" / "app.tcss"

ITEMS = (
    AdviceItem(
        "workers-vs-cpu",
        AdviceKind.FINE,
        "worker count within the guideline",
        "2 workers for 2 usable CPUs",
        (Evidence("workers", 2), Evidence("usable CPUs", 2.0, "cores")),
    ),
    AdviceItem(
        "io-bound",
        AdviceKind.SUGGESTION,
        "workers wait on I/O: try gthread",
        "busy 95% of the time at 3% CPU",
        (Evidence("busy", 95.0, "%"),),
        RetuneRequest(worker_class="gthread", threads=4),
    ),
)


class Host(App[None]):
    """Stands in for the dashboard: keeps the latest frame, like GtuiApp.frame."""

    CSS_PATH = str(APP_TCSS)

    def __init__(self, monitor: Monitor | None = None) -> None:
        super().__init__()
        self.monitor = monitor
        self.frame: MonitorFrame | None = None
        self.results: list[RetuneRequest | None] = []

    def compose(self) -> ComposeResult:
        yield Static("host")

    def on_mount(self) -> None:
        if self.monitor is not None:
            self.frame = self.monitor.sample()
            self.set_interval(0.5, self._sample)

    def _sample(self) -> None:
        assert self.monitor is not None
        self.frame = self.monitor.sample()


async def wait_for(pilot: Pilot[None], condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s}s")
        await pilot.pause(0.1)


def _text(screen: AdviceScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_the_panel_lists_items_with_evidence_and_prepares_the_highlighted_retune() -> None:
    app = Host()
    async with app.run_test(size=(110, 36)) as pilot:
        app.push_screen(AdviceScreen("local:1", ITEMS, None, label="web"), app.results.append)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AdviceScreen)
        assert "Advice for web" in _text(screen, "#advice-title")
        assert "capacity: not measured" in _text(screen, "#advice-capacity")
        # The first item names no retune: p says so and the panel stays.
        await pilot.press("p")
        await pilot.pause()
        assert app.screen is screen and app.results == []
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.results == [RetuneRequest(worker_class="gthread", threads=4)]
        assert not isinstance(app.screen, AdviceScreen)

        app.push_screen(AdviceScreen("local:1", ITEMS, None), app.results.append)
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.results[-1] is None and not isinstance(app.screen, AdviceScreen)


@pytest.fixture
def demo_server() -> Iterator[DemoServer]:
    server = start_demo_server(workers=2)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
async def test_advice_from_the_hosts_frames_then_a_prepared_retune_is_planned(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"pid:{demo_server.pid}"),),
            use_docker=False,
            statsd_address=None,
        )
    )
    monitor.open()
    engine = ControlEngine(state_directory=tmp_path / "state")
    app = Host(monitor)
    try:
        async with app.run_test(size=(110, 40)) as pilot:
            runner = ActionRunner(app, engine, lambda outcome: None)
            await wait_for(pilot, lambda: app.frame is not None and app.frame.instances, 15,
                           "the server in a frame")  # fmt: skip
            assert app.frame is not None
            sample = app.frame.instances[0]
            open_advice(app, sample, lambda: app.frame, runner, engine, duration_s=3.0)
            await wait_for(pilot, lambda: isinstance(app.screen, AdviceScreen), 30, "the panel")
            screen = app.screen
            assert isinstance(screen, AdviceScreen)
            assert screen.sample_key == sample.key
            rules = {item.rule for item in screen.items}
            assert "workers-vs-cpu" in rules, rules
            assert screen.capacity is not None and screen.capacity.workers_current == 2
            capacity = _text(screen, "#advice-capacity")
            assert "usable CPUs" in capacity and "workers 2" in capacity
            # Several frames made the window, each once (polled every 0.2 s,
            # sampled every 0.5 s: at most about 3 s / 0.5 s + 1 of them).
            samples = int(screen.window_note.split()[0])
            assert 2 <= samples <= 8, screen.window_note
            assert screen.window_note in _text(screen, "#advice-title")
            await pilot.press("escape")
            await pilot.pause()

            # "Prepare this retune": the form opens filled in, and its plan
            # is the engine's real plan for this server.
            open_prepared_retune(app, sample, RetuneRequest(workers=3), runner)
            await wait_for(pilot, lambda: isinstance(app.screen, RetuneForm), 10, "the form")
            await pilot.pause()
            form = app.screen
            assert isinstance(form, RetuneForm)
            assert form.query_one("#field-workers", Input).value == "3"
            for name in ("worker_class", "timeout", "threads"):  # the rest as they run
                assert form.query_one(f"#field-{name}", Input).value == current_text(sample, name)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), 30, "plan")
            plan = app.screen.plan  # type: ignore[attr-defined]
            assert plan.ok and plan.after == {"workers": 3}, plan.refusal
            await pilot.press("escape")
            await pilot.pause()
            assert len(psutil.Process(demo_server.pid).children()) == 2  # nothing ran
    finally:
        monitor.close()
