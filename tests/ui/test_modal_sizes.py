"""Every modal and screen fits 80x24 and stays usable at 200x60: nothing that
does not wrap is cut (a button label, a checkbox, a one-line label), every
button is on the screen, and a form longer than the terminal scrolls.

Each is also kept as a snapshot at both sizes (``--snapshot-update`` to
accept a deliberate change after looking at it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label

from gunicorn_tui.advice.items import AdviceItem, AdviceKind, Evidence
from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.control.planning.plan import (
    ActionKind,
    PlanStep,
    PlanTarget,
    RetunePlan,
    SendSignal,
    SignalRoute,
    Strategy,
)
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.model.instances import InstanceSample, Source
from gunicorn_tui.persist.drift import SettingDrift
from gunicorn_tui.persist.plan import PersistKind, PersistPlan
from gunicorn_tui.sweep.grid import SweepConfig
from gunicorn_tui.sweep.runner import SweepSettings
from gunicorn_tui.ui.actions.confirm_screen import ConfirmPlanScreen
from gunicorn_tui.ui.actions.progress_screen import ActionProgressScreen
from gunicorn_tui.ui.actions.retune_form import RetuneForm
from gunicorn_tui.ui.advice.advice_screen import AdviceScreen
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.compare.ab_screen import AbProgressScreen
from gunicorn_tui.ui.compare.compare_screen import CompareScreen
from gunicorn_tui.ui.config_screen import ConfigScreen
from gunicorn_tui.ui.help_screen import HelpScreen
from gunicorn_tui.ui.persist_screen import PersistScreen
from gunicorn_tui.ui.stack_screen import StackScreen
from gunicorn_tui.ui.sweep import sweep_screen as sweep_screen_module
from gunicorn_tui.ui.sweep.sweep_form import SweepForm
from gunicorn_tui.ui.sweep.sweep_screen import SweepScreen
from tests.ui.replay import ReplaySource, frames_from, recorded_instances

SIZES = [(80, 24), (200, 60)]


def _local_sample() -> InstanceSample:
    # A host master: the Retune form then shows its "may restart" choice too.
    return replace(recorded_instances()[0], source=Source.LOCAL)


def _plan(sample: InstanceSample) -> RetunePlan:
    target = PlanTarget(sample.key, sample.label, sample.source, sample.key, sample.master.pid or 1)
    steps = tuple(
        PlanStep(
            f"add worker {n} of 4 through the master (TTIN), then wait for it to serve",
            SendSignal("TTIN", SignalRoute.HOST, sample.master.pid),
        )
        for n in range(1, 5)
    )
    return RetunePlan(ActionKind.SCALE, target, Strategy.SIGNALS, steps, {"workers": 2},
                      {"workers": 6})  # fmt: skip


ADVICE = (
    AdviceItem(
        "io-bound",
        AdviceKind.SUGGESTION,
        "workers wait on I/O: try gthread with 4 threads per worker",
        "busy 95% of the time at 3% CPU: more concurrency per worker would help",
        (Evidence("busy", 95.0, "%"), Evidence("cpu", 3.0, "%")),
        RetuneRequest(worker_class="gthread", threads=4),
    ),
)


class _StillSweepScreen(SweepScreen):
    """Its elapsed clock stays at 0:00, so the picture does not depend on the moment."""

    CSS_PATH = str(Path(sweep_screen_module.__file__).parent / "sweep.tcss")

    def _tick(self) -> None:
        return None


def _modals() -> dict[str, Callable[[InstanceSample], Screen[Any]]]:
    configs = (SweepConfig(2, "sync", None), SweepConfig(4, "gthread", 4))
    return {
        "retune": lambda s: RetuneForm(s),
        "retune-ab-only": lambda s: RetuneForm(s, ab_only=True),
        "confirm": lambda s: ConfirmPlanScreen(f"Workers +4 on {s.label}", _plan(s)),
        "progress": lambda s: ActionProgressScreen(f"Workers +4 on {s.label}", _plan(s)),
        "ab-progress": lambda s: AbProgressScreen(
            f"Guided A/B on {s.label}: workers=4 under built-in:mixed", threading.Event()
        ),
        "config": lambda s: ConfigScreen(s),
        "help": lambda s: HelpScreen(),
        "advice": lambda s: AdviceScreen(s.key, ADVICE, None, label=s.label),
        "sweep-form": lambda s: SweepForm(s, SweepSettings()),
        "sweep": lambda s: _StillSweepScreen(
            s.label,
            f"Sweep on {s.label}: 2 configs under built-in:mixed, 25 s each",
            configs,
            5.0,
            threading.Event(),
            lambda screen: None,
        ),
        "compare": lambda s: CompareScreen(s.label, EpochTracker(s.key)),
        "stack": lambda s: StackScreen(s.workers[0].pid or 1, s.label, take=False),
        "persist": lambda s: PersistScreen(f"Persist {s.label}", lambda: _PERSIST_PLAN),
    }


_COMPOSE_OLD = (
    "services:\n  web:\n    image: shop/web:1.4\n"
    '    command: ["gunicorn", "-b", "0.0.0.0:8000", "-w", "2", "app:app"]\n'
)
_PERSIST_PLAN = PersistPlan(
    "shop/web",
    PersistKind.COMPOSE_FILE,
    (SettingDrift("workers", 4, 2), SettingDrift("timeout", 45, 30)),
    "/srv/shop/docker-compose.yml",
    _COMPOSE_OLD,
    _COMPOSE_OLD.replace('"-w", "2"', '"--timeout", "45", "-w", "4"'),
)

MODALS = sorted(_modals())


def _app(sample: InstanceSample) -> GtuiApp:
    frames = frames_from((sample, *recorded_instances()[1:]), 3)
    return GtuiApp(ReplaySource(frames), refresh_s=0.5)


async def _open(pilot: Pilot[None], app: GtuiApp, name: str, sample: InstanceSample) -> None:
    while app.frames_seen < 2:
        await pilot.pause(0.05)
    app.paused = True
    app.push_screen(_modals()[name](sample))
    # Settled: mounted, validated, animations (a button's disabled state) done;
    # generous, as a loaded machine is slow to get there.
    await pilot.pause(0.5)
    # A blinking cursor would make the picture depend on the moment.
    for field in app.screen.query(Input):
        field.cursor_blink = False
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.3)
    await asyncio.sleep(0.1)


def _cut(widget: Widget, screen: Screen[Any]) -> str | None:
    """Why ``widget`` is not fully shown, or None."""
    region = widget.region
    if region.width == 0 or region.height == 0:
        return "not shown"
    if not screen.region.contains_region(region):
        return f"outside the screen ({region})"
    if isinstance(widget, Button):
        needed = cell_len(str(widget.label)) + 2  # + its border
        if region.width < needed:
            return f"label {str(widget.label)!r} needs {needed} columns, has {region.width}"
    elif isinstance(widget, Checkbox):
        needed = cell_len(str(widget.label)) + 4  # the box and its margins
        if widget.content_region.width < needed - 2:
            return f"label {str(widget.label)!r} cut to {widget.content_region.width} columns"
    elif isinstance(widget, Label) and not isinstance(widget, Input):
        text = str(widget.render())
        if "\n" not in text and widget.content_region.width < cell_len(text):
            return f"label {text!r} cut to {widget.content_region.width} columns"
    return None


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", MODALS)
async def test_nothing_is_cut_and_every_button_is_on_screen(
    name: str, size: tuple[int, int]
) -> None:
    sample = _local_sample()
    app = _app(sample)
    async with app.run_test(size=size) as pilot:
        await _open(pilot, app, name, sample)
        screen = app.screen
        assert type(screen).__name__ != "Screen", "the modal did not open"
        problems = {
            f"{type(w).__name__}#{w.id}": why
            for w in screen.query("Button, Checkbox, Label")
            if w.display and (why := _cut(w, screen)) is not None
        }
        assert problems == {}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", MODALS)
def test_modal_snapshot(snap_compare: object, name: str, size: tuple[int, int]) -> None:
    sample = _local_sample()
    app = _app(sample)

    async def run_before(pilot: Pilot[None]) -> None:
        await _open(pilot, app, name, sample)

    assert snap_compare(app, terminal_size=size, run_before=run_before)  # type: ignore[operator]
