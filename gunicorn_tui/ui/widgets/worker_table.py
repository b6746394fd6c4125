"""Workers of the selected instance, one row per worker, updated in place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.content import Content
from textual.widgets import DataTable

from gunicorn_tui.model.instances import InstanceSample, WorkerSample, WorkerState
from gunicorn_tui.output.units import (
    format_bytes,
    format_duration,
    format_heartbeat,
    format_percent,
)
from gunicorn_tui.ui.widgets.state_style import figure_content, state_content

COLUMNS: tuple[tuple[str, str, int, bool], ...] = (
    ("pid", "PID", 7, True),
    ("ns_pid", "CPID", 5, True),
    ("state", "State", 7, False),
    ("cpu", "CPU%", 6, True),
    ("uss", "USS", 6, True),
    ("rss", "RSS", 6, True),
    ("age", "Age", 6, True),
    ("heartbeat", "Beat", 5, True),
    ("connections", "Conn", 4, True),
)

_STATE_ORDER = {
    WorkerState.STUCK: 0,
    WorkerState.BUSY: 1,
    WorkerState.BOOTING: 2,
    WorkerState.IDLE: 3,
    WorkerState.UNKNOWN: 4,
}


@dataclass(frozen=True)
class SortOrder:
    """One way to order workers: a name for the title and a key."""

    name: str
    key: Callable[[WorkerSample], tuple[float, float]]


def _num(value: float | int | None, missing: float = -1.0) -> float:
    return float(value) if value is not None else missing


SORT_ORDERS: tuple[SortOrder, ...] = (
    SortOrder("pid", lambda w: (_num(w.pid), 0.0)),
    SortOrder("cpu", lambda w: (-_num(w.process.cpu_percent), _num(w.pid))),
    SortOrder("memory", lambda w: (-_num(w.process.uss_bytes or w.process.rss_bytes), _num(w.pid))),
    SortOrder("state", lambda w: (float(_STATE_ORDER[w.state]), _num(w.pid))),
    SortOrder("age", lambda w: (_num(w.process.age_s), _num(w.pid))),
    SortOrder("heartbeat", lambda w: (-_num(w.heartbeat_age_s), _num(w.pid))),
)


def worker_cells(worker: WorkerSample) -> dict[str, Content]:
    """The cells of one worker row."""
    connections = worker.client_connections
    values = {
        "pid": str(worker.pid) if worker.pid is not None else "n/a",
        "ns_pid": str(worker.ns_pid) if worker.ns_pid is not None else "n/a",
        "cpu": format_percent(worker.process.cpu_percent),
        "uss": format_bytes(worker.process.uss_bytes),
        "rss": format_bytes(worker.process.rss_bytes),
        "age": format_duration(worker.process.age_s),
        "heartbeat": format_heartbeat(worker.heartbeat_age_s),
        "connections": str(connections) if connections is not None else "n/a",
    }
    cells: dict[str, Content] = {}
    for key, _title, width, right in COLUMNS:
        if key == "state":
            cells[key] = state_content(worker.state)
            continue
        text = values[key][:width]
        cells[key] = figure_content(text.rjust(width) if right else text)
    return cells


class WorkerTable(DataTable[Content]):
    """Workers keyed by pid. Rows are updated cell by cell; the order is
    re-applied only when it changes."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._cells: dict[str, dict[str, Content]] = {}
        self._order: list[str] = []
        self._instance_key: str | None = None

    def on_mount(self) -> None:
        for key, title, width, right in COLUMNS:
            self.add_column(title.rjust(width) if right else title, key=key, width=width)

    def show(self, sample: InstanceSample | None, sort: SortOrder, filter_text: str = "") -> None:
        """Show the workers of ``sample`` (all of them, or those matching)."""
        if sample is None:
            self.clear()
            self._cells, self._order, self._instance_key = {}, [], None
            return
        if sample.key != self._instance_key:
            self.clear()
            self._cells, self._order = {}, []
            self._instance_key = sample.key
        workers = sorted(sample.workers, key=sort.key)
        if filter_text:
            text = filter_text.lower()
            matching = [w for w in workers if text in f"{w.pid} {w.ns_pid} {w.state.value}".lower()]
            workers = matching or workers
        wanted = [str(worker.pid) for worker in workers]
        if wanted != self._order:
            # Membership or order changed: rebuild, keeping the cursor on the
            # same worker when it is still there.
            selected = (
                self._order[self.cursor_row] if 0 <= self.cursor_row < len(self._order) else None
            )
            self.clear()
            self._cells = {}
            for worker in workers:
                key = str(worker.pid)
                cells = worker_cells(worker)
                self.add_row(*(cells[column] for column, *_ in COLUMNS), key=key)
                self._cells[key] = cells
            self._order = wanted
            if selected in self._cells:
                self.move_cursor(row=wanted.index(selected), animate=False)
            return
        for worker in workers:
            key = str(worker.pid)
            cells = worker_cells(worker)
            previous = self._cells[key]
            for column, value in cells.items():
                if previous.get(column) != value:
                    self.update_cell(key, column, value)
            self._cells[key] = cells
