"""The dashboard: a Textual app over the headless monitor.

Sampling runs in a thread worker; when a frame arrives the next sample is
scheduled with a one-shot timer, so a slow Docker or /proc never makes
samples pile up. Tables are updated cell by cell.

Every frame also feeds an :class:`~gunicorn_tui.compare.epochs.EpochRegistry`
(in the thread that sampled it), so each instance's configuration changes,
from gtui's actions or from outside, start epochs: marked on the graphs,
compared on the Compare screen (``C``), exported from there.

The app composes; long operations run in launchers of their own, made on
first use: retunes and other actions (:mod:`gunicorn_tui.ui.actions.action_runner`),
a guided A/B (:mod:`gunicorn_tui.ui.compare.ab_launcher`) and a sweep
(``w``, :mod:`gunicorn_tui.ui.sweep.launcher`), one at a time through the
app's :class:`~gunicorn_tui.ui.action_slot.ActionSlot`. A guided A/B or a
sweep samples through the same path while it runs, with the dashboard's own
sampler paused, so the source is never sampled by two threads at once.
The app reads its frames through a
:class:`~gunicorn_tui.ui.frame_source.FrameSource` (the monitor, a replay).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, wait
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.theme import Theme
from textual.timer import Timer
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from gunicorn_tui.compare.epochs import DEFAULT_WARMUP_S, EpochChange, EpochRegistry, EpochTracker
from gunicorn_tui.model.instances import ConfigValue, InstanceSample
from gunicorn_tui.model.service_groups import SERVICE_KEY_PREFIX, group_instances
from gunicorn_tui.monitor.history import HistoryStore
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.output.escape import escape_controls
from gunicorn_tui.persist.source_watch import SourceDriftWatch
from gunicorn_tui.traffic.guidance import traffic_guidance
from gunicorn_tui.traffic.instance_traffic import TrafficView
from gunicorn_tui.ui.action_slot import ActionSlot
from gunicorn_tui.ui.frame_source import FrameSource
from gunicorn_tui.ui.messages import FrameSampled, SamplingFailed
from gunicorn_tui.ui.sweep.messages import SweepFinished
from gunicorn_tui.ui.terminal_output import compressing_driver
from gunicorn_tui.ui.widgets.endpoint_table import EndpointTable
from gunicorn_tui.ui.widgets.events_panel import EventsPanel
from gunicorn_tui.ui.widgets.instance_header import InstanceHeader
from gunicorn_tui.ui.widgets.instance_table import InstanceTable, instance_matches, worker_matches
from gunicorn_tui.ui.widgets.row_table import RowTable
from gunicorn_tui.ui.widgets.safe_text import SafeStatic
from gunicorn_tui.ui.widgets.static_text import show_text
from gunicorn_tui.ui.widgets.summary_graphs import SummaryGraphs
from gunicorn_tui.ui.widgets.traffic_panel import TrafficPanel
from gunicorn_tui.ui.widgets.worker_table import SORT_ORDERS, WorkerTable

REFRESH_STEPS_S = (0.5, 1.0, 2.0, 5.0, 10.0)
# The first frame primes CPU counters; the second, this soon after, is the
# first complete one.
PRIMING_DELAY_S = 0.35
# How long the app's start waits for a first frame sampled elsewhere
# (``first_frame``) before it draws without it.
FIRST_FRAME_WAIT_S = 0.2
# On exit during a sweep: long enough for a retune under way and the restore.
SWEEP_EXIT_WAIT_S = 120.0
# A retune's rollback can take a container stop, a start and a wait.
ACTION_EXIT_WAIT_S = 120.0


# What only actions, Compare, a guided A/B or Persist use is imported when
# first used (below), not before the first frame (issue 16).
if TYPE_CHECKING:
    from gunicorn_tui.compare.export import ExportedFiles
    from gunicorn_tui.compare.guided_ab import AbResult, AbSettings
    from gunicorn_tui.control.engine import ControlEngine
    from gunicorn_tui.control.planning.facts import RetuneFacts
    from gunicorn_tui.control.planning.requests import RetuneRequest
    from gunicorn_tui.control.running.progress import ActionOutcome
    from gunicorn_tui.recording.session_file import SessionRecorder
    from gunicorn_tui.sweep.runner import SweepSettings
    from gunicorn_tui.ui.actions.action_runner import ActionRunner
    from gunicorn_tui.ui.actions.retune_form import GuidedAbChoice
    from gunicorn_tui.ui.compare.ab_launcher import AbLauncher
    from gunicorn_tui.ui.compare.compare_screen import CompareScreen
    from gunicorn_tui.ui.sweep.launcher import SweepLauncher


def _ab_lines(result: AbResult) -> tuple[str, ...]:
    """What a guided A/B adds to its export: the change and how it went."""
    lines = [f"guided A/B: {', '.join(f'{k}={v}' for k, v in result.request.changes().items())}"]
    if result.outcome is not None:
        lines.append(f"retune: {result.outcome.summary()}")
    return tuple(lines)


# Bindings the palette does not list: navigation, and what it has itself.
_NOT_IN_PALETTE = frozenset({"go_back", "quit"} | {f"show_tab('tab-{t}')" for t in
                            ("workers", "traffic", "endpoints", "events")})  # fmt: skip
_PALETTE_HELP = {
    "help": "keys and what the dashboard shows",
    "filter": "filter instances and workers",
    "sort": "sort workers: pid, cpu, memory, state, age, heartbeat",
    "show_config": "configuration of the selected instance and where each value comes from",
    "compare": "two epochs of the selected instance side by side",
    "pause": "pause or resume sampling",
    "step": "while paused: one sample (in a replay, the next recorded frame)",
    "seek(-1)": "replay: back one frame",
    "seek(-10)": "replay: back ten frames",
    "seek(10)": "replay: forward ten frames",
    "faster": "sample more often",
    "slower": "sample less often",
    "retune": "change settings of the selected instance (plan, confirm)",
    "scale('+1')": "one worker more",
    "scale('-1')": "one worker less",
    "reload": "graceful reload (HUP)",
    "kill_worker": "stop the worker under the cursor; the master replaces it",
    "dump_stack": "the Python stack of the worker under the cursor (py-spy)",
    "revert": "back to the configuration before the last retune",
    "advice": "watch the selected instance and advise",
    "sweep": "try a grid of configs under load and rank them",
}


def _nearest_step(refresh_s: float) -> int:
    return min(range(len(REFRESH_STEPS_S)), key=lambda i: abs(REFRESH_STEPS_S[i] - refresh_s))


class GtuiApp(App[None]):
    """The gtui dashboard."""

    CSS_PATH = "app.tcss"
    TITLE = "gtui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", id="help"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("s", "sort", "Sort", show=False, id="sort"),
        Binding("c", "show_config", "Config", id="config"),
        Binding("C,m", "compare", "Compare", id="compare"),
        Binding("1", "show_tab('tab-workers')", "Workers", show=False, id="tab.workers"),
        Binding("2", "show_tab('tab-traffic')", "Traffic", show=False, id="tab.traffic"),
        Binding("3", "show_tab('tab-endpoints')", "Endpoints", show=False, id="tab.endpoints"),
        Binding("4", "show_tab('tab-events')", "Events", show=False, id="tab.events"),
        Binding("p", "pause", "Pause", show=False, id="pause"),
        Binding("full_stop", "step", "Step", show=False, id="step"),
        # A replay's time cursor: back one frame, back / forward ten.
        Binding("comma", "seek(-1)", "Back", show=False, id="replay.back"),
        Binding("left_square_bracket", "seek(-10)", "Back 10", show=False, id="replay.back10"),
        Binding("right_square_bracket", "seek(10)", "Forward 10", show=False, id="replay.fwd10"),
        # Shown in the help screen and the status line ("every 1s"); the
        # footer keeps room for retune and quit at 80 columns.
        Binding("plus,equals_sign", "faster", "Faster", show=False, id="faster"),
        Binding("minus", "slower", "Slower", show=False, id="slower"),
        Binding("t", "retune", "Retune", id="action.retune"),
        Binding("greater_than_sign", "scale('+1')", "+Worker", show=False, id="action.add"),
        Binding("less_than_sign", "scale('-1')", "-Worker", show=False, id="action.remove"),
        Binding("R", "reload", "Reload", show=False, id="action.reload"),
        Binding("k", "kill_worker", "Kill worker", show=False, id="action.kill"),
        Binding("d", "dump_stack", "Stack", show=False, id="inspect.stack"),
        Binding("u", "revert", "Revert", show=False, id="action.revert"),
        Binding("a", "advice", "Advice", id="action.advice"),
        # In the help screen; the footer has no room for it at 80 columns.
        Binding("w", "sweep", "Sweep", show=False, id="action.sweep"),
        Binding("P", "persist", "Persist", show=False, id="action.persist"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("escape", "go_back", "Back", show=False, id="back"),
    ]

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for this terminal, writing fewer bytes
        (see :mod:`gunicorn_tui.ui.terminal_output`)."""
        return compressing_driver(super().get_driver_class())

    def __init__(
        self,
        source: FrameSource,
        refresh_s: float = 1.0,
        subtitle: str = "",
        on_first_frame: Callable[[float], None] | None = None,
        engine: ControlEngine | None = None,
        *,
        warmup_s: float = DEFAULT_WARMUP_S,
        export_dir: Path | None = None,
        ab_settings: AbSettings | None = None,
        sweep_settings: SweepSettings | None = None,
        primed: bool = False,
        theme: str | None = None,
        on_theme_change: Callable[[str], None] | None = None,
        recorder: SessionRecorder | None = None,
        epochs: EpochRegistry | None = None,
        first_frame: Future[MonitorFrame] | None = None,
        engine_factory: Callable[[], ControlEngine] | None = None,
    ) -> None:
        """``primed``: the source has already been sampled once (CPU figures
        need two samples), so the first frame drawn is a full one.
        ``theme``: the theme to start with (from the config file);
        ``on_theme_change`` keeps the one chosen in the command palette.
        ``recorder`` keeps every frame, change mark and action outcome
        (``gtui --record``); ``epochs``: a registry to use (a replay's).
        ``first_frame``: the source's first frame, being sampled elsewhere
        (``gtui``'s start samples it while the UI starts): shown as soon as
        it is there, and waited for before the source is sampled here.
        ``engine_factory``: makes the control engine (in place of ``engine``)
        when it is first needed, or in a thread after the first paint: its
        code is not needed to draw the first frame."""
        super().__init__(ansi_color=True)
        self._start_theme = theme
        self._on_theme_change = on_theme_change
        self.source = source
        self._engine = engine
        self._engine_factory = engine_factory if engine is None else None
        self._engine_lock = threading.Lock()
        # Compose containers running a config their file does not hold.
        self._source_watch = (
            SourceDriftWatch(self._facts)
            if engine is not None or engine_factory is not None
            else None
        )
        self.recorder = recorder
        self.epochs = epochs or EpochRegistry(
            warmup_s=warmup_s, mark_listener=recorder.mark if recorder is not None else None
        )
        self.warmup_s = warmup_s
        self.export_dir = export_dir
        self._ab_settings = ab_settings
        # One retune, guided A/B or sweep at a time, whichever starts it.
        self.slot = ActionSlot(self._warn)
        # Made on first use (their code is not needed for the first frame).
        self._actions: ActionRunner | None = None
        self._ab: AbLauncher | None = None
        self._sweeps: SweepLauncher | None = None
        self._sweep_settings = sweep_settings
        self.last_export: ExportedFiles | None = None
        # The source is sampled by the sampler thread or a guided A/B's, never both.
        self._source_lock = threading.Lock()
        self.last_outcome: ActionOutcome | None = None
        self._refresh_index = _nearest_step(refresh_s)
        self.refresh_s = REFRESH_STEPS_S[self._refresh_index]
        self.paused = False
        self.subtitle_text = subtitle
        self.history = HistoryStore()
        self.frame: MonitorFrame | None = None
        self.frames_seen = 0
        # Frames before the first one with CPU figures (a priming sample).
        self._priming_frames = 0 if primed else 1
        self._first_frame = first_frame
        # Kept after it is taken: the source is not closed while it is sampled.
        self._first_frame_sampling = first_frame
        self.selected_key: str | None = None
        self.filter_text = ""
        self._sort_index = 0
        self._timer: Timer | None = None
        self._sampling = False
        self._last_error: str | None = None
        self._notices: list[str] = []
        self._on_first_frame = on_first_frame
        self._started = time.monotonic()
        self._first_seen: dict[str, float] = {}

    # -- layout ---------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A notification whose text is shown as it is: messages carry error
        strings and names from the servers, so never markup (``markup`` is
        ignored) and never a raw control character."""
        super().notify(
            escape_controls(message, keep_newlines=True),
            title=escape_controls(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def compose(self) -> ComposeResult:
        yield SafeStatic(id="status")
        yield InstanceTable(id="instances")
        yield InstanceHeader(id="instance-header")
        yield SummaryGraphs(id="graphs")
        with TabbedContent(id="tabs", initial="tab-workers"):
            with TabPane("1 Workers", id="tab-workers"):
                yield WorkerTable(id="workers")
            with TabPane("2 Traffic", id="tab-traffic"):
                yield TrafficPanel(id="traffic")
            with TabPane("3 Endpoints", id="tab-endpoints"):
                yield EndpointTable(id="endpoints")
            with TabPane("4 Events", id="tab-events"):
                yield EventsPanel(id="events-panel")
        yield Input(placeholder="filter: name, container, pid or state", id="filter")
        yield SafeStatic(id="notices")
        yield Footer()

    def on_mount(self) -> None:
        self._apply_start_theme()
        self.query_one("#filter", Input).display = False
        self.query_one(InstanceTable).focus()
        self._render_status()
        if self._first_frame is not None:
            # Nothing is drawn yet: a short wait for the first frame (sampled
            # while the UI started) puts it in the first paint.
            wait([self._first_frame], timeout=FIRST_FRAME_WAIT_S)
        if self._first_frame is not None and self._first_frame.done():
            self._take_first_frame()
        else:
            self._request_sample()

    def _take_first_frame(self) -> None:
        """The first frame, sampled already: posted now, so that it is in
        the first paint (no empty dashboard drawn before it)."""
        first, self._first_frame = self._first_frame, None
        assert first is not None
        requested_at = time.monotonic()
        try:
            frame = first.result()
        except Exception:  # sampled again here; the status line says why
            self._request_sample()
            return
        changes = self._observe(frame)
        if self._source_watch is not None:
            self._source_watch.observe(frame.instances)
        self._sampling = True
        self.post_message(FrameSampled(frame, requested_at, changes))

    async def action_quit(self) -> None:
        """Quit; while an action changes a server, ask first (it is then stopped
        cleanly: the current step finishes or is rolled back)."""
        running = self.slot.changing_label
        if running is None:
            self.exit()
            return

        def decided(stop: bool | None) -> None:
            if stop:
                self.notify("Stopping: finishing or rolling back the current step…", timeout=30)
                self.exit()

        from gunicorn_tui.ui.actions.quit_screen import QuitDuringActionScreen

        self.push_screen(QuitDuringActionScreen(running), callback=decided)

    def _apply_start_theme(self) -> None:
        if self._start_theme:
            if self._start_theme in self.available_themes:
                self.theme = self._start_theme
            else:
                known = ", ".join(sorted(self.available_themes))
                self.notify(f"Unknown theme {self._start_theme!r} in the config file "
                            f"(known: {known})", severity="warning", timeout=10)  # fmt: skip
        # Subscribed after the start theme, so only the user's choices are kept.
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, theme: Theme) -> None:
        if self._on_theme_change is None:
            return
        try:
            self._on_theme_change(theme.name)
        except (OSError, ValueError) as error:
            self.notify(f"Theme not kept: {error}", severity="warning", timeout=8)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): Textual's commands, then gtui's own
        actions, each with its key."""
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding) or binding.action in _NOT_IN_PALETTE:
                continue
            key = binding.key.split(",")[0]
            yield SystemCommand(
                f"gtui: {binding.description}",
                f"{_PALETTE_HELP.get(binding.action, binding.description)} (key {key})",
                partial(self.run_action, binding.action),
            )

    async def on_unmount(self) -> None:
        # An action stops cleanly: its step finishes or is rolled back first.
        # Waited for off the event loop, so a progress update the action is
        # posting at that moment cannot deadlock with this wait.
        if self._actions is not None:
            await asyncio.to_thread(self._actions.stop_and_wait, ACTION_EXIT_WAIT_S)
        if self._ab is not None:
            self._ab.cancel()
        # A sweep puts the original config back before the source closes.
        if self._sweeps is not None:
            self._sweeps.stop_and_wait(SWEEP_EXIT_WAIT_S)
        if self._first_frame_sampling is not None:
            await asyncio.to_thread(wait, [self._first_frame_sampling], ACTION_EXIT_WAIT_S)
        with self._source_lock:
            self.source.close()
        if self.recorder is not None:
            self.recorder.close()

    # -- sampling ---------------------------------------------------------------

    @property
    def engine(self) -> ControlEngine | None:
        """The control engine (None: a session without actions, a replay)."""
        if self._engine_factory is not None:
            with self._engine_lock:
                if self._engine_factory is not None:
                    self._engine = self._engine_factory()
                    self._engine_factory = None
        return self._engine

    def _facts(self, sample: InstanceSample) -> RetuneFacts:
        engine = self.engine
        assert engine is not None
        return engine.facts(sample)

    def _make_engine_soon(self) -> None:
        # After the first paint, off the UI thread: the first action does
        # not wait for the engine's code to load.
        def make() -> None:
            with contextlib.suppress(Exception):  # said again at first use
                _ = self.engine
                import gunicorn_tui.ui.sweep.launcher  # noqa: F401

        self.run_worker(make, thread=True, group="engine", exclusive=True)

    @property
    def actions(self) -> ActionRunner:
        """Runs one action at a time (made on first use)."""
        if self._actions is None:
            from gunicorn_tui.ui.actions.action_runner import ActionRunner

            self._actions = ActionRunner(
                self, self.engine, self._action_finished, epochs=self.epochs, slot=self.slot
            )
        return self._actions

    @property
    def ab(self) -> AbLauncher:
        """Runs a guided A/B from the dashboard (made on first use)."""
        if self._ab is None:
            from gunicorn_tui.ui.compare.ab_launcher import AbLauncher

            self._ab = AbLauncher(
                self,
                self.engine,
                self.slot,
                lambda: self.sample_frame(forwarded=True),
                self.tracker_of,
                self._lent_sampling_changed,
                self._action_finished,
                self._show_ab_result,
                settings=self.ab_settings,
            )
        return self._ab

    @property
    def sweeps(self) -> SweepLauncher:
        """Runs a sweep from the dashboard (made on first use)."""
        if self._sweeps is None:
            from gunicorn_tui.ui.sweep.launcher import SweepLauncher

            self._sweeps = SweepLauncher(
                self,
                self.engine,
                self.slot,
                lambda: self.sample_frame(forwarded=True),
                self.tracker_of,
                self._sweep_changed,
                settings=self._sweep_settings,
                export_dir=self.export_dir,
                on_persist=self.open_persist,
            )
        return self._sweeps

    @property
    def ab_settings(self) -> AbSettings:
        """The shape of a guided A/B (given, or the defaults with the warm-up)."""
        if self._ab_settings is None:
            from gunicorn_tui.compare.guided_ab import AbSettings

            self._ab_settings = AbSettings(warmup_s=self.warmup_s)
        return self._ab_settings

    @property
    def sampling_lent(self) -> bool:
        """Whether a guided A/B or a sweep samples the source (the sampler waits)."""
        return self.slot.lends_sampling

    def sample_frame(self, forwarded: bool = False) -> MonitorFrame:
        """Sample the source once and feed the epochs (any thread). A
        ``forwarded`` frame (a guided A/B's) is also posted to the UI."""
        with self._source_lock:
            frame = self.source.sample()
        changes = self._observe(frame)
        if forwarded:
            self.post_message(FrameSampled(frame, time.monotonic(), changes, forwarded=True))
        return frame

    def _observe(self, frame: MonitorFrame) -> dict[str, EpochChange]:
        # Recorded as the epochs see it, so a replay feeds them the same order.
        if self.recorder is not None:
            self.recorder.frame(frame)
        return self.epochs.observe_frame(frame)

    def _request_sample(self) -> None:
        if self._sampling or self.paused or self.sampling_lent:
            return
        self._sampling = True
        self._sample(time.monotonic())

    @work(thread=True, exclusive=True, group="sampler")
    def _sample(self, requested_at: float) -> None:
        try:
            frame = self._first_or_sample()
            changes = self._observe(frame)
            if self._source_watch is not None:
                self._source_watch.observe(frame.instances)
        except Exception as error:  # keep running; the status line says why
            self.post_message(SamplingFailed(f"{type(error).__name__}: {error}", requested_at))
            return
        self.post_message(FrameSampled(frame, requested_at, changes))

    def _first_or_sample(self) -> MonitorFrame:
        # A first frame still being sampled elsewhere is waited for: the
        # source is never sampled by two threads at once.
        first, self._first_frame = self._first_frame, None
        if first is not None:
            with contextlib.suppress(Exception):
                return first.result()
        with self._source_lock:
            return self.source.sample()

    def _schedule_next(self, requested_at: float) -> None:
        self._sampling = False
        playback = self.source.playback
        if playback is not None and playback.finished:
            # The end of a replay: the last marks, then nothing more to sample.
            playback.apply_trailing_marks()
            self._render_status()
            return
        if self.paused or self.sampling_lent:
            return
        priming = self.frames_seen <= self._priming_frames
        interval = PRIMING_DELAY_S if priming else self.refresh_s
        delay = max(0.05, interval - (time.monotonic() - requested_at))
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(delay, self._request_sample)

    @on(FrameSampled)
    def _frame_sampled(self, message: FrameSampled) -> None:
        if not self.is_running:  # a frame that lands while the app shuts down
            return
        self.frame = message.frame
        self.frames_seen += 1
        self._last_error = None
        self.history.record(message.frame.instances)
        for sample in message.frame.instances:
            self._first_seen.setdefault(sample.key, time.monotonic())
        self._notices = (list(message.frame.notices) + self._notices)[:3]
        self._note_changes(message.changes)
        with self.batch_update():
            self._render_all()
        if self.frames_seen == self._priming_frames + 1 and self._on_first_frame is not None:
            self._on_first_frame(time.monotonic() - self._started)
        if self.frames_seen == 1 and self._engine_factory is not None:
            self.call_after_refresh(self._make_engine_soon)
        if not message.forwarded:
            self._schedule_next(message.requested_at)

    def _note_changes(self, changes: dict[str, EpochChange]) -> None:
        for key, change in changes.items():
            tracker = self.epochs.tracker(key)
            marks = tracker.marks() if tracker is not None else ()
            number = f"epoch {marks[-1].epoch_id}" if marks else "new epoch"
            self._notices.insert(0, f"{number}: {change.label} (C compares)")
        del self._notices[3:]

    @on(SamplingFailed)
    def _sampling_failed(self, message: SamplingFailed) -> None:
        if not self.is_running:
            return
        self._last_error = message.error
        self._render_status()
        self._schedule_next(message.requested_at)

    # -- rendering --------------------------------------------------------------

    def visible_instances(self) -> list[InstanceSample]:
        if self.frame is None:
            return []
        text = self.filter_text
        return [
            sample
            for sample in self.frame.instances
            if instance_matches(sample, text) or (text and worker_matches(sample, text))
        ]

    def selected_sample(self) -> InstanceSample | None:
        visible = self.visible_instances()
        for sample in visible:
            if sample.key == self.selected_key:
                return sample
        # A Compose service's row: its first replica is shown beneath.
        for group in group_instances(visible):
            if group.service is not None and group.key == self.selected_key:
                return group.members[0]
        return visible[0] if visible else None

    def _render_all(self) -> None:
        visible = self.visible_instances()
        table = self.query_one(InstanceTable)
        table.show(visible, self.frame.traffic if self.frame is not None else None)
        sample = self.selected_sample()
        on_service_row = self.selected_key in {g.key for g in group_instances(visible) if g.service}
        if sample is not None and sample.key != self.selected_key and not on_service_row:
            self.selected_key = sample.key
            table.select_key(sample.key)
        self._render_selected(sample)
        self._render_status()

    def traffic_of(self, sample: InstanceSample | None) -> TrafficView | None:
        if sample is None or self.frame is None:
            return None
        return self.frame.traffic.get(sample.key)

    def tracker_of(self, sample: InstanceSample | None) -> EpochTracker | None:
        """The epoch tracker following ``sample``'s instance."""
        return self.epochs.tracker(sample.key) if sample is not None else None

    def _render_selected(self, sample: InstanceSample | None) -> None:
        warning = (
            self._source_watch.warning(sample.key)
            if sample is not None and self._source_watch is not None
            else None
        )
        self.query_one(InstanceHeader).show(sample, warning)
        traffic = self.traffic_of(sample)
        tracker = self.tracker_of(sample)
        marks = tracker.marks() if tracker is not None else ()
        self.query_one(SummaryGraphs).show(
            self.history.get(sample.key) if sample else None, traffic, marks
        )
        # Only the visible tab is drawn; switching tabs draws it at once.
        active = self.query_one("#tabs", TabbedContent).active
        if active == "tab-workers":
            text = (
                ""
                if sample is not None and instance_matches(sample, self.filter_text)
                else (self.filter_text)
            )
            workers = self.query_one(WorkerTable)
            workers.show(sample, SORT_ORDERS[self._sort_index], text, traffic)
            workers.border_title = f"sort {SORT_ORDERS[self._sort_index].name}"
        elif active == "tab-traffic":
            guidance = (
                traffic_guidance(
                    sample,
                    traffic,
                    self.source.statsd_address,
                    time.monotonic() - self._first_seen.get(sample.key, time.monotonic()),
                )
                if sample is not None
                else ()
            )
            self.query_one(TrafficPanel).show(traffic, guidance, marks)
        elif active == "tab-endpoints":
            self.query_one(EndpointTable).show(traffic)
        elif active == "tab-events":
            self.query_one(EventsPanel).show(traffic)

    def _render_status(self) -> None:
        frame = self.frame
        parts: list[Content | str] = [Content.styled("gtui", "bold $accent")]
        if self.subtitle_text:
            parts.append(f" {self.subtitle_text}")
        if frame is None:
            parts.append("  discovering…")
        else:
            count = len(frame.instances)
            parts.append(f"  {count} instance{'s' if count != 1 else ''}")
            docker = frame.docker
            if len(frame.engines) > 1:
                # One word per engine: its name, styled by whether it answers.
                for engine in frame.engines:
                    ok = engine.state.value == "connected"
                    parts.append(Content.styled(f"  {engine.name}", "$success" if ok else "$error"))
            elif docker.state.value == "connected":
                parts.append(Content.styled("  docker ok", "$success"))
            elif docker.state.value == "unreachable":
                parts.append(Content.styled(f"  docker: {docker.message}", "$error"))
        parts.append(self._epoch_status())
        if self.slot.status:
            parts.append(Content.styled(f"  {self.slot.status}", "bold $warning"))
        parts.append(self._session_status(frame))
        if self.paused:
            parts.append(Content.styled("  PAUSED", "bold $warning"))
        else:
            parts.append(f"  every {self.refresh_s:g}s")
        if self.filter_text:
            parts.append(Content.styled(f"  filter: {self.filter_text}", "$accent"))
        show_text(self.query_one("#status", Static), Content.assemble(*parts))
        notices: list[Content | str] = []
        if self._last_error:
            notices.append(Content.styled(f"sampling failed: {self._last_error}", "$error"))
        elif self._notices:
            notices.append(Content.styled(self._notices[0], "$text-muted"))
        elif frame is not None and not frame.instances:
            notices.append(
                Content.styled(
                    "No Gunicorn server found yet; gtui keeps looking. (gtui demo starts one.)",
                    "$text-muted",
                )
            )
        show_text(self.query_one("#notices", Static), Content.assemble(*notices))

    def _session_status(self, frame: MonitorFrame | None) -> Content:
        """``rec`` while recording; a replay's time cursor: the frame's time
        and its place in the recording."""
        if self.recorder is not None:
            if self.recorder.failed:
                return Content.styled(f"  {self.recorder.failed}", "$error")
            return Content.styled("  ● rec", "bold $error")
        playback = self.source.playback
        if playback is not None:
            clock = time.strftime("%H:%M:%S", time.localtime(frame.taken_at)) if frame else "-"
            end = " end" if playback.finished else ""
            return Content.styled(
                f"  replay {clock} frame {playback.frames_played}/{playback.frame_count}{end}",
                "bold $accent",
            )
        return Content("")

    def action_step(self) -> None:
        """While paused: one sample (a replay: the next recorded frame)."""
        if not self.paused:
            self.notify("Pause first (p), then . steps one sample.", severity="information")
            return
        playback = self.source.playback
        ended = playback is not None and playback.finished
        if not self._sampling and not self.sampling_lent and not ended:
            self._sampling = True
            self._sample(time.monotonic())

    def action_seek(self, frames: int) -> None:
        """A replay's time cursor: pause and show the frame ``frames`` away,
        with the epochs and graphs as they were then (rebuilt from the start)."""
        source = self.source
        playback = source.playback
        if playback is None:
            self.notify("Only a replay (gtui replay FILE) moves in time.", severity="information")
            return
        if self._sampling:
            return  # a frame is on its way; the key can be pressed again
        self.paused = True
        if self._timer is not None:
            self._timer.stop()
        target = min(max(1, playback.frames_played + frames), playback.frame_count)
        with self._source_lock:
            playback.rewind()
            self.epochs.clear()
            self.history = HistoryStore()
            frame: MonitorFrame | None = None
            for _ in range(target):
                frame = source.sample()
                self.epochs.observe_frame(frame)
                self.history.record(frame.instances)
            if playback.finished:
                playback.apply_trailing_marks()
        self.frame = frame
        self.frames_seen = target
        with self.batch_update():
            self._render_all()

    def _epoch_status(self) -> Content:
        """``epoch 3 warm-up 6s``: the selected instance's epoch, once there
        was a change, and its warm-up while it lasts."""
        tracker = self.tracker_of(self.selected_sample())
        marks = tracker.marks() if tracker is not None else ()
        if not marks:
            return Content("")
        last = marks[-1]
        text = (
            Content.styled(f"  epoch {last.epoch_id}", "$accent") if len(marks) > 1 else Content("")
        )
        if math.isinf(last.measured_from):
            return Content.assemble(text, Content.styled(" change in progress", "$warning"))
        left = last.measured_from - time.time()
        if left > 0:
            return Content.assemble(text, Content.styled(f" warm-up {left:.0f}s", "$warning"))
        return text

    # -- events ---------------------------------------------------------------

    @on(RowTable.RowHighlighted, "#instances")
    def _instance_highlighted(self, event: RowTable.RowHighlighted) -> None:
        if event.key == self.selected_key:
            return
        self.selected_key = event.key
        self._render_selected(self.selected_sample())

    @on(RowTable.RowSelected, "#instances")
    def _instance_selected(self, event: RowTable.RowSelected) -> None:
        self.query_one(WorkerTable).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._render_all()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.query_one(InstanceTable).focus()

    # -- actions ------------------------------------------------------------------

    def action_help(self) -> None:
        # Loaded on first use: its Markdown widget costs ~0.1 s at start-up.
        from gunicorn_tui.ui.help_screen import HelpScreen

        self.push_screen(HelpScreen())

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab
        self._render_selected(self.selected_sample())

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._render_selected(self.selected_sample())

    def action_show_config(self) -> None:
        sample = self.selected_sample()
        if sample is not None:
            # Loaded on first use, as the help screen: not on the way to the first frame.
            from gunicorn_tui.ui.config_screen import ConfigScreen

            self.push_screen(ConfigScreen(sample))

    # -- actions on the selected instance (plan, confirm, run) -----------------

    def _selected_for_action(self) -> InstanceSample | None:
        key = self.selected_key or ""
        if key.startswith(SERVICE_KEY_PREFIX):
            # One replica's action from the service's row would surprise: say how.
            service = key.removeprefix(SERVICE_KEY_PREFIX)
            self.notify(
                f"{service} is a Compose service: choose one of its replicas below, or roll "
                f"over all of them with `gtui retune {service}` (or scale, revert)",
                severity="warning",
                timeout=10,
            )
            return None
        sample = self.selected_sample()
        if sample is None:
            self.notify("No instance selected.", severity="warning")
        return sample

    def action_advice(self) -> None:
        sample = self._selected_for_action()
        if sample is not None:
            from gunicorn_tui.ui.advice.open_advice import open_advice

            open_advice(
                self,
                sample,
                lambda: self.frame,
                self.actions,
                self.engine,
                on_guided_ab=lambda chosen, choice: self.ab.start(chosen, choice),
            )

    def action_sweep(self) -> None:
        sample = self._selected_for_action()
        if sample is not None:
            self.sweeps.open_form(sample)

    def _lent_sampling_changed(self) -> None:
        # A guided A/B or a sweep started (the sampler stops: it samples) or ended.
        if self.slot.lends_sampling:
            if self._timer is not None:
                self._timer.stop()
        else:
            self._request_sample()
        self._render_status()

    def _sweep_changed(self) -> None:
        if not self.slot.lends_sampling:
            self.source.request_rescan()  # the sweep ended on a config of its own
        self._lent_sampling_changed()

    @on(SweepFinished)
    def _sweep_finished(self, message: SweepFinished) -> None:
        self.sweeps.finished(message)

    def action_retune(self) -> None:
        sample = self._selected_for_action()
        if sample is None:
            return
        from gunicorn_tui.ui.actions.retune_form import GuidedAbChoice, RetuneForm

        def planned(choice: RetuneRequest | GuidedAbChoice | None) -> None:
            if isinstance(choice, GuidedAbChoice):
                self.ab.start(sample, choice)
            elif choice is not None:
                self.actions.request(
                    f"Retune {sample.label}",
                    lambda engine: engine.plan_retune(sample, choice),
                    changes_key=sample.key,
                )

        self.push_screen(RetuneForm(sample), callback=planned)

    def action_scale(self, change: str) -> None:
        sample = self._selected_for_action()
        if sample is not None:
            from gunicorn_tui.control.planning.requests import parse_scale

            request = parse_scale(change)
            self.actions.request(
                f"Workers {change} on {sample.label}",
                lambda engine: engine.plan_scale(sample, request),
                changes_key=sample.key,
            )

    def action_reload(self) -> None:
        sample = self._selected_for_action()
        if sample is not None:
            self.actions.request(
                f"Reload {sample.label}",
                lambda engine: engine.plan_reload(sample),
                changes_key=sample.key,
            )

    def action_kill_worker(self) -> None:
        sample = self._selected_for_action()
        key = self.query_one(WorkerTable).cursor_key()
        if sample is None or key is None or not key.isdigit():
            self.notify("Select a worker first (Enter, then arrows).", severity="warning")
            return
        pid = int(key)
        self.actions.request(
            f"Kill worker {pid} of {sample.label}",
            lambda engine: engine.plan_kill_worker(sample, pid),
        )

    def action_dump_stack(self) -> None:
        """The Python stack of the worker under the cursor (py-spy)."""
        sample = self._selected_for_action()
        key = self.query_one(WorkerTable).cursor_key()
        if sample is None or key is None or not key.isdigit():
            self.notify("Select a worker first (Enter, then arrows).", severity="warning")
            return
        from gunicorn_tui.ui.stack_screen import StackScreen

        self.push_screen(StackScreen(int(key), sample.label))

    def action_revert(self) -> None:
        sample = self._selected_for_action()
        if sample is not None:
            self.actions.request(
                f"Revert {sample.label} to its previous config",
                lambda engine: engine.plan_revert(sample),
                changes_key=sample.key,
            )

    def action_persist(self) -> None:
        """The running config against its source (Compose file, gunicorn.conf.py)."""
        self.open_persist()

    def open_persist(self, wanted: Mapping[str, ConfigValue] | None = None) -> None:
        """The persist dialog for the selected instance or service; ``wanted``
        (a sweep's winner) replaces the running values."""
        key = self.selected_key or ""
        sample = self.selected_sample()
        if sample is None or self.engine is None:
            self.notify("Persist needs a live instance.", severity="warning")
            return
        from gunicorn_tui.control.running.service_roll import replica_disagreements
        from gunicorn_tui.persist.drift import RETUNABLE
        from gunicorn_tui.persist.plan import plan_persist
        from gunicorn_tui.ui.persist_screen import PersistScreen

        engine = self.engine
        target = sample.label
        if key.startswith(SERVICE_KEY_PREFIX):
            target = key.removeprefix(SERVICE_KEY_PREFIX)
            group = next(g for g in group_instances(self.visible_instances()) if g.key == key)
            disagree = replica_disagreements(group.members, RETUNABLE)
            if disagree:
                self.notify(f"{target}: replicas disagree ({'; '.join(disagree)})",
                            severity="warning", timeout=10)  # fmt: skip
                return
        elif sample.container is not None:
            target = sample.container.name
        self.push_screen(
            PersistScreen(
                f"Persist {target}: keep "
                + ("the sweep's winner" if wanted else "the running config")
                + " where the config lives",
                lambda: plan_persist(sample, engine.facts(sample), target, wanted),
            )
        )

    def _action_finished(self, outcome: ActionOutcome) -> None:
        self.last_outcome = outcome
        if self.recorder is not None:
            self.recorder.action(outcome.summary())
        self._notices.insert(0, outcome.summary())
        if outcome.launch is not None:
            self.source.add_launch(outcome.launch)
        self.source.request_rescan()
        self._render_status()

    # -- compare, export, guided A/B ------------------------------------------------

    def action_compare(self) -> None:
        sample = self._selected_for_action()
        if sample is None:
            return
        self.push_screen(self._compare_screen(sample))

    def _compare_screen(
        self, sample: InstanceSample, result: AbResult | None = None
    ) -> CompareScreen:
        from gunicorn_tui.ui.compare.compare_screen import CompareScreen

        return CompareScreen(
            sample.label,
            self.tracker_of(sample),
            fixed=result.comparison if result is not None else None,
            title="Guided A/B" if result is not None else "Compare",
            on_export=self.export_comparison,
            on_guided_ab=lambda: self.ab.open_form(sample),
            on_persist=self.action_persist,
            min_measured_s=self.ab_settings.min_measured_s,
            export_lines=_ab_lines(result) if result is not None else (),
            verdict=result.verdict if result is not None else None,
        )

    def export_comparison(self, screen: CompareScreen) -> ExportedFiles | None:
        """Write the screen's comparison as Markdown and JSON, and the screen
        as SVG, into the export directory; a notice lists the paths."""
        comparison = screen.comparison
        if comparison is None:
            return None
        from gunicorn_tui.compare.export import (
            ExportError,
            default_export_directory,
            export_stem,
            write_comparison,
        )

        directory = self.export_dir or default_export_directory()
        stem = export_stem(screen.label, comparison, time.time())
        try:
            files = write_comparison(
                comparison,
                directory,
                stem,
                svg=self.export_screenshot(title=f"gtui {screen.title_text} {screen.label}"),
                title=f"gtui {screen.title_text.lower()}: {screen.label}",
                extra_lines=screen.export_lines,
                extra_json={"instance": screen.label},
            )
        except ExportError as error:
            self.notify(f"Export failed: {error}", severity="error", timeout=10)
            return None
        self.last_export = files
        self.notify("Written:\n" + "\n".join(str(path) for path in files.paths), timeout=12)
        return files

    def _show_ab_result(self, sample: InstanceSample, result: AbResult) -> None:
        self.push_screen(self._compare_screen(sample, result))

    def _warn(self, text: str) -> None:
        self.notify(text, severity="warning")

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def action_go_back(self) -> None:
        field = self.query_one("#filter", Input)
        if field.display:
            field.value = ""
            field.display = False
        self.query_one(InstanceTable).focus()

    def action_sort(self) -> None:
        self._sort_index = (self._sort_index + 1) % len(SORT_ORDERS)
        self._render_selected(self.selected_sample())

    def action_pause(self) -> None:
        self.paused = not self.paused
        if self.paused and self._timer is not None:
            self._timer.stop()
        self._render_status()
        if not self.paused:
            self._request_sample()

    def action_faster(self) -> None:
        self._refresh_index = max(0, self._refresh_index - 1)
        self.refresh_s = REFRESH_STEPS_S[self._refresh_index]
        self._render_status()

    def action_slower(self) -> None:
        self._refresh_index = min(len(REFRESH_STEPS_S) - 1, self._refresh_index + 1)
        self.refresh_s = REFRESH_STEPS_S[self._refresh_index]
        self._render_status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Typing in the filter must not trigger single-key actions.
        try:
            field = self.query_one("#filter", Input)
        except NoMatches:
            return True
        return not (field.has_focus and action != "go_back")
