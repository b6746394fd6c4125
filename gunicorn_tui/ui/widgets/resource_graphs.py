"""Total CPU and memory of the selected instance over the last minutes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Label

from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.history import InstanceHistory, Series
from gunicorn_tui.output.units import format_bytes, format_duration, format_percent
from gunicorn_tui.ui.widgets.bar_graph import BarGraph
from gunicorn_tui.ui.widgets.static_text import show_text


def graph_title(name: str, series: Series, unit: str, limit: float | None = None) -> Content:
    """``CPU 42.0%/200  max 97.3% over 5m00s``: now, the limit, the peak."""
    values = series.values()
    latest = series.latest()
    if unit == "bytes":
        now_text = format_bytes(int(latest)) if latest is not None else "n/a"
        peak_text = format_bytes(int(max(values))) if values else "n/a"
    else:
        now_text = format_percent(latest) + ("%" if latest is not None else "")
        peak_text = format_percent(max(values)) + "%" if values else "n/a"
    if limit:
        now_text += f" of {format_bytes(int(limit))}" if unit == "bytes" else f" of {limit:g} cpu"
    return Content.assemble(
        (name, "bold"),
        f" {now_text}",
        (f"  max {peak_text} over {format_duration(series.span_s())}", "$text-muted"),
    )


class Graph(Vertical):
    """A title line and a bar graph."""

    DEFAULT_CSS = """
    Graph { height: 3; width: 1fr; padding: 0 1 0 0; }
    Graph > Label { height: 1; width: 100%; }
    """

    def __init__(self, name: str, unit: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._title = name
        self._unit = unit

    def compose(self) -> ComposeResult:
        yield Label(Content.styled(self._title, "bold"))
        yield BarGraph()

    def show(self, series: Series | None, limit: float | None = None) -> None:
        label = self.query_one(Label)
        graph = self.query_one(BarGraph)
        if series is None:
            show_text(label, Content.styled(f"{self._title} n/a", "$text-disabled"))
            graph.plot([])
            return
        show_text(label, graph_title(self._title, series, self._unit, limit))
        values = series.values()
        if self._unit == "bytes":
            # Memory moves little against its size: scale over the range seen,
            # widened to at least a tenth of the peak so noise stays small.
            peak = max(values) if values else 1.0
            low = min(values) if values else 0.0
            low = max(0.0, min(low, peak * 0.9))
            graph.plot(values, low=low, high=peak)
        else:
            # CPU from zero, and never scaled below 10% so idle noise looks idle.
            graph.plot(values, low=0.0, high=max([10.0, *values]))


class ResourceGraphs(Horizontal):
    """CPU and memory side by side."""

    DEFAULT_CSS = """
    ResourceGraphs { height: 3; }
    """

    def compose(self) -> ComposeResult:
        yield Graph("CPU", "percent", id="cpu-graph")
        yield Graph("Memory", "bytes", id="memory-graph")

    def show(self, history: InstanceHistory | None, sample: InstanceSample | None = None) -> None:
        totals = sample.totals if sample is not None else None
        self.query_one("#cpu-graph", Graph).show(
            history.cpu_percent if history else None,
            totals.cpu_limit_cores if totals else None,
        )
        memory_limit = totals.memory_limit_bytes if totals else None
        self.query_one("#memory-graph", Graph).show(
            history.memory_bytes if history else None,
            float(memory_limit) if memory_limit else None,
        )
