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
    if abs(size) < 1024:
        return f"{int(size)}B"
    # Choose the form by the rounded figure, so 99.96K is "100K", not "100.0K",
    # and 1023.99K is "1.0M", not "1024K".
    for unit in ("K", "M", "G", "T"):
        size /= 1024
        if round(abs(size), 1) < 100:
            return f"{size:.1f}{unit}"
        if round(abs(size)) < 1024 or unit == "T":
            return f"{size:.0f}{unit}"
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
        # Truncated like the longer forms: 59.6 s is "59s", never "60s".
        return f"{int(seconds)}s"
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
    return f"{seconds:.1f}s" if round(seconds, 1) < 10 else f"{seconds:.0f}s"
