"""The Traffic tab: windows table, longer graphs, sources and guidance."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from gunicorn_tui.compare.epochs import EpochMark
from gunicorn_tui.output.units import format_duration
from gunicorn_tui.traffic.guidance import Guidance
from gunicorn_tui.traffic.instance_traffic import TrafficView
from gunicorn_tui.traffic.metrics import WindowFigures
from gunicorn_tui.ui.widgets.epoch_columns import epoch_columns
from gunicorn_tui.ui.widgets.row_table import Cell, Column, Row, RowTable
from gunicorn_tui.ui.widgets.safe_text import SafeStatic
from gunicorn_tui.ui.widgets.static_text import show_text
from gunicorn_tui.ui.widgets.summary_graphs import (
    Graph,
    milliseconds,
    percent,
    rate,
    traffic_times,
)

WINDOW_COLUMNS = (
    Column("window", "Window", 6),
    Column("requests", "Reqs", 7, right=True),
    Column("rate", "Req/s", 7, right=True),
    Column("4xx", "4xx", 5, right=True),
    Column("5xx", "5xx", 5, right=True),
    Column("errors", "Err%", 6, right=True),
    Column("p50", "p50", 7, right=True),
    Column("p90", "p90", 7, right=True),
    Column("p99", "p99", 7, right=True),
    Column("max", "max", 7, right=True),
)


def _ms(value: float | None) -> Cell:
    return Cell(milliseconds(value), "") if value is not None else Cell("n/a", "dim")


def window_row(window: WindowFigures) -> Row:
    counts = window.status_counts
    error = window.error_rate
    return Row(
        f"{window.window_s}s",
        (
            Cell(f"{window.window_s}s"),
            Cell(str(window.requests)),
            Cell(rate(window.requests_per_s)),
            Cell(str(counts.get("4xx", 0))),
            Cell(str(counts.get("5xx", 0)), "error" if counts.get("5xx", 0) else ""),
            Cell(percent(error * 100), "error" if error else "")
            if error is not None
            else Cell("n/a", "dim"),
            _ms(window.latency.p50_ms),
            _ms(window.latency.p90_ms),
            _ms(window.latency.p99_ms),
            _ms(window.latency.max_ms),
        ),
    )


def sources_content(view: TrafficView | None) -> Content:
    if view is None:
        return Content.styled("traffic: not collected", "$text-muted")
    lines = view.lines
    counted = f"requests from {view.request_source}" if view.request_source else "no requests yet"
    text = (
        f"sources: {', '.join(view.sources) or 'none'} · {counted} · {lines.lines} lines, "
        f"{lines.access_records} access, {lines.error_events} log events"
    )
    parts: list[Content | str] = [Content.styled(text, "$text-muted")]
    if lines.unparsed:
        last = lines.recent_unparsed[-1][:60] if lines.recent_unparsed else ""
        parts.append(Content.styled(f" · {lines.unparsed} unparsed (last: {last!r})", "$warning"))
    if view.snapshot.log_delay_s is not None and abs(view.snapshot.log_delay_s) > 3:
        parts.append(
            Content.styled(f" · log clock {view.snapshot.log_delay_s:+.1f}s off", "$warning")
        )
    return Content.assemble(*parts)


def guidance_content(items: tuple[Guidance, ...], notes: tuple[str, ...] = ()) -> Content:
    """The guidance items, then how the logs were found or why one cannot
    be read (``notes``)."""
    lines = [
        Content.assemble(
            (f"{item.missing}: ", "bold $warning"),
            (f"{item.numbers} missing. Add: ", "$text-muted"),
            (item.flags, "$accent"),
        )
        for item in items
    ]
    lines.extend(Content.styled(f"note: {note}", "$text-muted") for note in notes)
    return Content("\n").join(lines) if lines else Content("")


class TrafficPanel(Vertical):
    """Everything about the selected instance's requests."""

    DEFAULT_CSS = """
    TrafficPanel { height: 1fr; }
    TrafficPanel #windows { height: 4; }
    TrafficPanel #traffic-graphs { height: 3; }
    TrafficPanel #traffic-sources { height: auto; }
    TrafficPanel #traffic-guidance { height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield RowTable(WINDOW_COLUMNS, id="windows")
        with Horizontal(id="traffic-graphs"):
            yield Graph("Req/s", rate, floor=1.0, id="long-rate")
            yield Graph("p50", milliseconds, floor=10.0, id="long-p50")
            yield Graph("p90", milliseconds, floor=10.0, id="long-p90")
            yield Graph("5xx", percent, floor=5.0, id="long-errors")
        yield SafeStatic(id="traffic-sources")
        yield SafeStatic(id="traffic-guidance")

    def show(
        self,
        view: TrafficView | None,
        guidance: tuple[Guidance, ...],
        marks: Sequence[EpochMark] = (),
    ) -> None:
        table = self.query_one("#windows", RowTable)
        table.set_rows([window_row(w) for w in view.snapshot.windows] if view else [])
        has_requests = view is not None and view.request_source is not None
        points = view.history if view is not None and has_requests else ()
        span = len(points)
        window = view.snapshot.window(10) if view is not None else None
        columns = epoch_columns(traffic_times(view) if has_requests else [], marks)
        self.query_one("#long-rate", Graph).show(
            [float(p.requests) for p in points],
            window.requests_per_s if window else None,
            marks=columns,
        )
        self.query_one("#long-p50", Graph).show(
            [p.p50_ms or 0.0 for p in points],
            window.latency.p50_ms if window else None,
            marks=columns,
        )
        self.query_one("#long-p90", Graph).show(
            [p.p90_ms or 0.0 for p in points],
            window.latency.p90_ms if window else None,
            marks=columns,
        )
        self.query_one("#long-errors", Graph).show(
            [(p.error_rate or 0.0) * 100 for p in points],
            (window.error_rate or 0.0) * 100 if window and window.error_rate is not None else None,
            marks=columns,
        )
        sources = sources_content(view)
        if span:
            sources = Content.assemble(
                sources, Content.styled(f" · history {format_duration(span)}", "$text-muted")
            )
        show_text(self.query_one("#traffic-sources", Static), sources, layout=True)
        show_text(
            self.query_one("#traffic-guidance", Static),
            guidance_content(guidance, view.notes if view is not None else ()),
            layout=True,
        )
