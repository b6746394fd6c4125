"""One operation at a time: a retune, a guided A/B and a sweep share the
dashboard's ActionSlot, so each is refused with the same notice while
another holds it (no server needed: the launchers refuse before planning)."""

from __future__ import annotations

from pathlib import Path

from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.ui.action_slot import BUSY_NOTICE, ActionSlot
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.compare.compare_screen import CompareScreen
from gunicorn_tui.ui.sweep.sweep_form import SweepForm
from tests.ui.replay import ReplaySource, frames_from, recorded_instances
from tests.ui.test_dashboard import wait_frames


def test_the_slot_is_held_by_one_and_says_what_holds_it() -> None:
    said: list[str] = []
    slot = ActionSlot(said.append)
    assert not slot.busy and slot.running_label is None and slot.status == ""
    assert slot.try_begin("Retune web-1", changing=False)
    # Planned, not yet confirmed: held, but quitting need not ask.
    assert slot.busy and slot.running_label == "Retune web-1"
    assert slot.changing_label is None and not slot.lends_sampling
    assert not slot.try_begin("a sweep", status="sweep running", samples_source=True)
    assert said == [BUSY_NOTICE] and slot.running_label == "Retune web-1"
    slot.now_changing()
    assert slot.changing_label == "Retune web-1"
    slot.end()
    assert not slot.busy and slot.changing_label is None and not slot.refuse_if_busy()
    assert slot.try_begin("a guided A/B", status="A/B running", samples_source=True)
    assert slot.lends_sampling and slot.status == "A/B running"
    assert slot.changing_label == "a guided A/B"
    assert said == [BUSY_NOTICE]


async def test_retune_ab_and_sweep_are_refused_alike_while_the_slot_is_held(
    tmp_path: Path,
) -> None:
    engine = ControlEngine(state_directory=tmp_path / "state")
    source = ReplaySource(frames_from(recorded_instances(), 3))
    app = GtuiApp(source, refresh_s=10.0, engine=engine)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_frames(pilot, app, 2)
        assert app.slot.try_begin("Retune elsewhere", changing=False)

        def busy_notices() -> int:
            return sum(1 for n in app._notifications if n.message == BUSY_NOTICE)

        screens = len(app.screen_stack)
        await pilot.press("w")  # a sweep
        await pilot.pause(0.1)
        assert busy_notices() == 1 and len(app.screen_stack) == screens
        await pilot.press("R")  # an action (reload)
        await pilot.pause(0.1)
        assert busy_notices() == 2 and len(app.screen_stack) == screens
        await pilot.press("m")  # Compare, then its guided A/B
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        await pilot.press("a")
        await pilot.pause(0.1)
        assert busy_notices() == 3 and app.screen is screen
        assert not app.ab.running and not app.sampling_lent
        assert app.slot.running_label == "Retune elsewhere"
        await pilot.press("escape")
        app.slot.end()
        await pilot.press("w")  # free again: the sweep's form opens
        await pilot.pause(0.1)
        assert busy_notices() == 3 and isinstance(app.screen, SweepForm)
