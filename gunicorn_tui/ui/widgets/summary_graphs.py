"""The selected instance at a glance: CPU, memory, requests and p99 latency.

Four small graphs side by side (about 19 columns each at 80x24), each titled
with its latest value and the peak over the history shown. Changes of
configuration (epochs) are marked on every graph, their warm-ups muted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Label

from gunicorn_tui.compare.epochs import EpochMark
from gunicorn_tui.monitor.history import InstanceHistory, Series
from gunicorn_tui.output.units import format_bytes, format_percent
from gunicorn_tui.traffic.instance_traffic import TrafficView
from gunicorn_tui.ui.widgets.bar_graph import BarGraph
from gunicorn_tui.ui.widgets.epoch_columns import NO_MARKS, GraphMarks, epoch_columns
from gunicorn_tui.ui.widgets.safe_text import SafeLabel
from gunicorn_tui.ui.widgets.static_text import show_text

Formatter = Callable[[float], str]


def percent(value: float) -> str:
    return format_percent(value) + "%"


def memory(value: float) -> str:
    return format_bytes(int(value))


def rate(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def milliseconds(value: float) -> str:
    if value < 10:
        return f"{value:.1f}ms"
    if value < 10_000:
        return f"{value:.0f}ms"
    return f"{value / 1000:.0f}s"


def compact_title(
    name: str, values: Sequence[float], latest: float | None, fmt: Formatter
) -> Content:
    """``CPU 13.2% ↑70.1%``: the latest value and the peak."""
    if latest is None and not values:
        return Content.assemble((name, "bold"), (" n/a", "$text-muted"))
    now_text = fmt(latest) if latest is not None else "n/a"
    peak = f" ↑{fmt(max(values))}" if values else ""
    return Content.assemble((name, "bold"), f" {now_text}", (peak, "$text-muted"))


class Graph(Vertical):
    """A title line and a bar graph."""

    DEFAULT_CSS = """
    Graph { height: 3; width: 1fr; padding: 0 1 0 0; }
    Graph > Label { height: 1; width: 100%; }
    """

    def __init__(self, name: str, fmt: Formatter, floor: float = 0.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.title_text = name
        self.fmt = fmt
        # Never scale below this, so noise near zero does not look like load.
        self.floor = floor

    def compose(self) -> ComposeResult:
        yield SafeLabel(Content.styled(self.title_text, "bold"))
        yield BarGraph()

    def show(
        self,
        values: Sequence[float],
        latest: float | None,
        relative: bool = False,
        marks: GraphMarks = NO_MARKS,
    ) -> None:
        show_text(self.query_one(Label), compact_title(self.title_text, values, latest, self.fmt))
        graph = self.query_one(BarGraph)
        if not values:
            graph.plot([])
            return
        peak = max(values)
        if relative:
            # Memory moves little against its size: scale over the range
            # seen, widened to a tenth of the peak so noise stays small.
            low = max(0.0, min(min(values), peak * 0.9))
            graph.plot(values, low=low, high=peak, kinds=marks.kinds, labels=marks.labels)
        else:
            graph.plot(
                values,
                low=0.0,
                high=max(self.floor, peak),
                kinds=marks.kinds,
                labels=marks.labels,
            )


def measured_points(series: Series | None) -> tuple[list[float], list[float]]:
    """The measured values of ``series`` and their times."""
    if series is None:
        return [], []
    points = [point for point in series.points() if point.value is not None]
    return [point.value for point in points if point.value is not None], [
        point.taken_at for point in points
    ]


def traffic_times(traffic: TrafficView | None) -> list[float]:
    """The time of each second of traffic history (its middle)."""
    if traffic is None:
        return []
    return [point.second + 0.5 for point in traffic.history]


class SummaryGraphs(Horizontal):
    """CPU, memory, req/s and p99 of the selected instance."""

    DEFAULT_CSS = """
    SummaryGraphs { height: 3; }
    """

    def compose(self) -> ComposeResult:
        yield Graph("CPU", percent, floor=10.0, id="cpu-graph")
        yield Graph("Mem", memory, id="memory-graph")
        yield Graph("Req/s", rate, floor=1.0, id="rate-graph")
        yield Graph("p99", milliseconds, floor=10.0, id="p99-graph")

    def show(
        self,
        history: InstanceHistory | None,
        traffic: TrafficView | None,
        marks: Sequence[EpochMark] = (),
    ) -> None:
        cpu = history.cpu_percent if history else None
        mem = history.memory_bytes if history else None
        cpu_values, cpu_times = measured_points(cpu)
        mem_values, mem_times = measured_points(mem)
        self.query_one("#cpu-graph", Graph).show(
            cpu_values, cpu.latest() if cpu else None, marks=epoch_columns(cpu_times, marks)
        )
        self.query_one("#memory-graph", Graph).show(
            mem_values,
            mem.latest() if mem else None,
            relative=True,
            marks=epoch_columns(mem_times, marks),
        )
        points = traffic.history if traffic is not None else ()
        has_requests = traffic is not None and traffic.request_source is not None
        rates = [float(point.requests) for point in points] if has_requests else []
        # A second without requests has no latency: drawn empty, so the
        # time axis stays the same as the other graphs'.
        p99s = [point.p99_ms or 0.0 for point in points] if has_requests else []
        window = traffic.snapshot.window(10) if traffic is not None else None
        latest_rate = window.requests_per_s if has_requests and window is not None else None
        latest_p99 = window.latency.p99_ms if window is not None else None
        traffic_marks = epoch_columns(traffic_times(traffic) if has_requests else [], marks)
        self.query_one("#rate-graph", Graph).show(rates, latest_rate, marks=traffic_marks)
        self.query_one("#p99-graph", Graph).show(p99s, latest_p99, marks=traffic_marks)
