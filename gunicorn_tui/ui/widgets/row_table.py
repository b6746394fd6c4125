"""A fast, keyed table for rows that change every second.

Textual's DataTable re-renders every cell through Rich whenever any cell
changes; for a monitor that updates most rows once a second that dominates
the dashboard's CPU. This table renders each row straight to one Strip,
caches it, and on update repaints only the rows whose text changed, which
also keeps the bytes sent to the terminal (an SSH link) small.

Cells are plain text plus a style name; styles are component classes, so
colours come from the theme. Cell text is shown with its control characters
escaped (:func:`~gunicorn_tui.output.escape.escape_controls`): rows hold
names, paths and log lines from the servers, and a Segment's text goes to
the terminal as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from gunicorn_tui.output.escape import escape_controls


@dataclass(frozen=True)
class Column:
    """One column: key, title, width in cells, right-aligned or not."""

    key: str
    title: str
    width: int
    right: bool = False


@dataclass(frozen=True)
class Cell:
    """Text and an optional style name (a ``row-table--<name>`` component class)."""

    text: str
    style: str = ""


@dataclass(frozen=True)
class Row:
    """A keyed row of cells, in column order."""

    key: str
    cells: tuple[Cell, ...]


class RowTable(ScrollView, can_focus=True):
    """Rows keyed by a string, a row cursor, and minimal repaints."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "row-table--header",
        "row-table--cursor",
        "row-table--cursor-blurred",
        "row-table--dim",
        "row-table--good",
        "row-table--warning",
        "row-table--error",
        "row-table--accent",
        "row-table--bold",
    }

    DEFAULT_CSS = """
    RowTable { height: 1fr; background: $surface; }
    RowTable > .row-table--header { background: $panel; color: $foreground; text-style: bold; }
    RowTable > .row-table--cursor { background: $block-cursor-background;
        color: $block-cursor-foreground; text-style: bold; }
    RowTable > .row-table--cursor-blurred { background: $block-cursor-blurred-background; }
    RowTable > .row-table--dim { color: $foreground 50%; }
    RowTable > .row-table--good { color: $success; }
    RowTable > .row-table--warning { color: $warning; }
    RowTable > .row-table--error { color: $error; text-style: bold; }
    RowTable > .row-table--accent { color: $accent; }
    RowTable > .row-table--bold { text-style: bold; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # No j/k: k is "kill the worker under the cursor" (htop's key), and a
        # table binding would win over the app's.
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "select_row", "Select", show=False),
    ]

    class RowHighlighted(Message):
        """The cursor moved to the row with ``key``."""

        def __init__(self, table: RowTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RowTable:
            return self.table

    class RowSelected(Message):
        """Enter was pressed on the row with ``key``."""

        def __init__(self, table: RowTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RowTable:
            return self.table

    def __init__(self, columns: Sequence[Column], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.columns = tuple(columns)
        self._rows: list[Row] = []
        self._index: dict[str, int] = {}
        self._strips: dict[str, tuple[bool, Strip]] = {}
        self.cursor_row = 0
        self._line_width = sum(column.width + 1 for column in self.columns) + 1

    # -- data -------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def row_keys(self) -> list[str]:
        return [row.key for row in self._rows]

    def cursor_key(self) -> str | None:
        if 0 <= self.cursor_row < len(self._rows):
            return self._rows[self.cursor_row].key
        return None

    def row_text(self, key: str) -> str:
        """The row as shown, for tests and search."""
        row = self._rows[self._index[key]]
        return self._format(row.cells)

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Show ``rows``; repaint only what changed. The cursor stays on its key."""
        old_key = self.cursor_key()
        old_rows = self._rows
        self._rows = list(rows)
        self._index = {row.key: index for index, row in enumerate(self._rows)}
        for key in [key for key in self._strips if key not in self._index]:
            del self._strips[key]
        if len(old_rows) != len(self._rows):
            self.virtual_size = Size(self._line_width, len(self._rows) + 1)
        if old_key is not None and old_key in self._index:
            self.cursor_row = self._index[old_key]
        self.cursor_row = max(0, min(self.cursor_row, len(self._rows) - 1))
        for index, row in enumerate(self._rows):
            previous = old_rows[index] if index < len(old_rows) else None
            if previous != row:
                self._strips.pop(row.key, None)
                self._refresh_row(index)
        for index in range(len(self._rows), len(old_rows)):
            self._refresh_row(index)
        if self.cursor_key() != old_key and self.cursor_key() is not None:
            self.post_message(self.RowHighlighted(self, self.cursor_key() or ""))

    def move_cursor_to(self, key: str) -> None:
        if key in self._index:
            self._move_cursor(self._index[key])

    # -- rendering ------------------------------------------------------------

    def _format(self, cells: Sequence[Cell]) -> str:
        parts = []
        for column, cell in zip(self.columns, cells, strict=False):
            text = escape_controls(cell.text)[: column.width]
            parts.append(text.rjust(column.width) if column.right else text.ljust(column.width))
        return " " + " ".join(parts)

    def _refresh_row(self, index: int) -> None:
        y = index + 1 - self.scroll_offset.y
        if 0 < y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"row-table--{name}")

    def _header_strip(self, width: int) -> Strip:
        style = self.rich_style + self._style("header")
        # One segment per cell: terminals do not care, but SVG screenshots
        # place each segment by its cell offset, which keeps columns aligned.
        segments = [Segment(" ", style)]
        for position, column in enumerate(self.columns):
            title = column.title[: column.width]
            title = title.rjust(column.width) if column.right else title.ljust(column.width)
            segments.append(Segment(title, style))
            if position < len(self.columns) - 1:
                segments.append(Segment(" ", style))
        used = sum(segment.cell_length for segment in segments)
        if used < width:
            segments.append(Segment(" " * (width - used), style))
        return Strip(segments).crop(0, width)

    def _row_strip(self, index: int, width: int) -> Strip:
        row = self._rows[index]
        is_cursor = index == self.cursor_row
        cached = self._strips.get(row.key)
        if cached is not None and cached[0] == is_cursor and cached[1].cell_length == width:
            return cached[1]
        base = self.rich_style
        if is_cursor:
            base = base + self._style("cursor" if self.has_focus else "cursor-blurred")
        segments = [Segment(" ", base)]
        for position, (column, cell) in enumerate(zip(self.columns, row.cells, strict=False)):
            text = escape_controls(cell.text)[: column.width]
            text = text.rjust(column.width) if column.right else text.ljust(column.width)
            style = base
            if cell.style and not is_cursor:
                style = base + self._style(cell.style)
            segments.append(Segment(text, style))
            if position < len(self.columns) - 1:
                segments.append(Segment(" ", base))
        used = sum(segment.cell_length for segment in segments)
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        strip = Strip(segments).crop(0, width)
        self._strips[row.key] = (is_cursor, strip)
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._header_strip(width)
        index = y - 1 + self.scroll_offset.y
        if 0 <= index < len(self._rows):
            return self._row_strip(index, width)
        return Strip([Segment(" " * width, self.rich_style)])

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()

    def on_focus(self) -> None:
        self._refresh_row(self.cursor_row)
        self._strips.pop(self.cursor_key() or "", None)

    def on_blur(self) -> None:
        self._strips.pop(self.cursor_key() or "", None)
        self._refresh_row(self.cursor_row)

    # -- cursor ---------------------------------------------------------------

    def _move_cursor(self, index: int) -> None:
        if not self._rows:
            return
        index = max(0, min(index, len(self._rows) - 1))
        if index == self.cursor_row:
            return
        previous = self.cursor_row
        self.cursor_row = index
        for row_index in (previous, index):
            if 0 <= row_index < len(self._rows):
                self._strips.pop(self._rows[row_index].key, None)
                self._refresh_row(row_index)
        visible = max(1, self.size.height - 1)
        if index < self.scroll_offset.y:
            self.scroll_to(y=index, animate=False)
        elif index >= self.scroll_offset.y + visible:
            self.scroll_to(y=index - visible + 1, animate=False)
        self.post_message(self.RowHighlighted(self, self._rows[index].key))

    def on_click(self, event: events.Click) -> None:
        index = event.y - 1 + self.scroll_offset.y
        if event.y >= 1 and 0 <= index < len(self._rows):
            self._move_cursor(index)

    def action_cursor_up(self) -> None:
        self._move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self._move_cursor(self.cursor_row - max(1, self.size.height - 2))

    def action_page_down(self) -> None:
        self._move_cursor(self.cursor_row + max(1, self.size.height - 2))

    def action_first(self) -> None:
        self._move_cursor(0)

    def action_last(self) -> None:
        self._move_cursor(len(self._rows) - 1)

    def action_select_row(self) -> None:
        key = self.cursor_key()
        if key is not None:
            self.post_message(self.RowSelected(self, key))
