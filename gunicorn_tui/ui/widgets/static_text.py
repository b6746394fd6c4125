"""Repaint fixed-size text widgets only when their text changed.

A Static's ``update`` re-runs layout by default; the dashboard's text lines
have fixed sizes, so a changed line needs a repaint, an unchanged one nothing.
What is shown is made safe first (:mod:`gunicorn_tui.ui.widgets.safe_text`):
these lines carry names, paths and messages from the servers.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from textual.content import Content
from textual.widgets import Static

from gunicorn_tui.ui.widgets.safe_text import safe_content

_shown: WeakKeyDictionary[Static, Content] = WeakKeyDictionary()


def show_text(widget: Static, content: Content, layout: bool = False) -> None:
    """Set ``widget``'s content if it differs from what it shows
    (``layout`` for widgets whose height follows their text)."""
    if _shown.get(widget) == content:
        return
    _shown[widget] = content
    widget.update(safe_content(content), layout=layout)
