"""The one escaping function every face uses, the text table and the CLI's
escaping streams."""

from __future__ import annotations

import io
import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gunicorn_tui.cli.safe_output import EscapingStream
from gunicorn_tui.output.escape import escape_controls
from gunicorn_tui.output.text_table import render_table


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("/items/42", "/items/42"),
        ("/p\x1b]52;c;Z3R1aQ==\x07", "/p\\x1b]52;c;Z3R1aQ==\\x07"),
        ("\x1b[2J\x1b[6n", "\\x1b[2J\\x1b[6n"),
        ("a\tb\nc\rd", "a\\tb\\nc\\rd"),
        ("\x00\x7f\x9b", "\\x00\\x7f\\x9b"),  # NUL, DEL, 8-bit CSI
        ("user\u202egnp.exe", "user\\u202egnp.exe"),  # bidi override
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("line\u2028sep", "line\\u2028sep"),
        ("tag\U000e0041", "tag\\U000e0041"),
        (b"caf\xe9".decode("utf-8", "surrogateescape"), "caf\\xe9"),  # not UTF-8
        ("café 日本 [bold]x[/] \u00a0", "café 日本 [bold]x[/] \u00a0"),  # printable stays
    ],
)
def test_controls_are_shown_as_escapes(text: str, shown: str) -> None:
    assert escape_controls(text) == shown


def test_line_breaks_can_be_kept_for_multi_line_text() -> None:
    assert escape_controls("one\ntwo\x1b", keep_newlines=True) == "one\ntwo\\x1b"
    assert escape_controls("one\ntwo", keep_newlines=False) == "one\\ntwo"


_UNSHOWN = {"Cc", "Cf", "Cs", "Zl", "Zp"}


@given(st.text())
def test_nothing_unshown_is_left_and_printable_text_is_kept(text: str) -> None:
    escaped = escape_controls(text)
    assert not any(unicodedata.category(c) in _UNSHOWN for c in escaped)
    if text.isprintable():
        assert escaped == text
    # Escaping again changes nothing: the result is plain text.
    assert escape_controls(escaped) == escaped


def test_a_text_table_escapes_cells_before_aligning_them() -> None:
    table = render_table(("NAME", "X"), [("web\x1b]0;t\x07", "1"), ("api", "2")])
    lines = table.splitlines()
    assert lines[1] == "web\\x1b]0;t\\x07  1"
    assert lines[2].rindex("2") == lines[1].rindex("1")


def test_the_cli_streams_escape_but_leave_json_alone() -> None:
    sink = io.StringIO()
    stream = EscapingStream(sink)
    stream.write("name: web\x1b]52;c;x\x07\n")
    document = json.dumps({"name": "web\x1b]52;c;x\x07\u202e"})
    stream.write(document + "\n")
    first, second = sink.getvalue().splitlines()
    assert first == "name: web\\x1b]52;c;x\\x07"
    assert second == document and json.loads(second)["name"] == "web\x1b]52;c;x\x07\u202e"
