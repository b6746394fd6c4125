"""Open the advice panel from the dashboard, and the Retune form prepared
from an item. The app keeps its own bindings; these do the rest."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from textual.app import App
from textual.worker import get_current_worker

from gunicorn_tui.advice.collect import AdviceReport
from gunicorn_tui.advice.latest_frames import LatestFrame, advise_from_latest
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.ui.actions.action_runner import ActionRunner
from gunicorn_tui.ui.actions.retune_form import GuidedAbChoice, RetuneForm
from gunicorn_tui.ui.advice.advice_screen import AdviceScreen

# Long enough for a few frames at the dashboard's slowest usual refresh (2 s),
# short enough to wait for with the panel's notice on screen.
ADVICE_WINDOW_S = 8.0

# Runs a guided A/B of the choice on the instance (the dashboard's launcher).
GuidedAbStarter = Callable[[InstanceSample, GuidedAbChoice], None]


def open_prepared_retune(
    app: App[None],
    sample: InstanceSample,
    request: RetuneRequest,
    runner: ActionRunner,
    on_guided_ab: GuidedAbStarter | None = None,
) -> None:
    """Open the Retune form filled with ``request``; submitting it plans,
    confirms and runs through ``runner`` like the Retune key does; ctrl+b
    runs it as a guided A/B through ``on_guided_ab`` (the dashboard's)."""

    def planned(final: RetuneRequest | GuidedAbChoice | None) -> None:
        if isinstance(final, GuidedAbChoice):
            if on_guided_ab is not None:
                on_guided_ab(sample, final)
            else:
                app.notify("Guided A/B needs the dashboard.", severity="warning")
        elif final is not None:
            runner.request(
                f"Retune {sample.label}",
                lambda engine: engine.plan_retune(sample, final),
                changes_key=sample.key,
            )

    app.push_screen(RetuneForm(sample, prepared=request), callback=planned)


def report_note(report: AdviceReport) -> str:
    """What the advice was made from, for the panel's title."""
    observation = report.observation
    return f"{observation.samples} samples over {observation.window_s:.0f} s"


def open_advice(
    app: App[None],
    sample: InstanceSample,
    latest_frame: LatestFrame,
    runner: ActionRunner,
    engine: ControlEngine | None,
    *,
    duration_s: float = ADVICE_WINDOW_S,
    on_guided_ab: GuidedAbStarter | None = None,
) -> None:
    """Watch the app's frames for ``duration_s`` in a thread, then show the
    advice for ``sample``'s instance; a prepared retune opens the Retune form.

    ``latest_frame`` returns the frame the app drew last (the app keeps
    sampling meanwhile). ``engine`` probes which async classes the server
    can import; without it that is reported unknown. ``on_guided_ab`` runs
    a guided A/B chosen in that form (ctrl+b).
    """
    app.notify(f"Advice: watching {sample.label} for {duration_s:g} s…", timeout=duration_s)

    def probe(found: InstanceSample, modules: tuple[str, ...]) -> Mapping[str, bool]:
        assert engine is not None
        return engine.facts(found, modules).modules

    def observe() -> None:
        worker = get_current_worker()
        stop = threading.Event()

        def latest() -> MonitorFrame | None:
            if worker.is_cancelled:  # the app is closing: stop watching
                stop.set()
            return latest_frame()

        report = advise_from_latest(
            latest,
            sample.key,
            duration_s=duration_s,
            probe_classes=probe if engine is not None else None,
            stop=stop,
        )
        if not worker.is_cancelled:
            app.call_from_thread(show, report)

    def show(report: AdviceReport | None) -> None:
        if report is None:
            app.notify(f"Advice: {sample.label} was not seen.", severity="warning")
            return

        def prepared(request: RetuneRequest | None) -> None:
            if request is not None:
                open_prepared_retune(app, report.sample, request, runner, on_guided_ab)

        app.push_screen(
            AdviceScreen(
                report.sample.key,
                report.items,
                report.capacity,
                label=report.sample.label,
                window_note=report_note(report),
            ),
            callback=prepared,
        )

    app.run_worker(observe, thread=True, group="advice", exclusive=True, name="advice")
