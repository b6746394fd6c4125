"""Run a sweep from the dashboard, the way a guided A/B runs from it.

Refused in a read-only session and while an action, an A/B or another
sweep runs. The run is the core's :func:`~gunicorn_tui.sweep.runner.run_sweep`
in a thread worker, sampling through the dashboard's source (its own
sampler waits meanwhile, so the source is never sampled twice at once).
The thread posts messages and never waits for the UI, so the app can wait
for it on exit while a cancelled sweep restores the original config.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App

from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.model.instances import ConfigValue, InstanceSample
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.ui.action_slot import BUSY_NOTICE, ActionSlot
from gunicorn_tui.ui.sweep.messages import SweepFinished, SweepProgressed

# The sweep's code is imported when a sweep is first opened, not before
# the dashboard's first frame (issue 16).
if TYPE_CHECKING:
    from gunicorn_tui.control.engine import ControlEngine
    from gunicorn_tui.load.target import LoadTarget
    from gunicorn_tui.sweep.export import SweepFiles
    from gunicorn_tui.sweep.runner import SweepResult, SweepSettings
    from gunicorn_tui.ui.sweep.sweep_choice import SweepChoice
    from gunicorn_tui.ui.sweep.sweep_screen import SweepScreen

READ_ONLY_NOTICE = "Sweep changes the configuration: refused in a read-only session."

_log = logging.getLogger("gtui.actions")


class SweepLauncher:
    """One sweep at a time for the dashboard ``app``.

    ``frames`` samples the dashboard's source (posting the frame to the UI
    too); ``tracker_of`` gives the dashboard's own epoch tracker of an
    instance, which sees the whole sweep as one change of gtui's;
    ``slot`` is the dashboard's one operation at a time; ``on_change`` is
    called on the UI thread when a sweep starts and ends.
    """

    def __init__(
        self,
        app: App[None],
        engine: ControlEngine | None,
        slot: ActionSlot,
        frames: Callable[[], MonitorFrame],
        tracker_of: Callable[[InstanceSample], EpochTracker | None],
        on_change: Callable[[], None],
        *,
        settings: SweepSettings | None,
        export_dir: Path | None,
        on_persist: Callable[[Mapping[str, ConfigValue] | None], None] | None = None,
    ) -> None:
        self.app = app
        self.engine = engine
        self.slot = slot
        self.frames = frames
        self.tracker_of = tracker_of
        self.on_change = on_change
        self._settings = settings
        self.export_dir = export_dir
        self.on_persist = on_persist
        self.last_result: SweepResult | None = None
        self.last_export: SweepFiles | None = None
        self._cancel: threading.Event | None = None
        self._done = threading.Event()
        self._done.set()

    @property
    def settings(self) -> SweepSettings:
        """The sweep's defaults (given, or the runner's own)."""
        if self._settings is None:
            from gunicorn_tui.compare.interleave import InterleaveSettings
            from gunicorn_tui.sweep.rounds import DEFAULT_SEGMENT_S
            from gunicorn_tui.sweep.runner import SweepSettings

            # Interleaved rounds by default, as ``gtui sweep``.
            self._settings = SweepSettings(
                interleave=InterleaveSettings(segment_s=DEFAULT_SEGMENT_S)
            )
        return self._settings

    @property
    def running(self) -> bool:
        """Whether a sweep's thread runs (until it has restored)."""
        return not self._done.is_set()

    def refusal(self) -> str | None:
        """Why a sweep cannot start now (None: it can)."""
        if self.engine is None or self.engine.read_only:
            return READ_ONLY_NOTICE
        if self.slot.busy:
            return BUSY_NOTICE
        return None

    def _refused(self) -> bool:
        reason = self.refusal()
        if reason is not None:
            self.app.notify(reason, severity="warning")
        return reason is not None

    def open_form(self, sample: InstanceSample) -> None:
        """The Sweep form for ``sample``'s instance; submitting starts it."""
        if self._refused():
            return
        from gunicorn_tui.ui.sweep.sweep_form import SweepForm

        def chosen(choice: SweepChoice | None) -> None:
            if choice is not None:
                self.start(sample, choice)

        self.app.push_screen(SweepForm(sample, self.settings), callback=chosen)

    def start(self, sample: InstanceSample, choice: SweepChoice) -> SweepScreen | None:
        """Run ``choice`` on ``sample``'s instance in a thread, with its screen."""
        if self._refused():
            return None
        assert self.engine is not None
        from gunicorn_tui.load.target import TargetError, target_for_sample
        from gunicorn_tui.ui.sweep.sweep_screen import SweepScreen

        try:
            target = target_for_sample(sample, profile_base_url=choice.profile.base_url)
        except TargetError as error:
            self.app.notify(f"Sweep: {error}", severity="error", timeout=10)
            return None
        if not self.slot.try_begin("a sweep", status="sweep running", samples_source=True):
            return None
        cancel = threading.Event()
        self._cancel = cancel
        self._done.clear()
        rounds = choice.settings(self.settings).interleave
        how = (
            f"{choice.per_config_s:g} s each"
            if rounds is None
            else f"interleaved in rounds, cap {rounds.cap_s:g} s"
        )
        screen = SweepScreen(
            sample.label,
            f"Sweep on {sample.label}: {len(choice.configs)} configs under "
            f"{choice.profile.source}, {how}",
            choice.configs,
            choice.warmup_s,
            cancel,
            self.export,
            on_persist=self.on_persist,
        )
        self.app.push_screen(screen)
        _log.info("sweep on %s: %s", sample.label, ", ".join(c.label for c in choice.configs))
        self.on_change()
        self.app.run_worker(
            lambda: self._run(sample, choice, target, screen, cancel),
            thread=True,
            group="sweep",
            exclusive=False,
        )
        return screen

    def _run(
        self,
        sample: InstanceSample,
        choice: SweepChoice,
        target: LoadTarget,
        screen: SweepScreen,
        cancel: threading.Event,
    ) -> None:
        assert self.engine is not None
        from gunicorn_tui.sweep.runner import SweepProgress, SweepRefused, run_sweep

        engine = self.engine
        result: SweepResult | None = None
        error: str | None = None
        own_tracker = self.tracker_of(sample)
        began = False

        def post(progress: SweepProgress) -> None:
            screen.post_message(SweepProgressed(progress))

        try:
            post(SweepProgress(-1, len(choice.configs), "check", "the classes the server imports"))
            problems = self._server_problems(engine, sample, choice)
            if problems:
                error = "refused, nothing changed: " + "; ".join(problems)
            elif not cancel.is_set():
                if own_tracker is not None:
                    own_tracker.begin_change(f"sweep: {len(choice.configs)} configs")
                    began = True
                result = run_sweep(
                    self.frames,
                    EpochTracker(sample.key, warmup_s=choice.warmup_s),
                    engine,
                    choice.configs,
                    choice.profile,
                    target,
                    settings=choice.settings(self.settings),
                    cancel=cancel,
                    on_progress=post,
                )
            else:
                error = "cancelled before it started: nothing changed"
        except SweepRefused as refused:
            error = f"refused, nothing changed: {refused}"
        except Exception as failure:  # a bug must not leave the dashboard stuck
            error = f"failed: {type(failure).__name__}: {failure}"
        finally:
            if began and own_tracker is not None:
                own_tracker.end_change(note=f"sweep: now {result.config_now}" if result else "")
            self._done.set()
            finished = SweepFinished(result, error)
            if not screen.post_message(finished):
                self.app.post_message(finished)

    def _server_problems(
        self, engine: ControlEngine, sample: InstanceSample, choice: SweepChoice
    ) -> tuple[str, ...]:
        """The grid checked again with what the server's Python imports."""
        from gunicorn_tui.control.engine import ActionRefused
        from gunicorn_tui.control.planning.running_config import running_config
        from gunicorn_tui.control.planning.worker_classes import resolve_worker_class
        from gunicorn_tui.sweep.grid import check_grid

        modules = tuple(
            dict.fromkeys(resolve_worker_class(name).module for name in choice.worker_classes)
        )
        try:
            available = dict(engine.facts(sample, modules).modules)
        except ActionRefused as refused:
            return (f"cannot examine {sample.label}: {refused}",)
        return check_grid(
            choice.workers, choice.worker_classes, choice.threads, running_config(sample), available
        )

    def finished(self, message: SweepFinished) -> None:
        """The sweep ended (UI thread): the dashboard takes over again."""
        self._cancel = None
        self.slot.end()
        _log.info("sweep ended: %s", message.result.status.value if message.result else
                  message.error)  # fmt: skip
        if message.result is not None:
            self.last_result = message.result
        elif message.error:
            self.app.notify(f"Sweep {message.error}", severity="error", timeout=12)
        self.on_change()

    def stop_and_wait(self, timeout_s: float) -> bool:
        """Cancel a running sweep and wait until it restored (app exit)."""
        if self._cancel is not None:
            self._cancel.set()
        return self._done.wait(timeout_s)

    def export(self, screen: SweepScreen) -> SweepFiles | None:
        """Write the screen's result as Markdown and JSON into the export
        directory (``--export-dir``, else the current one); a notice lists them."""
        result = screen.result
        if result is None:
            return None
        from gunicorn_tui.compare.export import ExportError, default_export_directory
        from gunicorn_tui.sweep.export import sweep_stem, write_sweep

        directory = self.export_dir or default_export_directory()
        label = screen.instance_label
        try:
            files = write_sweep(
                result, directory, sweep_stem(label, time.time()), instance_label=label
            )
        except ExportError as error:
            self.app.notify(f"Export failed: {error}", severity="error", timeout=10)
            return None
        self.last_export = files
        self.app.notify("Written:\n" + "\n".join(str(path) for path in files.paths), timeout=12)
        return files
