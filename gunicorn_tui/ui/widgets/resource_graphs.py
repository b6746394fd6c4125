"""Total CPU and memory of the selected instance over the last minutes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Label, Sparkline

from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.history import InstanceHistory, Series
from gunicorn_tui.output.units import format_bytes, format_duration, format_percent


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
    """A title line and a sparkline."""

    DEFAULT_CSS = """
    Graph { height: 3; width: 1fr; padding: 0 1 0 0; }
    Graph > Label { height: 1; }
    Graph > Sparkline { height: 2; }
    """

    def __init__(self, name: str, unit: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._title = name
        self._unit = unit

    def compose(self) -> ComposeResult:
        yield Label(Content.styled(self._title, "bold"))
        yield Sparkline([], summary_function=max)

    def show(self, series: Series | None, limit: float | None = None) -> None:
        label = self.query_one(Label)
        sparkline = self.query_one(Sparkline)
        if series is None:
            label.update(Content.styled(f"{self._title} n/a", "$text-disabled"))
            sparkline.data = []
            return
        label.update(graph_title(self._title, series, self._unit, limit))
        values = series.values()
        # One column per sample until the graph is full, so a young history
        # is not stretched into wide blocks; then columns summarise (max).
        available = max(1, self.content_region.width)
        sparkline.styles.width = max(1, min(len(values), available))
        sparkline.data = values


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
