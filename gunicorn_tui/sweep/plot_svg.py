"""A sweep's plot as a standalone SVG: one bar panel per figure
(throughput, p99 latency, CPU per request, memory), one bar per config, the
winner's bars marked. Plain SVG text, no plotting library: it pastes into a
review and opens in any browser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# html.escape escapes what XML needs (& < > and quotes); xml.sax.saxutils
# would load urllib and OpenSSL with it (~50 ms on the dashboard's start).
from html import escape as xml_escape

from gunicorn_tui.output.escape import escape_controls
from gunicorn_tui.sweep.runner import ConfigResult, SweepResult


def _text(value: str) -> str:
    # XML 1.0 has no control characters: escaped first, then XML-escaped.
    return xml_escape(escape_controls(value))


_MIB = 1024 * 1024
_PANEL_WIDTH_PX = 720
_LABEL_WIDTH_PX = 150
_BAR_HEIGHT_PX = 18
_BAR_GAP_PX = 6
_PANEL_GAP_PX = 24
_TITLE_HEIGHT_PX = 40
_VALUE_ROOM_PX = 90
WINNER_FILL = "#e8a33d"
_OTHER_FILL = "#5b8dd6"
_FONT = "font-family:monospace;font-size:12px"
_BOLD = f"{_FONT};font-weight:bold"


@dataclass(frozen=True)
class _Panel:
    title: str
    unit: str
    digits: int
    value_of: Callable[[ConfigResult], float | None]
    better: str  # "higher" or "lower", said in the panel's title


def _cpu(result: ConfigResult) -> float | None:
    return result.summary.cpu_ms_per_request if result.summary is not None else None


def _memory(result: ConfigResult) -> float | None:
    if result.summary is None or result.summary.memory_bytes is None:
        return None
    return result.summary.memory_bytes / _MIB


_PANELS = (
    _Panel("throughput", "req/s", 1, lambda r: r.throughput_rps, "higher"),
    _Panel("p99 latency", "ms", 1, lambda r: r.latency_p99_ms, "lower"),
    _Panel("CPU per request", "ms", 2, _cpu, "lower"),
    _Panel("memory", "MiB", 1, _memory, "lower"),
)


def _panel(sweep: SweepResult, panel: _Panel, top_px: int) -> tuple[list[str], int]:
    """SVG elements of one panel starting at ``top_px``, and its height."""
    values = [panel.value_of(result) for result in sweep.results]
    largest = max((v for v in values if v is not None), default=0.0)
    bar_room = _PANEL_WIDTH_PX - _LABEL_WIDTH_PX - _VALUE_ROOM_PX
    title = f"{panel.title} ({panel.unit}, {panel.better} is better)"
    parts = [f'<text x="10" y="{top_px + 14}" style="{_BOLD}">{_text(title)}</text>']
    y = top_px + 22
    for index, (result, value) in enumerate(zip(sweep.results, values, strict=True)):
        label = _text(result.config.label)
        parts.append(f'<text x="10" y="{y + 13}" style="{_FONT}">{label}</text>')
        if value is None:
            shown = _text(result.status.value if result.summary is None else "n/a")
            parts.append(
                f'<text x="{_LABEL_WIDTH_PX}" y="{y + 13}" style="{_FONT};fill:#888">{shown}</text>'
            )
        else:
            width = round(value / largest * bar_room) if largest > 0 else 0
            fill = WINNER_FILL if index == sweep.winner else _OTHER_FILL
            parts.append(
                f'<rect x="{_LABEL_WIDTH_PX}" y="{y}" width="{max(width, 1)}" '
                f'height="{_BAR_HEIGHT_PX}" fill="{fill}"/>'
            )
            parts.append(
                f'<text x="{_LABEL_WIDTH_PX + width + 6}" y="{y + 13}" style="{_FONT}">'
                f"{value:,.{panel.digits}f}</text>"
            )
        y += _BAR_HEIGHT_PX + _BAR_GAP_PX
    return parts, y - top_px


def sweep_svg(sweep: SweepResult, *, title: str = "gtui sweep", verdict: str = "") -> str:
    """The plot of ``sweep``: four panels, winner in orange; ``verdict`` (the
    report's winner line) under the title."""
    body: list[str] = [
        f'<text x="10" y="18" style="{_BOLD};font-size:14px">{_text(title)}</text>',
        f'<text x="10" y="34" style="{_FONT}">{_text(verdict)}</text>',
    ]
    top = _TITLE_HEIGHT_PX
    for panel in _PANELS:
        parts, height = _panel(sweep, panel, top)
        body += parts
        top += height + _PANEL_GAP_PX
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_PANEL_WIDTH_PX}" height="{top}" '
        f'viewBox="0 0 {_PANEL_WIDTH_PX} {top}">\n'
        f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )
