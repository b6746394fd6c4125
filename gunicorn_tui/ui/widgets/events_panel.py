"""The Events tab: worker boots, exits, timeouts and kills, newest first."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from gunicorn_tui.traffic.error_log import ErrorLogEvent, ErrorLogEventKind
from gunicorn_tui.traffic.instance_traffic import TrafficView
from gunicorn_tui.ui.widgets.row_table import Cell, Column, Row, RowTable
from gunicorn_tui.ui.widgets.safe_text import SafeStatic
from gunicorn_tui.ui.widgets.static_text import show_text

COLUMNS = (
    Column("time", "Time", 8),
    Column("kind", "Event", 14),
    Column("pid", "Worker", 7, right=True),
    Column("detail", "Detail", 40),
)

_STYLE = {
    ErrorLogEventKind.WORKER_TIMEOUT: "error",
    ErrorLogEventKind.WORKER_KILLED: "error",
    ErrorLogEventKind.WORKER_EXIT_CODE: "warning",
    ErrorLogEventKind.WORKER_EXCEPTION: "warning",
    ErrorLogEventKind.WORKER_BOOTING: "good",
    ErrorLogEventKind.RELOAD: "accent",
}

_LABEL = {
    ErrorLogEventKind.WORKER_BOOTING: "boot",
    ErrorLogEventKind.WORKER_EXITING: "exit",
    ErrorLogEventKind.WORKER_TIMEOUT: "TIMEOUT",
    ErrorLogEventKind.WORKER_KILLED: "killed",
    ErrorLogEventKind.WORKER_EXIT_CODE: "exit code",
    ErrorLogEventKind.WORKER_MAX_REQUESTS: "max requests",
    ErrorLogEventKind.WORKER_EXCEPTION: "exception",
    ErrorLogEventKind.RELOAD: "reload",
    ErrorLogEventKind.SIGNAL: "signal",
    ErrorLogEventKind.MASTER_SHUTDOWN: "shutdown",
    ErrorLogEventKind.MASTER_STARTING: "master start",
    ErrorLogEventKind.LISTENING: "listening",
    ErrorLogEventKind.USING_WORKER: "worker class",
    ErrorLogEventKind.REQUEST_ERROR: "request error",
    ErrorLogEventKind.SHUTDOWN_REASON: "reason",
    ErrorLogEventKind.MASTER_PROMOTED: "promoted",
    ErrorLogEventKind.GRACEFUL_STOP: "graceful stop",
}


def event_row(index: int, event: ErrorLogEvent) -> Row:
    when = time.strftime("%H:%M:%S", time.localtime(event.logged_at)) if event.logged_at else "?"
    kind = _LABEL.get(event.kind, event.kind.value.replace("_", " "))
    if event.oom_suspected:
        kind = "killed (OOM?)"
    detail = event.signal_name or event.detail or event.message
    return Row(
        str(index),
        (
            Cell(when),
            Cell(kind, "error" if event.oom_suspected else _STYLE.get(event.kind, "")),
            Cell(str(event.worker_pid) if event.worker_pid is not None else ""),
            Cell(detail or ""),
        ),
    )


def counts_content(view: TrafficView) -> Content:
    lives = view.worker_lives
    parts = [
        f"boots {lives.boots}",
        f"exits {lives.exits}",
        f"timeouts {lives.timeouts}",
        f"killed {lives.killed}",
        f"OOM? {lives.oom_suspected}",
        f"max-requests {lives.max_requests_restarts}",
        f"reloads {lives.reloads}",
    ]
    style = "$error" if lives.timeouts or lives.oom_suspected else "$text-muted"
    return Content.styled("  ".join(parts), style)


class EventsPanel(Vertical):
    """Counts of worker life events and the recent ones."""

    DEFAULT_CSS = """
    EventsPanel { height: 1fr; }
    EventsPanel > #event-counts { height: 1; }
    """

    def compose(self) -> ComposeResult:
        yield SafeStatic(id="event-counts")
        yield RowTable(COLUMNS, id="events")

    def show(self, view: TrafficView | None) -> None:
        counts = self.query_one("#event-counts", Static)
        table = self.query_one("#events", RowTable)
        if view is None:
            show_text(counts, Content.styled("worker events: no error log read", "$text-muted"))
            table.set_rows([])
            return
        show_text(counts, counts_content(view))
        events = list(view.events)
        rows = [event_row(len(events) - i, event) for i, event in enumerate(reversed(events))]
        table.set_rows(rows)
