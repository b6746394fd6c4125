"""The dashboard: a Textual app over the headless monitor.

Sampling runs in a thread worker; when a frame arrives the next sample is
scheduled with a one-shot timer, so a slow Docker or /proc never makes
samples pile up. Tables are updated cell by cell.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar, Protocol

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.progress import ActionOutcome
from gunicorn_tui.control.requests import RetuneRequest, parse_scale
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.history import HistoryStore
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.traffic.guidance import traffic_guidance
from gunicorn_tui.traffic.instance_traffic import TrafficView
from gunicorn_tui.ui.actions.action_runner import ActionRunner
from gunicorn_tui.ui.actions.retune_form import RetuneForm
from gunicorn_tui.ui.config_screen import ConfigScreen
from gunicorn_tui.ui.help_screen import HelpScreen
from gunicorn_tui.ui.messages import FrameSampled, SamplingFailed
from gunicorn_tui.ui.widgets.endpoint_table import EndpointTable
from gunicorn_tui.ui.widgets.events_panel import EventsPanel
from gunicorn_tui.ui.widgets.instance_header import InstanceHeader
from gunicorn_tui.ui.widgets.instance_table import InstanceTable, instance_matches, worker_matches
from gunicorn_tui.ui.widgets.row_table import RowTable
from gunicorn_tui.ui.widgets.static_text import show_text
from gunicorn_tui.ui.widgets.summary_graphs import SummaryGraphs
from gunicorn_tui.ui.widgets.traffic_panel import TrafficPanel
from gunicorn_tui.ui.widgets.worker_table import SORT_ORDERS, WorkerTable

REFRESH_STEPS_S = (0.5, 1.0, 2.0, 5.0, 10.0)
# The first frame primes CPU counters; the second, this soon after, is the
# first complete one.
PRIMING_DELAY_S = 0.35


class FrameSource(Protocol):
    """Anything that produces monitor frames (the Monitor; a replay in tests)."""

    def sample(self) -> MonitorFrame: ...

    def close(self) -> None: ...


def _nearest_step(refresh_s: float) -> int:
    return min(range(len(REFRESH_STEPS_S)), key=lambda i: abs(REFRESH_STEPS_S[i] - refresh_s))


class GtuiApp(App[None]):
    """The gtui dashboard."""

    CSS_PATH = "app.tcss"
    TITLE = "gtui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", id="help"),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("s", "sort", "Sort", id="sort"),
        Binding("c", "show_config", "Config", id="config"),
        Binding("1", "show_tab('tab-workers')", "Workers", show=False, id="tab.workers"),
        Binding("2", "show_tab('tab-traffic')", "Traffic", show=False, id="tab.traffic"),
        Binding("3", "show_tab('tab-endpoints')", "Endpoints", show=False, id="tab.endpoints"),
        Binding("4", "show_tab('tab-events')", "Events", show=False, id="tab.events"),
        Binding("p", "pause", "Pause", id="pause"),
        # Shown in the help screen and the status line ("every 1s"); the
        # footer keeps room for retune and quit at 80 columns.
        Binding("plus,equals_sign", "faster", "Faster", show=False, id="faster"),
        Binding("minus", "slower", "Slower", show=False, id="slower"),
        Binding("t", "retune", "Retune", id="action.retune"),
        Binding("greater_than_sign", "scale('+1')", "+Worker", show=False, id="action.add"),
        Binding("less_than_sign", "scale('-1')", "-Worker", show=False, id="action.remove"),
        Binding("R", "reload", "Reload", show=False, id="action.reload"),
        Binding("k", "kill_worker", "Kill worker", show=False, id="action.kill"),
        Binding("u", "revert", "Revert", show=False, id="action.revert"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("escape", "go_back", "Back", show=False, id="back"),
    ]

    def __init__(
        self,
        source: FrameSource,
        refresh_s: float = 1.0,
        subtitle: str = "",
        on_first_frame: Callable[[float], None] | None = None,
        engine: ControlEngine | None = None,
        primed: bool = False,
    ) -> None:
        """``primed``: the source has already been sampled once (CPU figures
        need two samples), so the first frame drawn is a full one."""
        super().__init__()
        self.source = source
        self.engine = engine
        self.actions = ActionRunner(self, engine, self._action_finished)
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

    def compose(self) -> ComposeResult:
        yield Static(id="status")
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
        yield Static(id="notices")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one(InstanceTable).focus()
        self._render_status()
        self._request_sample()

    def on_unmount(self) -> None:
        self.source.close()

    # -- sampling ---------------------------------------------------------------

    def _request_sample(self) -> None:
        if self._sampling or self.paused:
            return
        self._sampling = True
        self._sample(time.monotonic())

    @work(thread=True, exclusive=True, group="sampler")
    def _sample(self, requested_at: float) -> None:
        try:
            frame = self.source.sample()
        except Exception as error:  # keep running; the status line says why
            self.post_message(SamplingFailed(f"{type(error).__name__}: {error}", requested_at))
            return
        self.post_message(FrameSampled(frame, requested_at))

    def _schedule_next(self, requested_at: float) -> None:
        self._sampling = False
        if self.paused:
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
        with self.batch_update():
            self._render_all()
        if self.frames_seen == self._priming_frames + 1 and self._on_first_frame is not None:
            self._on_first_frame(time.monotonic() - self._started)
        self._schedule_next(message.requested_at)

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
        return visible[0] if visible else None

    def _render_all(self) -> None:
        visible = self.visible_instances()
        table = self.query_one(InstanceTable)
        table.show(visible, self.frame.traffic if self.frame is not None else None)
        sample = self.selected_sample()
        if sample is not None and sample.key != self.selected_key:
            self.selected_key = sample.key
            table.select_key(sample.key)
        self._render_selected(sample)
        self._render_status()

    def traffic_of(self, sample: InstanceSample | None) -> TrafficView | None:
        if sample is None or self.frame is None:
            return None
        return self.frame.traffic.get(sample.key)

    def _render_selected(self, sample: InstanceSample | None) -> None:
        self.query_one(InstanceHeader).show(sample)
        traffic = self.traffic_of(sample)
        self.query_one(SummaryGraphs).show(
            self.history.get(sample.key) if sample else None, traffic
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
                    getattr(self.source, "statsd_address", None),
                    time.monotonic() - self._first_seen.get(sample.key, time.monotonic()),
                )
                if sample is not None
                else ()
            )
            self.query_one(TrafficPanel).show(traffic, guidance)
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
            if docker.state.value == "connected":
                parts.append(Content.styled("  docker ok", "$success"))
            elif docker.state.value == "unreachable":
                parts.append(Content.styled(f"  docker: {docker.message}", "$error"))
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
            self.push_screen(ConfigScreen(sample))

    # -- actions on the selected instance (plan, confirm, run) -----------------

    def _selected_for_action(self) -> InstanceSample | None:
        sample = self.selected_sample()
        if sample is None:
            self.notify("No instance selected.", severity="warning")
        return sample

    def action_retune(self) -> None:
        sample = self._selected_for_action()
        if sample is None:
            return

        def planned(request: RetuneRequest | None) -> None:
            if request is not None:
                self.actions.request(
                    f"Retune {sample.label}", lambda engine: engine.plan_retune(sample, request)
                )

        self.push_screen(RetuneForm(sample), callback=planned)

    def action_scale(self, change: str) -> None:
        sample = self._selected_for_action()
        if sample is not None:
            request = parse_scale(change)
            self.actions.request(
                f"Workers {change} on {sample.label}",
                lambda engine: engine.plan_scale(sample, request),
            )

    def action_reload(self) -> None:
        sample = self._selected_for_action()
        if sample is not None:
            self.actions.request(
                f"Reload {sample.label}", lambda engine: engine.plan_reload(sample)
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

    def action_revert(self) -> None:
        sample = self._selected_for_action()
        if sample is not None:
            self.actions.request(
                f"Revert {sample.label} to its previous config",
                lambda engine: engine.plan_revert(sample),
            )

    def _action_finished(self, outcome: ActionOutcome) -> None:
        self.last_outcome = outcome
        self._notices.insert(0, outcome.summary())
        if outcome.launch is not None:
            add_launch = getattr(self.source, "add_launch", None)
            if callable(add_launch):
                add_launch(outcome.launch)
        request_rescan = getattr(self.source, "request_rescan", None)
        if callable(request_rescan):
            request_rescan()
        self._render_status()

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
