"""The list of Gunicorn instances, one row each, updated in place; the
replicas of a Compose service beneath one service row with totals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from gunicorn_tui.model.instances import InstanceSample, WorkerState
from gunicorn_tui.model.service_groups import InstanceGroup, group_instances
from gunicorn_tui.output.units import NOT_AVAILABLE, format_bytes, format_percent
from gunicorn_tui.settings.resolve import short_worker_class
from gunicorn_tui.traffic.instance_traffic import TrafficView
from gunicorn_tui.ui.widgets.row_table import Cell, Column, Row, RowTable

COLUMNS: tuple[Column, ...] = (
    Column("name", "Instance", 20),
    Column("source", "Src", 6),
    Column("class", "Class", 8),
    Column("workers", "Wrk", 5, right=True),
    Column("cpu", "CPU%", 6, right=True),
    Column("memory", "Mem", 6, right=True),
    Column("rate", "Req/s", 6, right=True),
    Column("states", "Busy", 7),
)
MAX_VISIBLE_ROWS = 7


def instance_matches(sample: InstanceSample, text: str) -> bool:
    """Whether the filter ``text`` matches the instance itself."""
    if not text:
        return True
    haystack = " ".join(
        [
            sample.label,
            sample.host,
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


def _figure(text: str) -> Cell:
    return Cell(text, "dim" if text == NOT_AVAILABLE else "")


def _rate_cell(traffic: TrafficView | None) -> Cell:
    if traffic is None or traffic.request_source is None:
        return Cell(NOT_AVAILABLE, "dim")
    value = traffic.snapshot.window(10).requests_per_s
    return Cell(f"{value:.1f}" if value < 100 else f"{value:.0f}")


def service_row(group: InstanceGroup, traffic: Mapping[str, TrafficView]) -> Row:
    """The row of a Compose service: totals over its replicas."""
    totals = group.totals()
    states = Counter(worker.state for sample in group.members for worker in sample.workers)
    busy = states[WorkerState.BUSY] + states[WorkerState.STUCK]
    rates = [traffic.get(sample.key) for sample in group.members]
    rate = Cell(NOT_AVAILABLE, "dim")
    if all(view is not None and view.request_source is not None for view in rates):
        value = sum(view.snapshot.window(10).requests_per_s for view in rates if view is not None)
        rate = Cell(f"{value:.1f}" if value < 100 else f"{value:.0f}")
    classes = {sample.config.worker_class for sample in group.members}
    only = next(iter(classes)) if len(classes) == 1 else None
    return Row(
        group.key,
        (
            Cell(f"{group.service} ({totals.replicas})", "bold"),
            Cell("compose"),
            Cell(short_worker_class(only) if only else "mixed"),
            Cell(str(totals.workers)),
            _figure(format_percent(totals.cpu_percent)),
            _figure(format_bytes(totals.memory_bytes)),
            rate,
            Cell(f"{busy}/{totals.workers}", "warning" if busy else ""),
        ),
    )


def instance_row(
    sample: InstanceSample, traffic: TrafficView | None = None, replica: bool = False
) -> Row:
    """The row of one instance (indented beneath its service when ``replica``)."""
    states = Counter(worker.state for worker in sample.workers)
    busy = states[WorkerState.BUSY] + states[WorkerState.STUCK]
    workers = str(len(sample.workers))
    if sample.workers_target is not None and sample.workers_target != len(sample.workers):
        workers = f"{workers}/{sample.workers_target}"
    state_text = f"{busy}/{len(sample.workers)}"
    stuck = states[WorkerState.STUCK]
    if stuck:
        state_text += f" {stuck}!"
    worker_class = sample.config.worker_class
    # Another engine's instances say where they run; an engine that stopped
    # answering leaves its last figures, dimmed.
    label = sample.label if sample.host == "local" else f"{sample.host}/{sample.label}"
    if sample.stale is not None:
        label += " (stale)"
    return Row(
        sample.key,
        (
            Cell(
                f" └ {label}" if replica else label,
                "dim" if sample.stale is not None else ("" if replica else "bold"),
            ),
            Cell(sample.source.value),
            Cell(short_worker_class(worker_class) if worker_class else "?"),
            Cell(workers),
            _figure(format_percent(sample.totals.cpu_percent)),
            _figure(format_bytes(sample.totals.memory_bytes)),
            _rate_cell(traffic),
            Cell(state_text, "error" if stuck else ("warning" if busy else "")),
        ),
    )


class InstanceTable(RowTable):
    """Instances, keyed by instance key."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(COLUMNS, **kwargs)

    def show(
        self,
        samples: Sequence[InstanceSample],
        traffic: Mapping[str, TrafficView] | None = None,
    ) -> None:
        """Make the rows match ``samples`` (already filtered and ordered)."""
        views = traffic or {}
        rows: list[Row] = []
        for group in group_instances(samples):
            if group.service is None:
                rows.append(instance_row(group.members[0], views.get(group.members[0].key)))
                continue
            rows.append(service_row(group, views))
            rows.extend(instance_row(s, views.get(s.key), replica=True) for s in group.members)
        height = min(len(rows), MAX_VISIBLE_ROWS) + 1
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height
        self.set_rows(rows)

    def selected_key(self) -> str | None:
        return self.cursor_key()

    def select_key(self, key: str) -> None:
        self.move_cursor_to(key)
