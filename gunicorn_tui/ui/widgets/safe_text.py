"""Outside text on the dashboard: never parsed as markup, never sent raw.

Container names, process titles, request paths, log lines and error strings
reach the screen through these, which apply the core's
:func:`~gunicorn_tui.output.escape.escape_controls` to whatever a widget is
given (spans kept: a styled name stays styled, its ESC shows as ``\\x1b``)
and turn plain strings into text, not markup (``[red]`` shows as typed).
Line breaks are kept: the dashboard's own multi-line texts use them.
"""

from __future__ import annotations

from typing import Any

from textual.content import Content, Span
from textual.visual import VisualType
from textual.widgets import Label, Static

from gunicorn_tui.output.escape import escape_controls


def _clean(text: str) -> bool:
    return text.isprintable() or text.replace("\n", "").isprintable()


def safe_content(visual: Content | str) -> Content:
    """``visual`` as Content with every control character escaped; a string
    is taken as plain text (no markup)."""
    if isinstance(visual, str):
        return Content(escape_controls(visual, keep_newlines=True))
    plain = visual.plain
    if _clean(plain):
        return visual
    # Escape character by character and move each span with its text.
    pieces: list[str] = []
    positions: list[int] = []
    length = 0
    for character in plain:
        positions.append(length)
        piece = escape_controls(character, keep_newlines=True)
        pieces.append(piece)
        length += len(piece)
    positions.append(length)
    spans = [
        Span(positions[span.start], positions[span.end], span.style)
        for span in visual.spans
        if 0 <= span.start <= span.end <= len(plain)
    ]
    return Content("".join(pieces), spans)


def safe_visual(visual: VisualType) -> VisualType:
    """What a widget may show: Content and strings made safe, anything else
    (a Rich renderable of ours) as it is."""
    if isinstance(visual, Content | str):
        return safe_content(visual)
    return visual


class SafeStatic(Static):
    """A Static that shows what it is given as text: no markup, controls escaped."""

    def __init__(self, content: VisualType = "", **kwargs: Any) -> None:
        kwargs["markup"] = False
        super().__init__(safe_visual(content), **kwargs)

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        super().update(safe_visual(content), layout=layout)


class SafeLabel(Label):
    """A Label that shows what it is given as text: no markup, controls escaped."""

    def __init__(self, content: VisualType = "", **kwargs: Any) -> None:
        kwargs["markup"] = False
        super().__init__(safe_visual(content), **kwargs)

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        super().update(safe_visual(content), layout=layout)
