"""Run a guided A/B from the dashboard, the way a sweep runs from it.

Refused in a read-only session and while a retune, an A/B or a sweep runs
(the dashboard's :class:`~gunicorn_tui.ui.action_slot.ActionSlot`). The run
is the core's :func:`~gunicorn_tui.compare.guided_ab.run_guided_ab` in a
thread worker, sampling through the dashboard's source (its own sampler
waits meanwhile, so the source is never sampled twice at once), with a
progress dialog; the Compare screen opens on the result.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.app import App

from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.control.running.progress import ActionOutcome
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.ui.action_slot import ActionSlot

# The A/B's code is imported when an A/B is first started, not before the
# dashboard's first frame (issue 16).
if TYPE_CHECKING:
    from gunicorn_tui.compare.guided_ab import AbProgress, AbResult, AbSettings
    from gunicorn_tui.control.engine import ControlEngine
    from gunicorn_tui.control.planning.requests import RetuneRequest
    from gunicorn_tui.load.profile import LoadProfile
    from gunicorn_tui.load.target import LoadTarget
    from gunicorn_tui.ui.actions.retune_form import GuidedAbChoice
    from gunicorn_tui.ui.compare.ab_screen import AbProgressScreen

READ_ONLY_NOTICE = "Guided A/B changes the configuration: refused in a read-only session."

_log = logging.getLogger("gtui.actions")


class AbLauncher:
    """One guided A/B at a time for the dashboard ``app``.

    ``frames`` samples the dashboard's source (posting the frame to the UI
    too); ``tracker_of`` gives the dashboard's own epoch tracker of an
    instance, which sees the A/B's retune as a change of gtui's; ``slot`` is
    the dashboard's one operation at a time. On the UI thread:
    ``on_change`` when an A/B starts and ends, ``on_outcome`` with its
    retune's outcome, ``show_result`` with a result that holds a comparison.
    """

    def __init__(
        self,
        app: App[None],
        engine: ControlEngine | None,
        slot: ActionSlot,
        frames: Callable[[], MonitorFrame],
        tracker_of: Callable[[InstanceSample], EpochTracker | None],
        on_change: Callable[[], None],
        on_outcome: Callable[[ActionOutcome], None],
        show_result: Callable[[InstanceSample, AbResult], None],
        *,
        settings: AbSettings,
    ) -> None:
        self.app = app
        self.engine = engine
        self.slot = slot
        self.frames = frames
        self.tracker_of = tracker_of
        self.on_change = on_change
        self.on_outcome = on_outcome
        self.show_result = show_result
        self.settings = settings
        self.last_result: AbResult | None = None
        self._cancel: threading.Event | None = None

    @property
    def running(self) -> bool:
        """Whether an A/B runs (from its start until the UI took its end)."""
        return self._cancel is not None

    def _refused(self) -> bool:
        if self.engine is None or self.engine.read_only:
            self.app.notify(READ_ONLY_NOTICE, severity="warning")
            return True
        return self.slot.refuse_if_busy()

    def open_form(self, sample: InstanceSample) -> None:
        """The Retune form, as an A/B only, for ``sample``'s instance;
        submitting it starts the A/B."""
        if self._refused():
            return
        from gunicorn_tui.ui.actions.retune_form import GuidedAbChoice, RetuneForm

        def chosen(choice: RetuneRequest | GuidedAbChoice | None) -> None:
            if isinstance(choice, GuidedAbChoice):
                self.start(sample, choice)

        self.app.push_screen(RetuneForm(sample, ab_only=True), callback=chosen)

    def start(self, sample: InstanceSample, choice: GuidedAbChoice) -> None:
        """Run a guided A/B of ``choice`` on ``sample``'s instance in a thread,
        with a progress dialog; the Compare screen opens when it is done."""
        if self._refused():
            return
        assert self.engine is not None
        from gunicorn_tui.load.profile import ProfileError, load_profile_or_builtin
        from gunicorn_tui.load.target import TargetError, target_for_sample
        from gunicorn_tui.ui.compare.ab_screen import AbProgressScreen

        try:
            profile = load_profile_or_builtin(choice.profile)
            target = target_for_sample(sample, profile_base_url=profile.base_url)
        except (ProfileError, TargetError) as error:
            self.app.notify(f"Guided A/B: {error}", severity="error", timeout=10)
            return
        if not self.slot.try_begin("a guided A/B", status="A/B running", samples_source=True):
            return
        cancel = threading.Event()
        self._cancel = cancel
        changes = ", ".join(f"{k}={v}" for k, v in choice.request.changes().items())
        screen = AbProgressScreen(
            f"Guided A/B on {sample.label}: {changes} under {profile.source}", cancel
        )
        self.app.push_screen(screen)
        _log.info("guided A/B on %s: %s under %s", sample.label, changes, profile.source)
        self.on_change()
        self.app.run_worker(
            lambda: self._run(sample, choice, changes, profile, target, screen, cancel),
            thread=True,
            group="guided-ab",
            exclusive=False,
        )

    def _run(
        self,
        sample: InstanceSample,
        choice: GuidedAbChoice,
        changes: str,
        profile: LoadProfile,
        target: LoadTarget,
        screen: AbProgressScreen,
        cancel: threading.Event,
    ) -> None:
        """The A/B, in the worker's thread; its end is handed to the UI."""
        assert self.engine is not None
        from gunicorn_tui.compare.guided_ab import AbStage, run_guided_ab

        engine = self.engine
        settings = self.settings
        ab_tracker = EpochTracker(sample.key, warmup_s=settings.warmup_s)
        own_tracker = self.tracker_of(sample)
        began = False
        result: AbResult | None = None
        error_text = ""

        def progress(report: AbProgress) -> None:
            nonlocal began
            # The dashboard's own epochs see the retune as a change of gtui's.
            changing = report.stage in (AbStage.APPLYING, AbStage.INTERLEAVING)
            if changing and not began and own_tracker is not None:
                own_tracker.begin_change(f"A/B retune: {changes}")
                began = True
            self._from_thread(screen.record, report)

        try:
            result = run_guided_ab(
                self.frames,
                ab_tracker,
                engine,
                choice.request,
                profile,
                target,
                settings=settings,
                cancel=cancel,
                on_progress=progress,
            )
        except Exception as error:  # a bug must not leave the dashboard stuck
            error_text = f"{type(error).__name__}: {error}"
        finally:
            if began and own_tracker is not None:
                note = result.outcome.summary() if result and result.outcome else "A/B ended"
                own_tracker.end_change(note=note)
        self._from_thread(self._finished, screen, sample, result, error_text)

    def _from_thread(self, callback: Callable[..., object], *args: object) -> None:
        # RuntimeError: the app is shutting down; nothing left to show it on.
        with contextlib.suppress(RuntimeError):
            self.app.call_from_thread(callback, *args)

    def _finished(
        self,
        screen: AbProgressScreen,
        sample: InstanceSample,
        result: AbResult | None,
        error_text: str,
    ) -> None:
        """The A/B ended (UI thread): the dashboard takes over again."""
        self._cancel = None
        self.slot.end()
        self.last_result = result
        _log.info("guided A/B ended: %s", f"{result.status.value}: {result.reason}" if result
                  else error_text)  # fmt: skip
        if screen.is_attached and self.app.screen is screen:
            screen.dismiss(None)
        if result is not None and result.outcome is not None:
            self.on_outcome(result.outcome)
        self.on_change()
        if result is None:
            self.app.notify(f"Guided A/B failed: {error_text}", severity="error", timeout=12)
        elif result.comparison is not None:
            self.show_result(sample, result)
        else:
            self.app.notify(
                f"Guided A/B {result.status.value}: {result.reason}. "
                f"Service config now: {result.config_now}",
                severity="warning",
                timeout=12,
            )

    def cancel(self) -> None:
        """Ask a running A/B to stop (the app exits; not waited for)."""
        if self._cancel is not None:
            self._cancel.set()
