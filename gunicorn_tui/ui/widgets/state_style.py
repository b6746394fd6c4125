"""How worker states and unavailable figures look (theme variables only)."""

from __future__ import annotations

from textual.content import Content

from gunicorn_tui.model.instances import WorkerState
from gunicorn_tui.output.units import NOT_AVAILABLE

_STATE_STYLE = {
    WorkerState.IDLE: "$success",
    WorkerState.BUSY: "$warning",
    WorkerState.STUCK: "bold $error",
    WorkerState.BOOTING: "$accent",
    WorkerState.UNKNOWN: "dim",
}


def state_content(state: WorkerState) -> Content:
    return Content.styled(state.value, _STATE_STYLE[state])


def figure_content(text: str) -> Content:
    """A figure, dimmed when it is 'n/a'."""
    if text == NOT_AVAILABLE:
        # Theme "muted" variables resolve against the table's background
        # badly inside cells; plain dim reads right on every theme.
        return Content.styled(text, "dim")
    return Content(text)
