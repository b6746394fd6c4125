"""Human-readable figures, shared by the dashboard and the command line.

Every formatter takes None and answers "n/a": an unavailable figure is
shown as such, never as zero.
"""

from __future__ import annotations

NOT_AVAILABLE = "n/a"


def format_bytes(value: int | None) -> str:
    """1.5G, 230M, 12K (binary units)."""
    if value is None:
        return NOT_AVAILABLE
    size = float(value)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(size) < 1024 or unit == "T":
            if unit == "B":
                return f"{int(size)}B"
            return f"{size:.1f}{unit}" if size < 100 else f"{size:.0f}{unit}"
        size /= 1024
    return f"{size:.0f}T"


def format_percent(value: float | None) -> str:
    if value is None:
        return NOT_AVAILABLE
    return f"{value:.1f}" if value < 1000 else f"{value:.0f}"


def format_duration(seconds: float | None) -> str:
    """3s, 4m05s, 2h03m, 5d02h."""
    if seconds is None:
        return NOT_AVAILABLE
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_heartbeat(seconds: float | None) -> str:
    """0.4s, 12s: heartbeats are read to a tenth below ten seconds."""
    if seconds is None:
        return NOT_AVAILABLE
    return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
