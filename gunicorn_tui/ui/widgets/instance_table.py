"""The list of Gunicorn instances, one row each, updated in place."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from textual.content import Content
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from gunicorn_tui.model.instances import InstanceSample, WorkerState
from gunicorn_tui.output.units import format_bytes, format_percent
from gunicorn_tui.settings.resolve import short_worker_class
from gunicorn_tui.ui.widgets.state_style import figure_content

# (key, title, width, right-aligned)
COLUMNS: tuple[tuple[str, str, int, bool], ...] = (
    ("name", "Instance", 22, False),
    ("source", "Src", 6, False),
    ("class", "Class", 8, False),
    ("workers", "Wrk", 5, True),
    ("cpu", "CPU%", 6, True),
    ("memory", "Mem", 6, True),
    ("states", "Busy", 9, False),
)


def instance_matches(sample: InstanceSample, text: str) -> bool:
    """Whether the filter ``text`` matches the instance itself."""
    if not text:
        return True
    haystack = " ".join(
        [
            sample.label,
            sample.name,
            sample.source.value,
            sample.container.image if sample.container else "",
            str(sample.master.pid),
        ]
    ).lower()
    return text.lower() in haystack


def worker_matches(sample: InstanceSample, text: str) -> bool:
    """Whether any worker of the instance matches the filter."""
    text = text.lower()
    return any(text in f"{w.pid} {w.ns_pid} {w.state.value}".lower() for w in sample.workers)


def instance_cells(sample: InstanceSample) -> dict[str, Content]:
    """The cells of one instance row."""
    states = Counter(worker.state for worker in sample.workers)
    busy = states[WorkerState.BUSY] + states[WorkerState.STUCK]
    workers = str(len(sample.workers))
    if sample.workers_target is not None and sample.workers_target != len(sample.workers):
        workers = f"{workers}/{sample.workers_target}"
    state_text = f"{busy}/{len(sample.workers)}"
    if states[WorkerState.STUCK]:
        state_text += f" {states[WorkerState.STUCK]}!"
    worker_class = sample.config.worker_class
    values = {
        "name": sample.label,
        "source": sample.source.value,
        "class": short_worker_class(worker_class) if worker_class else "?",
        "workers": workers,
        "cpu": format_percent(sample.totals.cpu_percent),
        "memory": format_bytes(sample.totals.memory_bytes),
        "states": state_text,
    }
    cells: dict[str, Content] = {}
    for key, _title, width, right in COLUMNS:
        text = values[key][:width]
        content = figure_content(text.rjust(width) if right else text)
        if key == "states" and states[WorkerState.STUCK]:
            content = Content.styled(text, "bold $error")
        cells[key] = content
    return cells


class InstanceTable(DataTable[Content]):
    """Instances, keyed by instance key; rows are updated, not rebuilt."""

    DEFAULT_CSS = """
    InstanceTable { height: auto; max-height: 8; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._cells: dict[str, dict[str, Content]] = {}

    def on_mount(self) -> None:
        for key, title, width, right in COLUMNS:
            self.add_column(title.rjust(width) if right else title, key=key, width=width)

    def show(self, samples: Sequence[InstanceSample]) -> None:
        """Make the rows match ``samples`` (already filtered and ordered)."""
        wanted = {sample.key: sample for sample in samples}
        for key in [key for key in self._cells if key not in wanted]:
            self.remove_row(key)
            del self._cells[key]
        for sample in samples:
            cells = instance_cells(sample)
            previous = self._cells.get(sample.key)
            if previous is None:
                self.add_row(*(cells[key] for key, *_ in COLUMNS), key=sample.key)
            else:
                for column, value in cells.items():
                    if previous.get(column) != value:
                        self.update_cell(sample.key, column, value)
            self._cells[sample.key] = cells

    def selected_key(self) -> str | None:
        """Key of the row under the cursor."""
        if not self._cells or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0))
        return str(row_key.value) if row_key.value is not None else None

    def select_key(self, key: str) -> None:
        if key in self._cells:
            self.move_cursor(row=self.get_row_index(key))
