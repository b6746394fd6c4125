"""Fewer bytes to the terminal: drop style codes that change nothing.

Rich renders every segment as ``ESC[<style>m text ESC[0m``, so a line made
of many cells of one style (a table row) resets and sets the same style
again at every cell: about half of what the dashboard wrote at 80x24 was
that (6.4 KB/s, of which 3.2 KB/s were a reset followed by the very style
in force before it; benchmarks/dashboard_cost.py). Over SSH on a slow link
those bytes are the refresh.

:func:`compress_sgr` removes exactly those pairs from what the driver
writes; the screen that results is the same cell for cell (checked with a
terminal emulator in tests/ui/test_terminal_output.py). Widgets keep one
segment per cell, which SVG screenshots rely on to place each cell.
"""

from __future__ import annotations

import re

from textual.driver import Driver

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_RESET = "\x1b[0m"


def compress_sgr(data: str) -> str:
    """``data`` without each reset that is directly followed by the style
    that was in force before it (nor that style). Only a style known
    exactly (set right after a reset) is ever dropped."""
    if "\x1b[0m\x1b[" not in data:
        return data
    out: list[str] = []
    last = 0
    # The style parameters in force when known exactly ("" after a reset),
    # else None: at the start, and after a style added onto another.
    state: str | None = None
    held_end = -1  # just past a reset not written yet
    held_state: str | None = None
    for match in _SGR.finditer(data):
        start, end = match.span()
        params = match.group(1)
        if held_end >= 0:
            if start == held_end and held_state and params == held_state:
                last, held_end, state = end, -1, held_state
                continue
            out.append(_RESET)
            held_end = -1
        out.append(data[last:start])
        last = end
        if params in ("0", ""):
            held_end, held_state, state = end, state, ""
            continue
        out.append(match.group(0))
        state = params if state == "" else None
    if held_end >= 0:
        out.append(_RESET)
    out.append(data[last:])
    return "".join(out)


def compressing_driver(base: type[Driver]) -> type[Driver]:
    """``base`` with :func:`compress_sgr` applied to everything it writes."""

    class CompressingDriver(base):  # type: ignore[valid-type,misc]
        def write(self, data: str) -> None:
            super().write(compress_sgr(data))

    CompressingDriver.__name__ = f"Compressing{base.__name__}"
    return CompressingDriver


__all__ = ["compress_sgr", "compressing_driver"]
