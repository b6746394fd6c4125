"""Text from outside made safe to show: control characters as escapes.

Request paths (``%(U)s`` is percent-decoded), process titles, container
names, log lines, error strings and Docker's messages come from the servers
gtui watches, and any of them can carry terminal control sequences: ``ESC ]
52`` writes the operator's clipboard, ``ESC ] 0`` the window title, ``CSI``
sequences move the cursor and repaint what the operator thinks they see.
Every face of gtui (the dashboard, text tables, Markdown exports) shows such
text through :func:`escape_controls`, as ``ps`` does: the characters are
shown, never sent. JSON is not escaped here: its encoder writes control
characters as ``\\u001b``, so it stays valid and holds the text as it was.

Escaped: C0 and C1 controls and DEL (``\\x1b``, ``\\x9b``; tab, newline and
carriage return as ``\\t``, ``\\n``, ``\\r``), format characters (the
bidirectional overrides that reorder what is shown, zero-width characters),
line and paragraph separators, and lone surrogates (bytes that were not
UTF-8, shown as ``\\xNN``).
"""

from __future__ import annotations

import unicodedata
from typing import Final

_ESCAPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAMED: Final = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
# Bytes decoded with errors="surrogateescape" come back as U+DC80..U+DCFF.
_SURROGATE_ESCAPE_FIRST: Final = 0xDC80
_SURROGATE_ESCAPE_LAST: Final = 0xDCFF


def _escape(code: int) -> str:
    named = _NAMED.get(code)
    if named is not None:
        return named
    if _SURROGATE_ESCAPE_FIRST <= code <= _SURROGATE_ESCAPE_LAST:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


class _Escapes(dict[str, str]):
    """How each character that is not printable is shown, worked out once
    for the escaped ones (a few thousand at most); the others (spaces other
    than " ", private-use and unassigned code points) are shown as they are,
    and not kept, so hostile text cannot grow the table."""

    def __missing__(self, character: str) -> str:
        if unicodedata.category(character) not in _ESCAPED_CATEGORIES:
            return character
        escaped = _escape(ord(character))
        self[character] = escaped
        return escaped


_TABLE: Final = _Escapes()
_TABLE_KEEPING_NEWLINES: Final = _Escapes({"\n": "\n"})


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control and format character written as an
    escape (``"\\x1b]52;c;..."``); ``keep_newlines`` leaves line breaks, for
    text shown on several lines (an error's output)."""
    if text.isprintable():  # the common case, in C: nothing to escape
        return text
    table = _TABLE_KEEPING_NEWLINES if keep_newlines else _TABLE
    return "".join(c if c.isprintable() else table[c] for c in text)
