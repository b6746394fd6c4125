"""A fixed-size bar graph of a time series, drawn with block characters.

One column per sample, newest on the right; when the history is longer than
the graph is wide, each column shows the maximum of the samples it covers
(peaks must not disappear). The scale starts at zero unless the caller asks
otherwise, so small noise does not look like load. The widget never changes
size, so new data costs a repaint of its lines, not a layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

_EIGHTHS = " ▁▂▃▄▅▆▇█"


def bucket_max(values: Sequence[float], columns: int) -> list[float]:
    """At most ``columns`` values: the max of each consecutive bucket."""
    if columns <= 0:
        return []
    if len(values) <= columns:
        return list(values)
    size = len(values) / columns
    buckets = []
    for index in range(columns):
        start = int(index * size)
        end = max(start + 1, int((index + 1) * size))
        buckets.append(max(values[start:end]))
    return buckets


def bar_rows(values: Sequence[float], height: int, low: float, high: float) -> list[str]:
    """Text rows (top first) drawing ``values`` as bars between ``low`` and ``high``."""
    span = high - low if high > low else 1.0
    levels = height * 8
    rows = [[" "] * len(values) for _ in range(height)]
    for column, value in enumerate(values):
        filled = round(max(0.0, min(1.0, (value - low) / span)) * levels)
        if value > low and filled == 0:
            filled = 1  # anything measured above the floor is visible
        for row in range(height):
            from_bottom = height - 1 - row
            cell = max(0, min(8, filled - from_bottom * 8))
            rows[row][column] = _EIGHTHS[cell]
    return ["".join(row) for row in rows]


class BarGraph(Widget):
    """Draws the last values of a series; call :meth:`plot` with new data."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"bar-graph--bar"}
    DEFAULT_CSS = """
    BarGraph { height: 2; width: 1fr; }
    BarGraph > .bar-graph--bar { color: $accent; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._values: list[float] = []
        self._low = 0.0
        self._high = 1.0
        self._rows: list[str] = []

    def plot(self, values: Sequence[float], low: float = 0.0, high: float | None = None) -> None:
        """Show ``values`` scaled from ``low`` to ``high`` (default: their max)."""
        top = high if high is not None else (max(values) if values else 1.0)
        if list(values) == self._values and (low, top) == (self._low, self._high):
            return
        self._values, self._low, self._high = list(values), low, top
        self._rows = []
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        if len(self._rows) != height or (self._rows and len(self._rows[0]) != width):
            shown = bucket_max(self._values, width)
            rows = bar_rows(shown, height, self._low, self._high)
            self._rows = [row.ljust(width) for row in rows]
        text = self._rows[y] if y < len(self._rows) else " " * width
        style = self.rich_style + self.get_component_rich_style("bar-graph--bar")
        return Strip([Segment(text, style)])
