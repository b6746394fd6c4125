"""Plain-text tables for the command line (no colours: pipes and logs too)."""

from __future__ import annotations

from collections.abc import Sequence

from gunicorn_tui.output.escape import escape_controls


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> str:
    """Left-aligned columns separated by two spaces; cells hold outside text
    (names, titles), shown with control characters escaped."""
    rows = [[escape_controls(cell) for cell in row] for row in rows]
    widths = [len(title) for title in header]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = []
    for row in (header, *rows):
        cells = [cell.ljust(widths[index]) for index, cell in enumerate(row)]
        lines.append(indent + "  ".join(cells).rstrip())
    return "\n".join(lines)
