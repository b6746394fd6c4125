"""A fixed-size bar graph of a time series, drawn with block characters.

One column per sample, newest on the right; when the history is longer than
the graph is wide, each column shows the maximum of the samples it covers
(peaks must not disappear). The scale starts at zero unless the caller asks
otherwise, so small noise does not look like load. The widget never changes
size, so new data costs a repaint of its lines, not a layout.

Columns may be marked (see :class:`ColumnKind`): the start of a new epoch is
drawn in the mark colour, with ``│`` where the bar is empty and its label on
the top row; a warm-up is drawn in a muted colour. A bucket of several
samples takes the strongest kind among them, so a mark never disappears.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import ClassVar

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

_EIGHTHS = " ▁▂▃▄▅▆▇█"


class ColumnKind(IntEnum):
    """How a column is drawn; higher wins when samples share a column."""

    PLAIN = 0
    WARMUP = 1
    MARK = 2


def bucket_of(index: int, count: int, columns: int) -> int:
    """The column that sample ``index`` of ``count`` falls in (see :func:`bucket_max`)."""
    if count <= columns:
        return index
    size = count / columns
    return min(columns - 1, int(index / size))


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


def bucket_kinds(kinds: Sequence[ColumnKind], columns: int) -> list[ColumnKind]:
    """The kind of each column after :func:`bucket_max` (the strongest wins)."""
    if columns <= 0:
        return []
    if len(kinds) <= columns:
        return list(kinds)
    shown = [ColumnKind.PLAIN] * columns
    for index, kind in enumerate(kinds):
        column = bucket_of(index, len(kinds), columns)
        shown[column] = max(shown[column], kind)
    return shown


def marked_rows(
    rows: Sequence[str], kinds: Sequence[ColumnKind], labels: Mapping[int, str]
) -> list[str]:
    """``rows`` with each mark column visible: ``│`` in its empty cells and
    its label (one character) on the top row."""
    grid = [list(row) for row in rows]
    for column, kind in enumerate(kinds):
        if kind is not ColumnKind.MARK:
            continue
        for row in grid:
            if column < len(row) and row[column] == " ":
                row[column] = "│"
        label = labels.get(column)
        if label and grid and column < len(grid[0]):
            grid[0][column] = label[0]
    return ["".join(row) for row in grid]


class BarGraph(Widget):
    """Draws the last values of a series; call :meth:`plot` with new data."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "bar-graph--bar",
        "bar-graph--warmup",
        "bar-graph--mark",
    }
    DEFAULT_CSS = """
    BarGraph { height: 2; width: 1fr; }
    BarGraph > .bar-graph--bar { color: $accent; }
    BarGraph > .bar-graph--warmup { color: $text-muted; }
    BarGraph > .bar-graph--mark { color: $warning; text-style: bold; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._values: list[float] = []
        self._low = 0.0
        self._high = 1.0
        self._kinds: list[ColumnKind] = []
        self._labels: dict[int, str] = {}
        self._rows: list[str] = []
        self._shown_kinds: list[ColumnKind] = []

    def plot(
        self,
        values: Sequence[float],
        low: float = 0.0,
        high: float | None = None,
        kinds: Sequence[ColumnKind] = (),
        labels: Mapping[int, str] | None = None,
    ) -> None:
        """Show ``values`` scaled from ``low`` to ``high`` (default: their max).

        ``kinds`` (one per value, or empty) marks epochs and warm-ups;
        ``labels`` maps a value's index to the label of its mark."""
        top = high if high is not None else (max(values) if values else 1.0)
        new_kinds = list(kinds) if len(kinds) == len(values) else []
        new_labels = dict(labels or {})
        if (
            list(values) == self._values
            and (low, top) == (self._low, self._high)
            and new_kinds == self._kinds
            and new_labels == self._labels
        ):
            return
        self._values, self._low, self._high = list(values), low, top
        self._kinds, self._labels = new_kinds, new_labels
        self._rows = []
        self.refresh()

    @property
    def shown_kinds(self) -> list[ColumnKind]:
        """The kind of each column as last drawn (for tests and tools)."""
        return list(self._shown_kinds)

    @property
    def shown_rows(self) -> list[str]:
        """The text of each row as last drawn, top first."""
        return list(self._rows)

    def _layout_rows(self, width: int, height: int) -> None:
        shown = bucket_max(self._values, width)
        rows = bar_rows(shown, height, self._low, self._high)
        kinds = bucket_kinds(self._kinds, width) if self._kinds else []
        count = len(self._values)
        labels = {bucket_of(i, count, width): text for i, text in self._labels.items()}
        rows = marked_rows(rows, kinds, labels)
        self._rows = [row.ljust(width) for row in rows]
        self._shown_kinds = kinds + [ColumnKind.PLAIN] * (width - len(kinds))

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        if len(self._rows) != height or (self._rows and len(self._rows[0]) != width):
            self._layout_rows(width, height)
        text = self._rows[y] if y < len(self._rows) else " " * width
        base = self.rich_style
        styles = {
            ColumnKind.PLAIN: base + self.get_component_rich_style("bar-graph--bar"),
            ColumnKind.WARMUP: base + self.get_component_rich_style("bar-graph--warmup"),
            ColumnKind.MARK: base + self.get_component_rich_style("bar-graph--mark"),
        }
        kinds = self._shown_kinds
        if not any(kinds):
            return Strip([Segment(text, styles[ColumnKind.PLAIN])])
        # One segment per run of columns of the same kind.
        segments: list[Segment] = []
        start = 0
        for column in range(1, len(text) + 1):
            if column == len(text) or kinds[column] != kinds[start]:
                segments.append(Segment(text[start:column], styles[kinds[start]]))
                start = column
        return Strip(segments)
