"""Plan, confirm and run an action from the dashboard, off the UI thread.

Planning gathers facts (a probe inside the container can take a second) and
running can take up to a minute, so both happen in thread workers; the UI
shows the plan for confirmation, then each step as it completes, then the
outcome with the disruption measured during the action.

An action that changes the configuration starts a new epoch of its
instance (its warm-up lasts until the action is over, then the tracker's
warm-up), so the graphs mark it and the Compare screen has a before and an
after; a change seen happening meanwhile belongs to it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from textual.app import App

from gunicorn_tui.compare.epochs import EpochRegistry
from gunicorn_tui.control.engine import ActionRefused, ControlEngine, EngineUnavailable
from gunicorn_tui.control.planning.fact_gathering import FactsUnavailable
from gunicorn_tui.control.planning.plan import RetunePlan
from gunicorn_tui.control.planning.requests import NO_CONSENT, Consent, RequestError, with_consents
from gunicorn_tui.control.running.interrupt import Interrupt
from gunicorn_tui.control.running.progress import ActionOutcome, ProgressEvent
from gunicorn_tui.ui.action_slot import ActionSlot
from gunicorn_tui.ui.actions.confirm_screen import ConfirmPlanScreen
from gunicorn_tui.ui.actions.progress_screen import ActionProgressScreen

_log = logging.getLogger("gtui.actions")

PlanMaker = Callable[[ControlEngine], RetunePlan]
OutcomeCallback = Callable[[ActionOutcome], None]

_USER_ERRORS = (ActionRefused, EngineUnavailable, FactsUnavailable, RequestError)


class ActionRunner:
    """Retunes and other actions, through ``slot`` (the dashboard's one
    operation at a time; a slot of its own when none is given): a request
    while the slot is held is refused."""

    def __init__(
        self,
        app: App[None],
        engine: ControlEngine | None,
        on_outcome: OutcomeCallback,
        epochs: EpochRegistry | None = None,
        slot: ActionSlot | None = None,
    ) -> None:
        self.app = app
        self.engine = engine
        self.on_outcome = on_outcome
        self.epochs = epochs
        self.slot = slot or ActionSlot(lambda text: app.notify(text, severity="warning"))
        self._interrupt: Interrupt | None = None
        self._finished = threading.Event()
        self._finished.set()
        # Set when the app exits: the worker no longer posts to the UI (the UI
        # thread is waiting for it).
        self._detached = threading.Event()

    def request(
        self,
        title: str,
        make_plan: PlanMaker,
        changes_key: str | None = None,
        consent: Consent = NO_CONSENT,
    ) -> None:
        """Plan in a thread, then ask for confirmation, then run.

        ``changes_key``: the instance whose configuration the action changes
        (a new epoch is marked there when it runs); None for actions that
        change no configuration (killing a worker)."""
        if self.engine is None:
            self.app.notify("Actions are not available in this session.", severity="warning")
            return
        # Held from planning to the end; it changes a server once confirmed.
        if not self.slot.try_begin(title, changing=False):
            return
        self.app.notify(f"{title}: planning…", timeout=3)
        engine = self.engine if consent == NO_CONSENT else self.engine.with_consent(consent)

        def plan_in_thread() -> None:
            try:
                plan = make_plan(engine)
            except _USER_ERRORS as error:
                self.app.call_from_thread(self._failed, f"{title}: {error}")
                return
            except Exception as error:  # never let a bug take the dashboard down
                self.app.call_from_thread(
                    self._failed, f"{title}: planning failed: {type(error).__name__}: {error}"
                )
                return
            self.app.call_from_thread(self._confirm, title, plan, changes_key, make_plan, consent)

        self.app.run_worker(plan_in_thread, thread=True, group="action", exclusive=False)

    def _failed(self, message: str) -> None:
        self.slot.end()
        self.app.notify(message, severity="error", timeout=8)

    def _confirm(
        self,
        title: str,
        plan: RetunePlan,
        changes_key: str | None,
        make_plan: PlanMaker,
        consent: Consent,
    ) -> None:
        def decided(run: bool | tuple[str, ...] | None) -> None:
            if isinstance(run, tuple):
                # Allowed explicitly what the plan was refused for: plan again.
                self.slot.end()
                self.request(title, make_plan, changes_key, with_consents(consent, run))
            elif run:
                self._execute(title, plan, changes_key)
            else:
                self.slot.end()

        self.app.push_screen(ConfirmPlanScreen(title, plan), callback=decided)

    def stop_and_wait(self, timeout_s: float) -> bool:
        """Interrupt a running plan (it finishes or rolls back its step) and wait
        until it is over; True when nothing runs any more."""
        self._detached.set()
        if self._interrupt is not None:
            self._interrupt.request("quit")
        return self._finished.wait(timeout_s)

    def _execute(self, title: str, plan: RetunePlan, changes_key: str | None) -> None:
        assert self.engine is not None
        engine = self.engine
        interrupt = Interrupt()
        self._interrupt = interrupt
        self.slot.now_changing()
        self._finished.clear()
        progress = ActionProgressScreen(title, plan)
        self.app.push_screen(progress)
        tracker = (
            self.epochs.tracker(changes_key)
            if self.epochs is not None and changes_key is not None
            else None
        )

        _log.info("%s: plan: %s", title, " | ".join(plan.describe()))

        def post(event: ProgressEvent) -> None:
            _log.info("%s: %s", title, event)
            self._post(progress.record, event)

        def run_in_thread() -> None:
            if tracker is not None:
                tracker.begin_change(title)
            note = f"{title}: did not finish"
            try:
                outcome = engine.execute(plan, on_event=post, interrupt=interrupt)
                note = outcome.summary()
            except _USER_ERRORS as error:
                note = f"{title}: refused: {error}"
                self._post(self._refused, progress, f"{error}")
                return
            except Exception as error:
                note = f"{title}: failed: {type(error).__name__}: {error}"
                self._post(self._refused, progress, f"failed: {type(error).__name__}: {error}")
                return
            finally:
                _log.info("%s", note)
                if tracker is not None:
                    tracker.end_change(note=note)
                self._interrupt = None
                self._finished.set()
            self._post(self._done, progress, outcome)

        self.app.run_worker(run_in_thread, thread=True, group="action", exclusive=False)

    def _post(self, callback: Callable[..., object], *args: object) -> None:
        if self._detached.is_set():
            return
        # RuntimeError: the app is exiting (quit during the action).
        with contextlib.suppress(RuntimeError):
            self.app.call_from_thread(callback, *args)

    def _refused(self, progress: ActionProgressScreen, message: str) -> None:
        self.slot.end()
        progress.fail(message)

    def _done(self, progress: ActionProgressScreen, outcome: ActionOutcome) -> None:
        self.slot.end()
        progress.finish(outcome)
        self.on_outcome(outcome)
