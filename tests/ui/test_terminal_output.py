"""Dropping style codes that change nothing: the terminal shows the same cells.

The terminal is modelled as a grid of (character, style in force) cells:
``ESC[0m`` restores the defaults and any other SGR adds its parameters, as
a terminal applies them. Rich's own rendering of random segments (with
cursor moves and line breaks between them, as Textual writes updates) must
give the same grid before and after compression, and fewer bytes whenever
two neighbours share a style.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from rich.color import ColorSystem
from rich.style import Style

from gunicorn_tui.ui.terminal_output import compress_sgr

_TOKEN = re.compile(r"\x1b\[([0-9;]*)m|\x1b\[(\d+);(\d+)H|(\n)|(.)", re.DOTALL)

STYLES = [
    Style(),
    Style(bold=True),
    Style(color="color(195)", bgcolor="color(32)", bold=True),
    Style(bgcolor="color(23)"),
    Style(color="color(71)", bgcolor="color(234)"),
    Style(color="#ff8800", italic=True),
]


def screen(data: str) -> dict[tuple[int, int], tuple[str, tuple[str, ...]]]:
    """The cells ``data`` paints: position to (character, SGR in force)."""
    cells: dict[tuple[int, int], tuple[str, tuple[str, ...]]] = {}
    row = col = 0
    state: tuple[str, ...] = ()
    for match in _TOKEN.finditer(data):
        sgr, move_row, move_col, newline, char = match.groups()
        if sgr is not None:
            state = () if sgr in ("", "0") else (*state, sgr)
        elif move_row is not None:
            row, col = int(move_row) - 1, int(move_col) - 1
        elif newline is not None:
            row, col = row + 1, 0
        else:
            cells[(row, col)] = (char, state)
            col += 1
    return cells


def render(pieces: list[tuple[str, int, str]]) -> str:
    """Segments as Rich writes them: each styled one closed by a reset."""
    out = []
    for kind, style_index, text in pieces:
        if kind == "move":
            out.append(f"\x1b[{style_index + 1};{len(text) + 1}H")
        elif kind == "newline":
            out.append("\n")
        else:
            out.append(STYLES[style_index].render(text, color_system=ColorSystem.EIGHT_BIT))
    return "".join(out)


pieces_strategy = st.lists(
    st.tuples(
        st.sampled_from(["segment", "segment", "segment", "move", "newline"]),
        st.integers(min_value=0, max_value=len(STYLES) - 1),
        st.text(alphabet="ab 1.%", min_size=1, max_size=6),
    ),
    max_size=40,
)


@given(pieces_strategy)
def test_the_screen_is_the_same_cell_for_cell(pieces: list[tuple[str, int, str]]) -> None:
    data = render(pieces)
    compressed = compress_sgr(data)
    assert screen(compressed) == screen(data)
    assert len(compressed) <= len(data)


def test_a_row_of_cells_in_one_style_is_styled_once() -> None:
    style = STYLES[2]
    row = "".join(
        style.render(cell, color_system=ColorSystem.EIGHT_BIT) for cell in ["  1", " ", "x"]
    )
    # After a reset the style in force is known; before it, it is not.
    once = style.render("  1 x", color_system=ColorSystem.EIGHT_BIT)
    assert compress_sgr("\x1b[0m" + row) == "\x1b[0m" + once
    # Different neighbours keep their codes.
    mixed = STYLES[2].render("a") + STYLES[3].render("b")
    assert compress_sgr(mixed) == mixed


def test_a_style_added_onto_an_unknown_one_is_never_dropped() -> None:
    # Without a reset first, the style in force is not known exactly.
    data = "\x1b[1mA\x1b[0m\x1b[1mB\x1b[0m"
    assert compress_sgr(data) == data
    assert compress_sgr("\x1b[0m\x1b[1mA\x1b[0m\x1b[1mB\x1b[0m") == "\x1b[0m\x1b[1mAB\x1b[0m"
